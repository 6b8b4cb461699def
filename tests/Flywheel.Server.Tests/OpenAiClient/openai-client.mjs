// Drives a running Flywheel server with the official OpenAI client for node (npm package `openai`),
// as an independent check of the wire format (OpenAiClientTests). Prints one JSON object with what the
// client parsed out of each call; the test compares it with what the engine itself produces.
//
// usage: node openai-client.mjs <node_modules dir> <base url, e.g. http://127.0.0.1:1234/v1> <cases.json>
// cases.json: { "model": id, "chat": "user message", "prompt": "completion prompt", "max_tokens": n,
//               "stop": a stop string for the completion prompt }
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, baseURL, casesPath] = process.argv.slice(2);
const { default: OpenAI } = await import(pathToFileURL(join(nodeModules, 'openai', 'index.mjs')).href);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const { model, max_tokens } = cases;

// No retries: a 429 or 5xx must show up as what the server said, not be papered over.
const client = new OpenAI({ baseURL, apiKey: 'none', maxRetries: 0, timeout: 60_000 });
const messages = [{ role: 'user', content: cases.chat }];

// Reads a stream to its end: the concatenated text, every finish_reason seen, the usage chunk.
async function drain(stream, textOf) {
  const out = { text: '', finish_reasons: [], usage: null, chunk_count: 0, ids: [], usage_chunk_choices: null };
  for await (const chunk of stream) {
    out.chunk_count++;
    if (!out.ids.includes(chunk.id)) out.ids.push(chunk.id);
    for (const choice of chunk.choices) {
      out.text += textOf(choice) ?? '';
      if (choice.finish_reason) out.finish_reasons.push(choice.finish_reason);
    }
    if (chunk.usage) {
      out.usage = chunk.usage;
      out.usage_chunk_choices = chunk.choices.length;
    }
  }
  return out;
}

// A refusal as the client surfaces it: its error class, HTTP status and the server's error object.
async function refusal(call) {
  try {
    await call();
    return { raised: false };
  } catch (e) {
    return {
      raised: true, class: e.constructor.name, is_api_error: e instanceof OpenAI.APIError,
      status: e.status ?? null, message: e.message, error: e.error ?? null,
      param: e.param ?? null, code: e.code ?? null, type: e.type ?? null,
    };
  }
}

const result = {};

const chat = await client.chat.completions.create({ model, messages, max_tokens, temperature: 0 });
result.chat = {
  id: chat.id, object: chat.object, model: chat.model, role: chat.choices[0].message.role,
  text: chat.choices[0].message.content, finish_reason: chat.choices[0].finish_reason, usage: chat.usage,
  choice_count: chat.choices.length,
};

const chatStream = await client.chat.completions.create({
  model, messages, max_tokens, temperature: 0, stream: true, stream_options: { include_usage: true },
});
result.chat_stream = await drain(chatStream, (c) => c.delta?.content);

const completion = await client.completions.create({ model, prompt: cases.prompt, max_tokens, temperature: 0 });
result.completion = {
  id: completion.id, object: completion.object, model: completion.model,
  text: completion.choices[0].text, finish_reason: completion.choices[0].finish_reason, usage: completion.usage,
};

const completionStream = await client.completions.create({
  model, prompt: cases.prompt, max_tokens, temperature: 0, stream: true, stream_options: { include_usage: true },
});
result.completion_stream = await drain(completionStream, (c) => c.text);

const stopped = { model, prompt: cases.prompt, max_tokens, temperature: 0, stop: [cases.stop] };
const completionStop = await client.completions.create(stopped);
result.completion_stop = { text: completionStop.choices[0].text, finish_reason: completionStop.choices[0].finish_reason };
result.completion_stop_stream = await drain(await client.completions.create({ ...stopped, stream: true }), (c) => c.text);

const models = [];
for await (const card of client.models.list()) models.push(card);
result.models = models;
result.model = await client.models.retrieve(model);

result.bad_parameter = await refusal(() => client.chat.completions.create({ model, messages, temperature: 9 }));
result.unknown_parameter = await refusal(() => client.completions.create({ model, prompt: 'x', max_tokns: 3 }));
result.unknown_model = await refusal(() => client.models.retrieve('no-such-model'));

console.log(JSON.stringify(result));
