#!/usr/bin/env python3
"""Expected renderings of the 25 real chat templates, made with Python jinja2.

jinja2 is set up exactly as Hugging Face transformers sets it up in
`_compile_jinja_template` (transformers/utils/chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension, a `tojson` filter that calls json.dumps with
ensure_ascii=False, and the globals `raise_exception` and `strftime_now`.
Templates are rendered the way `apply_chat_template` calls them:
messages, tools, documents, add_generation_prompt, the tokenizer's special
tokens (bos_token / eos_token, left out when the tokenizer has none) and any
extra keyword arguments.

`strftime_now` is pinned to FIXED_NOW so that the fixtures are reproducible;
the C++ test passes the same instant to the engine.

Writes tests/fixtures/templates/conversations.json (the inputs) and one
<template name>.json per template: for each case, the rendered text or the
error a template raised (`raise_exception` messages verbatim; other errors
only by their type, since those messages are Python's). Also features.json
(one small template per language feature) and builtins.json (our built-in
templates of resources/templates rendered on the same conversations).

    python3 tests/reference/make_template_fixtures.py \
        --templates ../shared/data/chat-templates/templates.json \
        --out tests/fixtures/templates [--check]
"""
import argparse
import datetime
import json
import pathlib
import sys

import jinja2
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# 2024-09-05 13:07:09 (a Thursday), the instant strftime_now reports.
FIXED_NOW = datetime.datetime(2024, 9, 5, 13, 7, 9)


class RaisedByTemplate(Exception):
    """What raise_exception raises (a TemplateError in transformers)."""


def make_environment():
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city, e.g. Zürich"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                         "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days"},
            },
            "required": ["city"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "limit": {"type": "number", "description": "At most this many results"},
                "tags": {"type": "array", "items": {"type": "string"},
                         "description": "Filter tags"},
            },
            "required": ["query", "limit"],
        },
        "return": {"type": "array", "description": "The results"},
    },
}

UNICODE_TEXT = ("Grüße aus Zürich! 你好，世界 🌍 — «quotes» \"double\" 'single' \\backslash\\ "
                "tab\there\nnew line  ")

# name → (messages, extra kwargs)
CONVERSATIONS = {
    "user_only": ([{"role": "user", "content": "Hello!"}], {}),
    "system_user": ([
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is 2 + 2?"},
    ], {}),
    "multi_turn": ([
        {"role": "system", "content": "  Be brief.  "},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke.\n"},
        {"role": "assistant", "content": " Why did the chicken cross the road? "},
        {"role": "user", "content": "Another one"},
    ], {}),
    "no_system_two_turns": ([
        {"role": "user", "content": "First question"},
        {"role": "assistant", "content": "First answer"},
        {"role": "user", "content": "Second question"},
    ], {}),
    "unicode": ([
        {"role": "system", "content": "Réponds en français. ☕"},
        {"role": "user", "content": UNICODE_TEXT},
        {"role": "assistant", "content": "\u00a0Ça va ? 🙂\n\n"},
        {"role": "user", "content": "日本語で答えて\u3000"},
    ], {}),
    "tools": ([
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "What's the weather in Paris?"},
    ], {"tools": [WEATHER_TOOL, SEARCH_TOOL]}),
    "tool_call_roundtrip": ([
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call12345", "type": "function",
            "function": {"name": "get_weather",
                         "arguments": {"city": "Paris", "unit": "celsius", "days": 2}}}]},
        {"role": "tool", "tool_call_id": "call12345", "name": "get_weather",
         "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21.5 °C and clear in Paris."},
        {"role": "user", "content": "Thanks!"},
    ], {"tools": [WEATHER_TOOL]}),
    "tool_call_string_args": ([
        {"role": "user", "content": "Search for cats"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "abcdefghi", "type": "function",
            "function": {"name": "search", "arguments": "{\"query\": \"cats\", \"limit\": 3}"}}]},
        {"role": "tool", "tool_call_id": "abcdefghi", "content": "cats are great"},
    ], {"tools": [SEARCH_TOOL]}),
    "not_alternating": ([
        {"role": "user", "content": "one"},
        {"role": "user", "content": "two"},
    ], {}),
    "system_only": ([
        {"role": "system", "content": "Only a system prompt."},
    ], {}),
    "content_parts": ([
        {"role": "user", "content": [{"type": "text", "text": " Describe this. "},
                                     {"type": "image"}]},
    ], {}),
    "llama3_options": ([
        {"role": "user", "content": "What's the weather?"},
    ], {"tools": [WEATHER_TOOL], "tools_in_user_message": False,
        "date_string": "01 Jan 2025", "builtin_tools": ["brave_search", "code_interpreter"]}),
    "documents_controls": ([
        {"role": "user", "content": "Summarise the documents."},
    ], {"documents": [{"title": "A", "text": "Alpha text."}, {"title": "B", "text": "Beta."}],
        "controls": {"citations": True, "length": "short"}}),
}


# Small templates, one per language feature, rendered with the same
# environment: (template, variables). Written to features.json.
FEATURE_CASES = [
    ("{{ 'a' ~ 1 ~ none ~ true }}|{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }}", {}),
    ("{{ 2 ** 10 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 1.5 + 1 }} {{ 10 / 4 }} {{ 1e20 }} {{ 0.1 + 0.2 }}", {}),
    ("{{ 3 > 2 }} {{ 2 >= 2 }} {{ 1 < 0 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ 1 < 2 < 3 }}", {}),
    ("{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'abc' }}", {}),
    ("{{ not true }} {{ true and 'x' }} {{ 0 or 'y' }} {{ none or [] }} {{ '' and 1 }}", {}),
    ("{% if x %}A{% elif y %}B{% else %}C{% endif %}{% if not x and not y %}D{% endif %}", {"y": 1}),
    ("{% for i in items %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 }}/"
     "{{ loop.first }}/{{ loop.last }}/{{ loop.length }};{% endfor %}", {"items": ["a", "b", "c"]}),
    ("{% for i in items %}{{ loop.previtem }}>{{ i }}>{{ loop.nextitem }} {% endfor %}", {"items": [1, 2, 3]}),
    ("{% for i in [] %}x{% else %}empty{% endfor %}{% for i in [1, 2, 3, 4] if i is even %}{{ i }}{{ loop.length }}{% endfor %}", {}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": [2]}}),
    ("{% for c in 'héllo' %}[{{ c }}]{% endfor %}{% for i in range(2, 9, 3) %}{{ i }}{% endfor %}", {}),
    ("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("{% for row in [[1, 2], [3, 4]] %}{% for x in row %}{{ loop.index }}{{ x }}{% endfor %}|{% endfor %}", {}),
    ("{% set a = 1 %}{% for i in range(3) %}{{ a }}{% set a = a + 1 %}{{ a }},{% endfor %}{{ a }}", {}),
    ("{% set ns = namespace(n=0, s='') %}{% for i in range(4) %}{% set ns.n = ns.n + i %}"
     "{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("{% set x, y = [1, 2] %}{{ x }}{{ y }}{% set block %}inner {{ x }}{% endset %}[{{ block }}]", {}),
    ("{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}"
     "{{ greet('Ann') }} {{ greet('Bob', '?') }} {{ greet(punct='.', name='Cy') }}", {}),
    ("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1)|int }}{% endif %}{% endmacro %}{{ fact(10) }}", {}),
    ("a  {{- ' b ' -}}  c {%- if true %} d {% endif -%}  e {#- comment -#}  f", {}),
    ("line1\n    {% if true %}\n    x\n    {% endif %}\n  {# c #}\nline2\n", {}),
    ("  {%+ if true %}keep{% endif %}\n{% if true +%}\nnext{% endif %}", {}),
    ("{{ '  pad  '|trim }}|{{ 'MiXed'|upper }}|{{ 'MiXed'|lower }}|{{ 'hello world'|capitalize }}|{{ 'hello-world x'|title }}", {}),
    ("{{ items|length }} {{ 'héllo'|length }} {{ d|length }} {{ items|first }} {{ items|last }} {{ items|join(', ') }}",
     {"items": ["x", "y", "z"], "d": {"a": 1}}),
    ("{{ undefined_var|default('dflt') }} {{ ''|default('e', true) }} {{ none|default('n') }} {{ x|d('y') }}", {"x": 0}),
    ("{{ 'a-b-c'|replace('-', '+') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ 42|string ~ '!' }} {{ '12'|int + 1 }} {{ 'x'|int }} {{ '2.5'|float }}", {}),
    ("{{ users|map(attribute='name')|join(',') }} {{ users|selectattr('admin')|map(attribute='name')|list }} "
     "{{ users|rejectattr('admin')|list|length }} {{ [1, 2, 3, 4]|select('odd')|list }} {{ [1, 2, 3]|reject('equalto', 2)|list }}",
     {"users": [{"name": "ann", "admin": True}, {"name": "bob", "admin": False}]}),
    ("{{ ['b', 'a']|map('upper')|list }} {{ users|selectattr('role', 'equalto', 'user')|list|length }} {{ {'b': 1, 'a': 2}|items|list }}",
     {"users": [{"role": "user"}, {"role": "assistant"}, {"role": "user"}]}),
    ("{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ 'é\\n\"'|tojson }}|{{ [1.0, 2.5e-7, 1e16, none, true]|tojson }}",
     {"d": {"z": 1, "a": [1, {"b": None}], "u": "Zürich 🌍", "e": {}, "l": []}}),
    ("{{ d|tojson(ensure_ascii=true) }}|{{ d|tojson(separators=[',', ':']) }}|{{ d|tojson(indent=0) }}",
     {"d": {"u": "Zürich 🌍", "n": [1, 2]}}),
    ("{{ x is defined }} {{ y is undefined }} {{ n is none }} {{ s is string }} {{ d is mapping }} {{ l is iterable }} "
     "{{ s is iterable }} {{ 3 is number }} {{ 3.5 is number }} {{ 2 is equalto 2 }} {{ n is not none }} {{ l is sequence }}",
     {"x": 1, "n": None, "s": "s", "d": {}, "l": []}),
    ("{{ 4 is divisibleby 2 }} {{ 3 is odd }} {{ true is boolean }} {{ 1 is integer }} {{ 1.0 is float }} "
     "{{ 3 is gt 2 }} {{ 'x' is in 'xyz' }} {{ d is iterable }} {{ d.missing is defined }}", {"d": {"a": 1}}),
    ("{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  x'.lstrip() }}|{{ 'x  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|"
     "{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}", {}),
    ("{{ 'hello'.startswith('he') }} {{ 'hello'.endswith('lo') }} {{ 'hello'.startswith(('x', 'h')) }} "
     "{{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'hello wORLD'.title() }} {{ \"they're\".title() }} {{ 'a-b'.replace('-', '_') }}", {}),
    ("{{ '{} and {}'.format('x', 1) }} {{ '{0}{1}{0}'.format('a', 'b') }} {{ '{name}!'.format(name='n') }} "
     "{{ ', '.join(['a', 'b']) }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.count('b') }}", {}),
    ("{{ s[1:] }}|{{ s[:-1] }}|{{ s[::-1] }}|{{ s[1:4:2] }}|{{ l[1:] }}|{{ l[::-1] }}|{{ l[-1] }}|{{ s[0] }}|{{ l[-5:2] }}",
     {"s": "héllo", "l": [1, 2, 3]}),
    ("{{ d.a }} {{ d['a'] }} {{ d.l[0].x }} {{ d['l'][0]['x'] }} {{ d.missing }}|{{ d.get('a') }} {{ d.get('zz', 'no') }} "
     "{{ d.keys()|list }} {{ d.values()|list|length }}", {"d": {"a": 1, "l": [{"x": "deep"}]}}),
    ("{{ [1, 'a', none, true, 1.5, {'k': 'v'}, \"it's\"] }} {{ {'a': [1, 2]} }} {{ none }} {{ true }} {{ 1.0 }}", {}),
    ("{{ 'yes' if x else 'no' }} {{ 'yes' if y else 'no' }} [{{ 'only' if y }}] {{ [1, 2] + [3] }} {{ 'ab' * 3 }}", {"x": 1, "y": 0}),
    ("{{ (1, 2) }} {{ [] }} {{ {} }} {{ -3|abs }} {{ 2.567|round(2) }} {{ [3, 1, 2]|sort }} {{ [1, 1, 2]|unique|list }} {{ [1, 2]|sum }}", {}),
    ("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, first=true) }}|{{ 'x'|indent }}|{{ [3, 1]|max }}{{ [3, 1]|min }}", {}),
    ("{{ strftime_now('%Y-%m-%d %H:%M:%S %B %b %d %A') }}", {}),
    ("{{ \"dq 'x'\" }} {{ 'esc \\n\\t\\' \\\\ \\u00e9 \\x41' }} {{ 'adj' 'acent' }}", {}),
    ("{{ d['items'] }} {{ d.items is defined }} {{ d.items()|list }} {{ d.nope is defined }}", {"d": {"items": 5}}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ missing.attr }}", {}),
    ("{{ none.attr }}|{{ (none.attr) is defined }}|{{ [1][3] is defined }}", {}),
    ("{% for x in none %}{% endfor %}", {}),
    ("{% for i in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %} {{ 1 if true }} {{ -1 ** 2 }} {{ 10 / 3 }} {{ 3.0 }} "
     "{{ 1e-5 }} {{ 123456789012345678 }} {{ 1.5|round }} {{ 2.5|round }} {{ 0.5|round }} {{ 2.675|round(2) }}", {}),
    ("{{ [1, 2, 3]|sum }} {{ 'a b  c'|wordcount }} {{ none|string }} {{ true|tojson }} {{ {'b': 1, 'A': 2}|dictsort }} "
     "{{ 'Hé'|list }} {{ [3, 1, 2]|sort(reverse=true) }} {{ 'abc'|reverse }} {{ 5|float }} {{ '3'|int + '4'|int }}", {}),
    ("{{ range(3)|list }} {{ 'A'.lower() ~ 'b'.upper() }} {{ 'a,b'.split(',')[-1] }} {{ (1,) }} {{ [1, [2, [3]]]|tojson }} "
     "{{ 'x' in nothing|default([]) }} {{ [] is sequence }} {{ 'abc' is lower }} {{ 'ABC'.isupper() }}", {}),
    ("{% for m in messages %}{{ m.role|capitalize }}{{ ': ' if not loop.last else '.' }}{% endfor %}{{ messages|map(attribute='role')|join(',') }}",
     {"messages": [{"role": "user"}, {"role": "assistant"}]}),
    ("{% if a is defined and a %}A{% endif %}{% if b is defined and b %}B{% endif %}{{ c|default(5)|string + '!' }}", {"a": [0]}),
    ("{{ x.y|default('none', true) }}|{{ l|selectattr('a', 'defined')|list|length }}|{{ l|map(attribute='a', default='-')|join }}",
     {"x": {"y": ""}, "l": [{"a": 1}, {"b": 2}]}),
    ("{% set t = 'He said \"hi\"' %}{{ t }}{{ t|tojson }}{{ [t] }}{{ {'k': t} }}", {}),
    ("{{ 'line1\nline2'.splitlines() }} {{ 'a\tb'.split() }} {{ 'abc'.startswith('') }} {{ ''.join([]) }}|{{ 'x'.rstrip('y') }}", {}),
    ("{{ messages[-1].content if messages else 'empty' }} {{ (messages|last).role }} {{ messages|length > 1 }}",
     {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}),
    ("\n{%- for x in [1, 2] %}\n  - {{ x }}\n{%- endfor %}\n\n{% if true -%}\n   trimmed\n{%- endif %}", {}),
    ("{{ d[1, 2] is defined }} {{ l[0, 1] is defined }}", {"d": {"a": 1}, "l": [1, 2]}),
    ("{% if false %}{{ x|frobnicate }}{{ x is frob }}{% endif %}ok", {}),
    ("{% for i in [1] %}{{ i|frobnicate }}{% endfor %}", {}),
    ("{{ raise_exception('custom failure: ' ~ 42) }}", {}),
]


# Special tokens the built-in templates (resources/templates) are rendered with.
BUILTIN_TOKENS = {
    "llama2": ("<s>", "</s>"), "llama3": ("<|begin_of_text|>", "<|eot_id|>"),
    "chatml": (None, "<|im_end|>"), "mistral": ("<s>", "</s>"), "gemma": ("<bos>", "<eos>"),
    "phi3": ("<s>", "<|endoftext|>"), "zephyr": ("<s>", "</s>"), "alpaca": ("<s>", "</s>"),
    "vicuna": ("<s>", "</s>"), "raw": (None, None),
}


def render(env, template, entry, messages, extra, add_generation_prompt):
    kwargs = {}
    if entry["bos_token"] is not None:
        kwargs["bos_token"] = entry["bos_token"]
    if entry["eos_token"] is not None:
        kwargs["eos_token"] = entry["eos_token"]
    kwargs.update(extra)
    tools = kwargs.pop("tools", None)
    documents = kwargs.pop("documents", None)
    try:
        text = template.render(messages=messages, tools=tools, documents=documents,
                               add_generation_prompt=add_generation_prompt, **kwargs)
        return {"output": text}
    except RaisedByTemplate as e:
        return {"raised": str(e)}
    except Exception as e:  # noqa: BLE001 - any other failure is recorded by type
        return {"error": type(e).__name__}


def build_builtins(env, builtin_dir):
    out = {}
    for path in sorted(pathlib.Path(builtin_dir).glob("*.jinja")):
        name = path.stem
        bos, eos = BUILTIN_TOKENS[name]
        entry = {"bos_token": bos, "eos_token": eos}
        template = env.from_string(path.read_text(encoding="utf-8"))
        cases = []
        for conv, (messages, extra) in CONVERSATIONS.items():
            for agp in (False, True):
                case = {"conversation": conv, "add_generation_prompt": agp}
                case.update(render(env, template, entry, messages, extra, agp))
                cases.append(case)
        out[name] = {"bos_token": bos, "eos_token": eos, "cases": cases}
    return out


def build(templates_path, builtin_dir):
    env = make_environment()
    entries = json.loads(pathlib.Path(templates_path).read_text(encoding="utf-8"))
    files = {"conversations.json": {
        "fixed_now": FIXED_NOW.isoformat(),
        "conversations": {name: {"messages": m, "extra": x}
                          for name, (m, x) in CONVERSATIONS.items()},
    }}
    for entry in entries:
        template = env.from_string(entry["template"])
        cases = []
        for name, (messages, extra) in CONVERSATIONS.items():
            for agp in (False, True):
                case = {"conversation": name, "add_generation_prompt": agp}
                case.update(render(env, template, entry, messages, extra, agp))
                cases.append(case)
        files[entry["name"] + ".json"] = {
            "template": entry["name"], "jinja2_version": jinja2.__version__, "cases": cases}
    features = []
    for source, variables in FEATURE_CASES:
        case = {"template": source, "variables": variables}
        try:
            case["output"] = env.from_string(source).render(**variables)
        except RaisedByTemplate as e:
            case["raised"] = str(e)
        except Exception as e:  # noqa: BLE001
            case["error"] = type(e).__name__
        features.append(case)
    files["features.json"] = {"jinja2_version": jinja2.__version__, "cases": features}
    files["builtins.json"] = {"jinja2_version": jinja2.__version__,
                              "templates": build_builtins(env, builtin_dir)}
    return files


def serialise(obj):
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--templates", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--builtins", default=str(pathlib.Path(__file__).resolve().parents[2] /
                                              "resources" / "templates"),
                    help="folder of the built-in .jinja templates")
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing them")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    files = build(args.templates, args.builtins)
    stale = []
    for name, obj in files.items():
        path = out / name
        text = serialise(obj)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    num_cases = sum(len(o.get("cases", [])) for o in files.values())
    print(f"{len(files) - 3} templates, {num_cases} cases "
          f"{'match' if args.check else 'written to ' + str(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
