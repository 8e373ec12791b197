"""Drives `pocketllm serve` with the official `openai` Python client (PyPI, pinned in
scripts/requirements.txt): lists the models, completes a chat, streams the same
chat, runs a legacy completion, and checks that a bad request raises the
client's own error type. Prints one JSON object with what it saw; the gtest in
test_openai_python.cpp judges it.

Usage: python openai_client.py BASE_URL   (e.g. http://127.0.0.1:PORT/v1)
"""
import json
import sys

import openai


def main() -> None:
    client = openai.OpenAI(base_url=sys.argv[1], api_key="test-key", max_retries=0, timeout=60)
    ids = [m.id for m in client.models.list()]

    request = dict(
        model=ids[0],
        messages=[{"role": "user", "content": "Once upon a time"}],
        max_tokens=40,
        temperature=0.8,
        seed=11,
    )
    completion = client.chat.completions.create(**request)

    streamed, chunks, role, finish, usage = "", 0, None, None, None
    stream = client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True})
    for chunk in stream:
        chunks += 1
        for choice in chunk.choices:  # a usage-only chunk may have none
            if choice.delta.role:
                role = choice.delta.role
            if choice.delta.content:
                streamed += choice.delta.content
            if choice.finish_reason:
                finish = choice.finish_reason
        if chunk.usage:
            usage = chunk.usage.model_dump()

    legacy = client.completions.create(model=ids[0], prompt="Once upon a time", max_tokens=8, temperature=0)

    try:
        client.chat.completions.create(model=ids[0], messages=[], max_tokens=4)
        bad_request = "no error"
    except openai.BadRequestError as e:
        bad_request = {"status": e.status_code, "type": type(e).__name__}

    print(json.dumps({
        "models": ids,
        "object": completion.object,
        "content": completion.choices[0].message.content,
        "role": completion.choices[0].message.role,
        "finish_reason": completion.choices[0].finish_reason,
        "usage": completion.usage.model_dump(),
        "streamed": streamed,
        "stream_chunks": chunks,
        "stream_role": role,
        "stream_finish_reason": finish,
        "stream_usage": usage,
        "legacy_object": legacy.object,
        "legacy_text": legacy.choices[0].text,
        "legacy_usage": legacy.usage.model_dump(),
        "bad_request": bad_request,
    }))


if __name__ == "__main__":
    main()
