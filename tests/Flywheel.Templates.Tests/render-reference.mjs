// Reference renderer for the chat-template cross-check (ChatTemplateCrossCheckTests).
// Loads a tokenizer with @huggingface/transformers from a local model folder (no network) and prints
// tokenizer.apply_chat_template(...) for every case of a JSON list, as one JSON array of strings.
//
// usage: node render-reference.mjs <node_modules dir> <model dir holding tokenizer_config.json> <cases.json>
// cases.json: [{ "messages": [{ "role": ..., "content": ... }, ...], "add_generation_prompt": bool,
//               "kwargs": { extra template variables, e.g. "enable_thinking": false } }, ...]
// A case whose rendering throws yields { "error": message } in its slot.
import { readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, modelDir, casesPath] = process.argv.slice(2);
// The package's bundled node build imports the image library `sharp`, whose native part the test-asset
// install leaves out, so import the tokenizer modules from the package's shipped sources instead.
const src = (p) => pathToFileURL(join(nodeModules, '@huggingface/transformers/src', p)).href;
const { AutoTokenizer } = await import(src('models/auto/tokenization_auto.js'));
const { env } = await import(src('env.js'));

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = dirname(modelDir) + '/';
const tokenizer = await AutoTokenizer.from_pretrained(basename(modelDir));

const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const out = cases.map((c) => {
  try {
    return tokenizer.apply_chat_template(c.messages, {
      tokenize: false,
      add_generation_prompt: c.add_generation_prompt,
      ...(c.kwargs ?? {}),
    });
  } catch (e) {
    return { error: String(e?.message ?? e) };
  }
});
process.stdout.write(JSON.stringify(out));
