// Drives a Flywheel server started with an API key using the official OpenAI client for node (npm
// `openai`): the right key is passed through as `Authorization: Bearer`, a wrong one surfaces as the
// client's AuthenticationError, and plain fetch shows what a request without any key, the health probe
// and /metrics get (ApiKeyClientTests). Prints one JSON object.
//
// usage: node openai-api-key.mjs <node_modules dir> <server url, e.g. http://127.0.0.1:1234> <model> <key>
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, serverUrl, model, key] = process.argv.slice(2);
const { default: OpenAI } = await import(pathToFileURL(join(nodeModules, 'openai', 'index.mjs')).href);
const baseURL = `${serverUrl}/v1`;
const messages = [{ role: 'user', content: 'hello' }];
const client = (apiKey) => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });

async function refusal(call) {
  try {
    await call();
    return { raised: false };
  } catch (e) {
    return {
      raised: true, class: e.constructor.name, status: e.status ?? null,
      code: e.code ?? null, type: e.type ?? null, message: e.message,
    };
  }
}

async function plain(path, headers = {}) {
  const response = await fetch(`${serverUrl}${path}`, { headers });
  return { status: response.status, body: await response.text() };
}

const result = {};
const chat = await client(key).chat.completions.create({ model, messages, max_tokens: 4, temperature: 0 });
result.right_key = { object: chat.object, finish_reason: chat.choices[0].finish_reason, usage: chat.usage };
const models = [];
for await (const card of client(key).models.list()) models.push(card.id);
result.right_key_models = models;
result.right_key_stream_chunks = 0;
for await (const _ of await client(key).chat.completions.create({ model, messages, max_tokens: 4, stream: true })) result.right_key_stream_chunks++;

result.wrong_key = await refusal(() => client(`${key}x`).chat.completions.create({ model, messages, max_tokens: 4 }));
result.wrong_key_models = await refusal(() => client('sk-wrong').models.list());
const none = await fetch(`${baseURL}/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, messages, max_tokens: 4 }),
});
result.no_key = { status: none.status, body: JSON.parse(await none.text()) };
result.health_live = await plain('/health/live');
result.health_ready = await plain('/health/ready');
result.metrics_no_key = await plain('/metrics');
result.metrics_with_key = await plain('/metrics', { authorization: `Bearer ${key}` });
console.log(JSON.stringify(result));
