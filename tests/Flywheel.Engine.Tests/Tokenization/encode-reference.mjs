// Reference tokenizer for the cross-check (TokenizerCrossCheckTests): loads a tokenizer with
// @huggingface/transformers from a local folder (no network) and prints the ids of every text of a
// JSON list, once without and once with special tokens, and the text its decode gives back for the ids
// without special tokens (no clean-up of spaces: the engine streams text as the model writes it), as one
// JSON object.
//
// usage: node encode-reference.mjs <node_modules dir> <folder holding tokenizer.json> <texts.json>
import { readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, modelDir, textsPath] = process.argv.slice(2);
// The bundled node build imports `sharp`, which the test-asset install leaves out: use the shipped sources.
const src = (p) => pathToFileURL(join(nodeModules, '@huggingface/transformers/src', p)).href;
const { AutoTokenizer } = await import(src('models/auto/tokenization_auto.js'));
const { env } = await import(src('env.js'));
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = dirname(modelDir) + '/';
const tokenizer = await AutoTokenizer.from_pretrained(basename(modelDir));
const texts = JSON.parse(readFileSync(textsPath, 'utf8'));
const plain = texts.map((t) => Array.from(tokenizer.encode(t, { add_special_tokens: false })));
const special = texts.map((t) => Array.from(tokenizer.encode(t, { add_special_tokens: true })));
const decoded = plain.map((ids) => ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
process.stdout.write(JSON.stringify({ plain, special, decoded }));
