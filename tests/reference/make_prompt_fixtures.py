#!/usr/bin/env python3
"""Expected variables and renderings of prompt-library prompts, made with jinja2.

For each prompt text below: the variables it reads (jinja2.meta.
find_undeclared_variables, less the globals our renderer provides) and its
rendering with the given values by jinja2 set up as transformers sets it up
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
tojson with ensure_ascii=False). The C++ test (tests/app/store/
prompt_library_test.cpp) compares prompt_variables() as a set and
render_prompt() byte for byte.

    python3 tests/reference/make_prompt_fixtures.py --out tests/fixtures/prompts/render.json
"""
import argparse
import json

import jinja2.ext
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

GLOBALS = {"range", "namespace", "dict", "raise_exception", "strftime_now", "lipsum", "cycler",
           "joiner"}

CASES = [
    {"body": "Summarise {{ text }} in {{ n }} lines.",
     "values": {"text": "the report", "n": 3}},
    {"body": "Traduis en {{ langue | default('français') }} : « {{ phrase }} » ☕ 🌍\n",
     "values": {"phrase": "Grüße aus Zürich, 你好"}},
    {"body": "{% for item in items %}- {{ loop.index }}. {{ item | upper }}\n{% endfor %}"
             "{% if footer %}{{ footer | trim }}{% endif %}",
     "values": {"items": ["alpha", "beta"], "footer": "  done  "}},
    {"body": "{% set greeting = 'Hello ' ~ who %}{{ greeting }}!\n"
             "{% macro line(x, sep='-') %}{{ sep }}{{ x }}{% endmacro %}"
             "{{ line(topic) }}{{ line(topic, sep=marker) }}",
     "values": {"who": "Ada", "topic": "engines", "marker": "*"}},
    {"body": "{% set ns = namespace(total=0) %}{% for x in numbers %}"
             "{% set ns.total = ns.total + x %}{% endfor %}"
             "Total of {{ numbers | length }} numbers: {{ ns.total }}; {{ config | tojson }}",
     "values": {"numbers": [1, 2, 39], "config": {"mode": "fast", "tags": ["a", "é"]}}},
    {"body": "{{ user.name }} ({{ user['age'] }}) asks: {{ question.strip() }}\n"
             "{%- if context is defined %} Context: {{ context }}{% endif %}",
     "values": {"user": {"name": "Lin", "age": 31}, "question": "  why?  ",
                "context": "none"}},
    {"body": "No variables at all, just text with {{ '{{' }} braces {{ '}}' }}.",
     "values": {}},
]


def make_environment():
    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    return env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    env = make_environment()
    out = {"jinja2_version": jinja2.__version__, "cases": []}
    for case in CASES:
        names = sorted(meta.find_undeclared_variables(env.parse(case["body"])) - GLOBALS)
        text = env.from_string(case["body"]).render(**case["values"])
        out["cases"].append({"body": case["body"], "values": case["values"],
                             "variables": names, "output": text})
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
