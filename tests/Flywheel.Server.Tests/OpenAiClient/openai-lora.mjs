// Drives a Flywheel server that serves a LoRA adapter over its base with the official OpenAI client for node
// (npm `openai`): the adapter is listed by models.list with its parent, and chat.completions (whole and
// streamed) runs with model = the adapter's name; an unknown name is the client's NotFoundError
// (LoraClientTests). Prints one JSON object.
//
// usage: node openai-lora.mjs <node_modules dir> <server url, e.g. http://127.0.0.1:1234> <adapter name>
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, serverUrl, adapter] = process.argv.slice(2);
const { default: OpenAI } = await import(pathToFileURL(join(nodeModules, 'openai', 'index.mjs')).href);
const client = new OpenAI({ baseURL: `${serverUrl}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
const messages = [{ role: 'user', content: 'hello adapter' }];

const result = { models: [] };
for await (const card of client.models.list()) result.models.push({ id: card.id, parent: card.parent ?? null });
const chat = await client.chat.completions.create({ model: adapter, messages, max_tokens: 4, temperature: 0 });
result.chat = { model: chat.model, finish_reason: chat.choices[0].finish_reason, completion_tokens: chat.usage.completion_tokens };
result.stream_models = [];
for await (const chunk of await client.chat.completions.create({ model: adapter, messages, max_tokens: 4, stream: true })) {
  result.stream_models.push(chunk.model);
}
try {
  await client.chat.completions.create({ model: `${adapter}-missing`, messages, max_tokens: 4 });
  result.unknown = { raised: false };
} catch (e) {
  result.unknown = { raised: true, class: e.constructor.name, status: e.status ?? null, code: e.code ?? null };
}
console.log(JSON.stringify(result));
