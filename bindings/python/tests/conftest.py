"""pytest fixtures: stories260K from ../shared (POCKETLLM_SHARED overrides), and the
library from POCKETLLM_LIBRARY, else the build tree's (build/lib/libpocketllm.so)."""
import json
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
if "POCKETLLM_LIBRARY" not in os.environ:
    built = ROOT / "build" / "lib" / "libpocketllm.so"
    if built.exists():
        os.environ["POCKETLLM_LIBRARY"] = str(built)

SHARED = pathlib.Path(os.environ.get("POCKETLLM_SHARED", ROOT.parent / "shared"))
STORIES = SHARED / "data" / "models" / "stories260K"

# A template for a model that has none: user turns are the story so far, answers follow.
STORY_TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}"
                  "{% else %}{{ ' ' + m['content'] + '\\n' }}{% endif %}{% endfor %}")


@pytest.fixture(scope="session")
def golden():
    return json.loads((STORIES / "golden.json").read_text())


@pytest.fixture(scope="session")
def model():
    import pocketllm
    with pocketllm.Model(str(STORIES / "stories260K.bin"), tokenizer=str(STORIES / "tok512.bin"), threads=1) as m:
        yield m


@pytest.fixture(scope="session")
def chat_model():
    import pocketllm
    with pocketllm.Model(str(STORIES / "stories260K.bin"), tokenizer=str(STORIES / "tok512.bin"), threads=1,
                         chat_template=STORY_TEMPLATE) as m:
        yield m
