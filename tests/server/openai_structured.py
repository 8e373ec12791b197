"""Structured output, tools and logprobs through the official `openai` Python client
(PyPI, pinned in scripts/requirements.txt), judged with a real JSON Schema
validator (`jsonschema`). Prints one JSON object with what it saw and the
problems found; the gtest in test_openai_python.cpp judges it.

Usage: python openai_structured.py BASE_URL   (e.g. http://127.0.0.1:PORT/v1)
"""
import json
import math
import sys

import jsonschema
import openai

SCHEMAS = [
    {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10},
                                      "legs": {"type": "integer"}, "pet": {"type": "boolean"}},
     "required": ["name", "legs", "pet"], "additionalProperties": False},
    {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1, "maxItems": 3},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date"},
                                      "tags": {"type": "array", "items": {"type": "string", "maxLength": 5},
                                               "maxItems": 2}},
     "required": ["when", "tags"]},
]

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "The weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                                        "unit": {"enum": ["c", "f"]}},
                       "required": ["city", "unit"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "set_alarm",
        "parameters": {"type": "object", "properties": {"hour": {"type": "integer"}, "loud": {"type": "boolean"}},
                       "required": ["hour", "loud"], "additionalProperties": False}}},
]


def main() -> None:
    client = openai.OpenAI(base_url=sys.argv[1], api_key="test-key", max_retries=0, timeout=120)
    model = client.models.list().data[0].id
    problems, seen = [], {"schemas": 0, "tool_calls": 0, "logprob_tokens": 0}
    messages = [{"role": "user", "content": "Tell me about a cat."}]

    for i, schema in enumerate(SCHEMAS):
        for seed in (1, 2):
            r = client.chat.completions.create(
                model=model, messages=messages, max_tokens=200, temperature=1.0, seed=seed,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": f"s{i}", "schema": schema, "strict": True}})
            text = r.choices[0].message.content
            try:
                jsonschema.validate(json.loads(text), schema, format_checker=jsonschema.FormatChecker())
                seen["schemas"] += 1
            except Exception as e:  # noqa: BLE001 - any failure is a finding
                problems.append(f"schema {i} seed {seed}: {text!r}: {e}")

    by_name = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    for choice in ("required", {"type": "function", "function": {"name": "set_alarm"}}):
        r = client.chat.completions.create(model=model, messages=messages, max_tokens=150, temperature=0.8, seed=4,
                                           tools=TOOLS, tool_choice=choice, parallel_tool_calls=False)
        c = r.choices[0]
        if c.finish_reason != "tool_calls" or not c.message.tool_calls:
            problems.append(f"tool_choice {choice}: no tool call: {c.model_dump()}")
            continue
        for call in c.message.tool_calls:
            if isinstance(choice, dict) and call.function.name != "set_alarm":
                problems.append(f"named choice called {call.function.name}")
            try:
                jsonschema.validate(json.loads(call.function.arguments), by_name[call.function.name])
                seen["tool_calls"] += 1
            except Exception as e:  # noqa: BLE001
                problems.append(f"tool call {call.function.name} {call.function.arguments!r}: {e}")

    # Streamed tool calls come as OpenAI sends them (a first delta with id, type and
    # name, then argument fragments as they are generated) and reassemble to the
    # whole answer of the same greedy request.
    kw = dict(model=model, messages=messages, max_tokens=150, temperature=0, tools=TOOLS, tool_choice="required",
              parallel_tool_calls=False)
    whole = client.chat.completions.create(**kw).choices[0].message.tool_calls
    parts, fragments, finish = {}, {}, None
    for chunk in client.chat.completions.create(**kw, stream=True):
        for ch in chunk.choices:
            finish = ch.finish_reason or finish
            for d in ch.delta.tool_calls or []:
                if d.index not in parts:
                    if not d.id or d.type != "function" or not d.function.name or d.function.arguments != "":
                        problems.append(f"the first delta of call {d.index} is not id, type, name, arguments '': {d}")
                    parts[d.index] = {"id": d.id, "name": d.function.name, "arguments": ""}
                    continue
                if d.id or (d.function and d.function.name):
                    problems.append(f"a later delta of call {d.index} repeats its id or name: {d}")
                if d.function and d.function.arguments:
                    parts[d.index]["arguments"] += d.function.arguments
                    fragments[d.index] = fragments.get(d.index, 0) + 1
    streamed = [{"name": parts[i]["name"], "arguments": parts[i]["arguments"]} for i in sorted(parts)]
    if streamed != [{"name": c.function.name, "arguments": c.function.arguments} for c in whole]:
        problems.append(f"streamed tool calls {streamed} differ from {whole}")
    if finish != "tool_calls":
        problems.append(f"the streamed answer finished with {finish!r}, not 'tool_calls'")
    seen["streamed_argument_deltas"] = min((fragments.get(i, 0) for i in parts), default=0)
    for i, p in parts.items():
        if len(p["arguments"]) > 8 and fragments.get(i, 0) < 2:
            problems.append(f"call {i}'s arguments {p['arguments']!r} came in {fragments.get(i, 0)} delta(s), not streamed")

    r = client.chat.completions.create(model=model, messages=messages, max_tokens=12, temperature=0,
                                       logprobs=True, top_logprobs=4)
    for t in r.choices[0].logprobs.content:
        seen["logprob_tokens"] += 1
        top = t.top_logprobs
        if len(top) != 4 or top[0].token != t.token or abs(top[0].logprob - t.logprob) > 1e-6:
            problems.append(f"greedy token {t.token!r} is not the top of {top}")
        if sum(math.exp(a.logprob) for a in top) > 1 + 1e-6:
            problems.append(f"top_logprobs of {t.token!r} add up to more than 1")

    try:
        client.chat.completions.create(model=model, messages=messages, max_tokens=4,
                                       response_format={"type": "json_schema",
                                                        "json_schema": {"name": "x", "schema": {"type": "wat"}}})
        problems.append("a malformed schema was accepted")
    except openai.BadRequestError as e:
        seen["bad_schema_status"] = e.status_code
    try:
        client.chat.completions.create(model=model, messages=messages, max_tokens=4, tools=TOOLS,
                                       tool_choice={"type": "function", "function": {"name": "fly"}})
        problems.append("an unknown tool_choice name was accepted")
    except openai.BadRequestError as e:
        seen["bad_tool_choice_status"] = e.status_code

    print(json.dumps({"seen": seen, "problems": problems}))


if __name__ == "__main__":
    main()
