// Drives a running Flywheel server's tool calling with the official OpenAI client for node (npm `openai`),
// as an independent check of the wire format (ToolCallClientTests): forced calls (required, named,
// parallel), auto, a conversation with a call and its result, streams assembled by the client's own
// helpers (chat.completions.stream(...).finalChatCompletion(), and the runTools loop, which runs the function
// on the parsed arguments), and refused tool definitions.
// Prints one JSON object with what the client parsed; the test checks it against the schemas.
//
// usage: node openai-tools.mjs <node_modules dir> <base url> <cases.json>
// cases.json: { "model": id, "max_tokens": n, "auto_max_tokens": n, "tools": [OpenAI tool, ...], "refused_parameters": a schema the grammar refuses }
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, baseURL, casesPath] = process.argv.slice(2);
const { default: OpenAI } = await import(pathToFileURL(join(nodeModules, 'openai', 'index.mjs')).href);
const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const { model, max_tokens, tools } = cases;
const client = new OpenAI({ baseURL, apiKey: 'none', maxRetries: 0, timeout: 120_000 });
const messages = [{ role: 'user', content: 'What is the weather in Paris, and what time is it there?' }];
const base = { model, messages, max_tokens, temperature: 0, tools };

// What the client made of a whole answer's first choice.
function answer(completion) {
  const choice = completion.choices[0];
  return {
    finish_reason: choice.finish_reason, content: choice.message.content ?? null,
    tool_calls: choice.message.tool_calls ?? null, has_tool_calls_key: 'tool_calls' in choice.message,
  };
}

async function refusal(call) {
  try {
    await call();
    return { raised: false };
  } catch (e) {
    return { raised: true, class: e.constructor.name, status: e.status ?? null, param: e.param ?? null, code: e.code ?? null, message: e.message };
  }
}

// A stream read two ways at once: the raw chunks' tool-call pieces, and the client's assembled answer.
async function streamed(params) {
  const stream = client.chat.completions.stream(params);
  const pieces = [];
  stream.on('chunk', (chunk) => {
    for (const choice of chunk.choices) {
      for (const piece of choice.delta?.tool_calls ?? []) pieces.push(piece);
    }
  });
  const final = await stream.finalChatCompletion();
  return { ...answer(final), pieces };
}

const result = {};
result.required = answer(await client.chat.completions.create({ ...base, tool_choice: 'required', parallel_tool_calls: false }));
result.parallel = answer(await client.chat.completions.create({ ...base, tool_choice: 'required', parallel_tool_calls: true }));
const named = { type: 'function', function: { name: tools[1].function.name } };
result.named = answer(await client.chat.completions.create({ ...base, tool_choice: named }));
// auto: the test steers the model into opening a call (a random-weight model never does by itself); the server
// must hold it to a valid call, whole and streamed.
result.auto = answer(await client.chat.completions.create({ ...base, max_tokens: cases.auto_max_tokens, tool_choice: 'auto' }));
result.auto_stream = await streamed({ ...base, max_tokens: cases.auto_max_tokens, tool_choice: 'auto' });
result.none = answer(await client.chat.completions.create({ ...base, tool_choice: 'none' }));
result.named_stream = await streamed({ ...base, tool_choice: named });
result.parallel_stream = await streamed({ ...base, tool_choice: 'required' });
// Every get_time call writes its "timezone" key, where this stop string cuts it: the client keeps the partial call.
result.named_stream_cut = await streamed({ ...base, tool_choice: named, stop: ['timezone'] });

// The client's own tool loop, streaming: it assembles the call from the pieces, parses the arguments, runs the
// function and sends its result back (a named choice: one call, then the loop stops).
const invoked = [];
const runner = client.chat.completions.runTools({
  model, messages, max_tokens, temperature: 0, stream: true, tool_choice: named,
  tools: [{
    type: 'function',
    function: {
      name: tools[1].function.name, description: tools[1].function.description, parameters: tools[1].function.parameters,
      parse: JSON.parse, function: (args) => { invoked.push(args); return { ok: true }; },
    },
  }],
});
await runner.done();
result.run_tools = {
  invoked,
  messages: runner.messages.map((m) => ({ role: m.role, tool_call_id: m.tool_call_id ?? null, content: m.content ?? null, tool_calls: m.tool_calls ?? null })),
};

// The conversation goes on after a call: the assistant's call (content null) and the tool's result.
const call = result.named.tool_calls[0];
const followUp = [
  ...messages,
  { role: 'assistant', content: null, tool_calls: [call] },
  { role: 'tool', tool_call_id: call.id, content: '{"temperature_c": 18, "sky": "clear"}' },
];
result.after_result = answer(await client.chat.completions.create({ ...base, messages: followUp, tool_choice: 'required', parallel_tool_calls: false }));

const badName = [tools[0], { type: 'function', function: { name: 'no spaces allowed', parameters: { type: 'object' } } }];
result.bad_name = await refusal(() => client.chat.completions.create({ ...base, tools: badName }));
result.unknown_choice = await refusal(() => client.chat.completions.create({ ...base, tool_choice: { type: 'function', function: { name: 'nowhere' } } }));
result.choice_without_tools = await refusal(() => client.chat.completions.create({ model, messages, max_tokens, tool_choice: 'required' }));
result.tool_without_id = await refusal(() => client.chat.completions.create({
  ...base, messages: [...messages, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', content: 'sunny' }],
}));
const refusedTool = { type: 'function', function: { name: 'refused', parameters: cases.refused_parameters } };
result.refused_schema = await refusal(() => client.chat.completions.create({ ...base, tools: [tools[0], refusedTool] }));

process.stdout.write(JSON.stringify(result));
