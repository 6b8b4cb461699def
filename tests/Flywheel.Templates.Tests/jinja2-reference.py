#!/usr/bin/env python3
"""Regenerates the expected renderings in JinjaCases.json with Python Jinja2, set up as transformers
sets it up for chat templates (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
the generation tag, and transformers' tojson / raise_exception / strftime_now).

Not run by the tests (they read the stored expectations); run it by hand after adding cases:
    python3 jinja2-reference.py JinjaCases.json            # check: prints cases whose expectation differs
    python3 jinja2-reference.py JinjaCases.json --update   # rewrite "expected" / "error" in place
Cases with "python": false keep their hand-written expectation (deliberate differences, documented in "why").
Each case renders with messages=[], add_generation_prompt=False, tools=None, documents=None, then "context".

Chat mode stores Python's rendering of every conversation of ChatTemplateConversations.json under
"python_expected"[name], for each named tokenizer_config.json (its chat_template and special tokens):
    python3 jinja2-reference.py --chat ChatTemplateConversations.json llama3=.../tokenizer_config.json qwen3=...
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation", []), [], [], body).set_lineno(lineno)

    def _generation(self, caller):
        return caller()


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def render(env, case):
    context = {"messages": [], "add_generation_prompt": False, "tools": None, "documents": None}
    context.update(case.get("context", {}))
    try:
        return {"expected": env.from_string(case["template"]).render(**context)}
    except Exception as e:  # noqa: BLE001 - any failure is an expected error
        return {"error": f"{type(e).__name__}: {e}"}


def token_text(value):
    return value.get("content") if isinstance(value, dict) else value


def chat_main(path, configs):
    with open(path, encoding="utf-8") as f:
        conversations = json.load(f)
    env = make_env()
    for spec in configs:
        name, config_path = spec.split("=", 1)
        with open(config_path, encoding="utf-8") as f:
            config = json.load(f)
        template = env.from_string(config["chat_template"])
        special = {k: token_text(config.get(k)) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
        special = {k: v for k, v in special.items() if v}
        for c in conversations:
            context = {"messages": c["messages"], "tools": None, "documents": None,
                       "add_generation_prompt": c["add_generation_prompt"], **special, **c.get("kwargs", {})}
            try:
                rendered = template.render(**context)
            except Exception as e:  # noqa: BLE001
                rendered = {"error": f"{type(e).__name__}: {e}"}
            c.setdefault("python_expected", {})[name] = rendered
    with open(path, "w", encoding="utf-8") as f:
        json.dump(conversations, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"jinja2 {jinja2.__version__}: rendered {len(conversations)} conversations with {len(configs)} templates")


def main():
    if sys.argv[1] == "--chat":
        chat_main(sys.argv[2], sys.argv[3:])
        return
    path = sys.argv[1]
    update = "--update" in sys.argv
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)
    env = make_env()
    differences = 0
    for case in cases:
        if case.get("python", True) is False:
            continue
        result = render(env, case)
        stored = {k: case[k] for k in ("expected", "error") if k in case}
        same = ("error" in result and "error" in stored) or result.get("expected") == stored.get("expected")
        if not same:
            differences += 1
            print(f"{case['name']}: stored {stored!r}, jinja2 {result!r}")
        if update:
            case.pop("expected", None)
            case.pop("error", None)
            case.update(result)
    if update:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cases, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(f"jinja2 {jinja2.__version__}: {len(cases)} cases, {differences} differ")


if __name__ == "__main__":
    main()
