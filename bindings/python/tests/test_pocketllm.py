"""The Python binding against stories260K: llama2.c's golden ids and text, streaming,
chat with prefix reuse, errors as exceptions, cancel and busy across threads, and
saving/restoring a session."""
import threading

import pytest

import pocketllm
from conftest import STORIES


def test_library_and_model_info(model, golden):
    assert pocketllm.library_version() == pocketllm.__version__
    info = model.info
    assert info.architecture == "llama"
    assert info.n_vocab == golden["config"]["vocab_size"]
    assert info.n_layers == golden["config"]["n_layers"]
    assert info.bos == 1 and info.has_tokenizer


def test_tokenize_matches_llama2c_and_detokenize_round_trips(model, golden):
    for case in golden["cases"]:
        assert model.tokenize(case["prompt"]) == case["prompt_ids"]
        assert model.detokenize(case["full_sequence_ids"], skip_special=True) == case["generated_text"]
    long = "Once upon a time " * 50  # more tokens than the first buffer guess holds? asked again
    assert len(model.tokenize(long)) > 50


def test_greedy_generation_equals_the_golden_text(model, golden):
    for case in golden["cases"]:
        with pocketllm.Session(model) as s:
            s.append_text(case["prompt"])
            r = s.generate(max_tokens=len(case["generated_ids"]), temperature=0, echo_prompt=True)
            assert r.text + "\n" == case["run_c_cli_stdout"]
            assert r.finish == "length"
            assert r.prompt_tokens == len(case["prompt_ids"])
            assert r.generated_tokens == len(case["generated_ids"])
            assert r.decode_tokens_per_s > 0
            assert s.tokens == case["full_sequence_ids"]


def test_stream_yields_the_same_text_and_breaking_out_cancels(model, golden):
    case = golden["cases"][0]
    s = pocketllm.Session(model)
    s.append_text(case["prompt"])
    stream = s.stream(max_tokens=60, temperature=0)
    pieces = list(stream)
    assert "".join(pieces) == case["generated_text"][len(case["prompt"]):]
    assert stream.result.finish == "length"

    s.reset()
    s.append_text(case["prompt"])
    stream = s.stream(max_tokens=-1, temperature=0)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    assert stream.result.finish == "cancelled"
    assert stream.result.generated_tokens < 60


def test_chat_applies_the_template_and_reuses_the_prefix(chat_model):
    s = pocketllm.Session(chat_model)
    msgs = [{"role": "user", "content": "Once upon a time"}]
    assert chat_model.render_chat(msgs) == "<s>Once upon a time"
    answer = s.chat(msgs, max_tokens=10, temperature=0)
    assert answer
    msgs += [{"role": "assistant", "content": answer}, {"role": "user", "content": "The dog"}]
    second = "".join(s.chat(msgs, stream=True, max_tokens=10, temperature=0))
    # A fresh session answers the same from scratch.
    fresh = pocketllm.Session(chat_model)
    assert fresh.chat(msgs, max_tokens=10, temperature=0) == second
    assert s.set_chat(msgs) > 0  # the same conversation again: its prefix is cached


def test_errors_are_exceptions_with_the_status(model):
    with pytest.raises(pocketllm.FileError) as e:
        pocketllm.Model("/nonexistent/model.gguf")
    assert e.value.status == "PLLM_ERR_IO" and "/nonexistent/model.gguf" in str(e.value)
    with pytest.raises(pocketllm.InvalidArgumentError, match="UTF-8"):
        model.tokenize(b"\xff\xfe")
    with pytest.raises(pocketllm.InvalidArgumentError, match="vocabulary"):
        model.detokenize([5000])
    s = pocketllm.Session(model, n_ctx=8)
    with pytest.raises(pocketllm.StateError, match="empty"):
        s.generate(max_tokens=3)
    with pytest.raises(pocketllm.ContextFullError):
        s.append_tokens([403] * 9)
    with pytest.raises(pocketllm.InvalidArgumentError):
        s.generate(temperature=float("nan"))
    raw = pocketllm.Model(str(STORIES / "stories260K.bin"))
    with pytest.raises(pocketllm.UnsupportedError, match="tokenizer"):
        raw.tokenize("hi")
    s.close()
    with pytest.raises(pocketllm.StateError, match="closed"):
        s.reset()


def test_an_exception_in_the_callback_stops_and_propagates(model):
    s = pocketllm.Session(model)
    s.append_text("Once upon a time")

    def boom(piece):
        raise KeyError("from the callback")

    with pytest.raises(KeyError, match="from the callback"):
        s.generate(max_tokens=20, temperature=0, on_text=boom)
    assert len(s.tokens) == 5 + 1  # the prompt and the one token drawn before the stop


def test_cancel_and_busy_from_another_thread(model):
    s = pocketllm.Session(model)
    s.append_text("Once upon a time")
    started, release = threading.Event(), threading.Event()
    results = {}

    def on_text(piece):
        if not started.is_set():
            started.set()
            release.wait(20)
        return False

    worker = threading.Thread(target=lambda: results.setdefault("r", s.generate(max_tokens=-1, on_text=on_text)))
    worker.start()
    assert started.wait(20)
    with pytest.raises(pocketllm.BusyError):
        s.append_text("more")
    s.cancel()
    release.set()
    worker.join(20)
    assert not worker.is_alive()
    assert results["r"].finish == "cancelled"


def test_save_and_load_resume_without_prefill(model, golden, tmp_path):
    case = golden["cases"][0]
    s = pocketllm.Session(model, n_ctx=128)
    s.append_text(case["prompt"])
    s.generate(max_tokens=20, temperature=0)
    path = str(tmp_path / "story.pllm")
    s.save(path)
    t = pocketllm.Session(model, n_ctx=128)
    t.load(path)
    assert t.tokens == s.tokens
    r = t.generate(max_tokens=40, temperature=0)
    assert r.prompt_tokens == 1
    assert t.tokens == case["full_sequence_ids"]
    with pytest.raises(pocketllm.MismatchError, match="context size"):
        pocketllm.Session(model, n_ctx=64).load(path)
    (tmp_path / "junk.pllm").write_bytes(b"junk" * 10)
    with pytest.raises(pocketllm.FormatError):
        t.load(str(tmp_path / "junk.pllm"))
