"""pocketllm from Python: a thin layer over the C API (include/pocketllm.h, docs/API.md).

    import pocketllm
    model = pocketllm.Model("stories260K.bin", tokenizer="tok512.bin")
    session = pocketllm.Session(model)
    session.append_text("Once upon a time")
    for piece in session.stream(max_tokens=60, temperature=0):
        print(piece, end="", flush=True)

Errors raise PocketLLMError subclasses carrying the C status. A session is used by
one thread at a time (another thread's call raises BusyError); Session.cancel() is
safe from any thread. The library is found through $POCKETLLM_LIBRARY or the system
loader.
"""
import ctypes
import queue
import threading
from dataclasses import dataclass
from typing import Iterable, Iterator, List, Optional, Sequence, Union

from . import _capi

__version__ = "0.1.0"
__all__ = ["Model", "Session", "Stream", "ModelInfo", "GenerateResult", "PocketLLMError", "InvalidArgumentError",
           "BusyError", "StateError", "ContextFullError", "FileError", "FormatError", "MismatchError",
           "TemplateError", "UnsupportedError", "library_version"]

_lib = _capi.load()


class PocketLLMError(Exception):
    """A failed C API call: .status is its pllm_status name, the message says why."""

    def __init__(self, status: int, message: str):
        self.status = _lib.pllm_status_name(status).decode()
        super().__init__(message or self.status)


class InvalidArgumentError(PocketLLMError, ValueError):
    pass


class BusyError(PocketLLMError):
    """Another thread is inside a call on this session."""


class StateError(PocketLLMError):
    """A call in the wrong order (e.g. generating on an empty session)."""


class ContextFullError(PocketLLMError):
    pass


class FileError(PocketLLMError, OSError):
    pass


class FormatError(PocketLLMError):
    """A model or state file that is damaged or not understood."""


class MismatchError(PocketLLMError):
    """A state file saved with another model, context size or KV type."""


class TemplateError(PocketLLMError):
    pass


class UnsupportedError(PocketLLMError):
    pass


_ERRORS = {1: InvalidArgumentError, 2: InvalidArgumentError, 3: BusyError, 4: StateError, 5: ContextFullError,
           6: FileError, 7: FormatError, 8: MismatchError, 9: TemplateError, 10: MemoryError, 11: UnsupportedError}
_KV = {None: 0, "f32": 1, "f16": 2, "q8": 3}
_FINISH = {0: None, 1: "eog", 2: "stop", 3: "length", 4: "context", 5: "cancelled"}
_ADD_SPECIAL, _PARSE_SPECIAL, _SKIP_SPECIAL = 1, 2, 4


def _check(status: int, message: Optional[bytes]) -> None:
    if status == 0:
        return
    text = (message or b"").decode("utf-8", "replace")
    cls = _ERRORS.get(status, PocketLLMError)
    if cls is MemoryError:
        raise MemoryError(text)
    raise cls(status, text)


def _bytes(text: Union[str, bytes]) -> bytes:
    """UTF-8 bytes of a str; bytes go through as they are (the library checks them)."""
    return text if isinstance(text, bytes) else text.encode("utf-8")


def library_version() -> str:
    return _lib.pllm_version().decode()


@dataclass(frozen=True)
class ModelInfo:
    architecture: str
    name: str
    chat_template: str
    n_params: int
    file_bytes: int
    n_vocab: int
    n_ctx_train: int
    n_embd: int
    n_ff: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    bos: int
    eos: int
    has_tokenizer: bool


@dataclass(frozen=True)
class GenerateResult:
    text: str               # what was streamed (the echoed prompt first, with echo_prompt)
    finish: Optional[str]   # "eog", "stop", "length", "context", "cancelled"
    prompt_tokens: int      # tokens prefilled by the call
    generated_tokens: int
    prefill_tokens_per_s: float
    decode_tokens_per_s: float


def _messages(messages: Sequence[dict]):
    """OpenAI-style [{"role": ..., "content": ...}] as a pllm_chat_message array (and the bytes it points at)."""
    keep = []
    arr = (_capi.pllm_chat_message * max(len(messages), 1))()
    for i, m in enumerate(messages):
        role, content = _bytes(m["role"]), _bytes(m["content"])
        keep += [role, content]
        arr[i].role = _capi.pllm_string(role, len(role))
        arr[i].content = _capi.pllm_string(content, len(content))
    return arr, keep


class _Handle:
    """An owned C handle: closed by close(), `with`, or garbage collection."""

    _kind = ""  # "model" or "session": names the C free function and the error

    def _handle(self):
        if not getattr(self, "_h", None):
            raise StateError(4, f"the {self._kind} is closed")
        return self._h

    def close(self) -> None:
        if getattr(self, "_h", None):
            getattr(_lib, f"pllm_{self._kind}_free")(self._h)
            self._h = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, fn, *args) -> None:
        # This thread's message, not the handle's: another thread may fail on it meanwhile.
        _check(fn(self._handle(), *args), _lib.pllm_last_error())


class Model(_Handle):
    """A loaded model (GGUF file, Hugging Face folder or llama2.c checkpoint); thread-safe.
    close() releases it; sessions created from it keep it alive until they close."""

    _kind = "model"

    def __init__(self, path: str, *, tokenizer: Optional[str] = None, threads: int = 0, mmap: bool = True,
                 kv_type: Optional[str] = None, chat_template: Optional[str] = None):
        p = _capi.pllm_model_params()
        _lib.pllm_model_default_params(ctypes.byref(p))
        p.n_threads = threads
        p.use_mmap = 1 if mmap else 0
        p.kv_type = _KV[kv_type]
        p.tokenizer_path = _bytes(tokenizer) if tokenizer else None
        p.chat_template = _bytes(chat_template) if chat_template is not None else None
        h = ctypes.c_void_p()
        _check(_lib.pllm_model_load(_bytes(path), ctypes.byref(p), ctypes.byref(h)), _lib.pllm_last_error())
        self._h = h


    @property
    def info(self) -> ModelInfo:
        i = _capi.pllm_model_info()
        self._call(_lib.pllm_model_get_info, ctypes.byref(i))
        s = lambda x: ctypes.string_at(x.data, x.len).decode("utf-8", "replace") if x.len else ""  # noqa: E731
        return ModelInfo(s(i.architecture), s(i.name), s(i.chat_template), i.n_params, i.file_bytes, i.n_vocab,
                         i.n_ctx_train, i.n_embd, i.n_ff, i.n_layers, i.n_heads, i.n_kv_heads, i.head_dim, i.bos,
                         i.eos, bool(i.has_tokenizer))

    def tokenize(self, text: Union[str, bytes], *, add_special: bool = True, parse_special: bool = False) -> List[int]:
        data = _bytes(text)
        flags = (_ADD_SPECIAL if add_special else 0) | (_PARSE_SPECIAL if parse_special else 0)
        n = ctypes.c_size_t(0)
        cap = len(data) + 8  # tokens rarely outnumber bytes; asked again when they do
        while True:
            buf = (ctypes.c_int32 * cap)()
            st = _lib.pllm_tokenize(self._handle(), data, len(data), flags, buf, cap, ctypes.byref(n))
            if st == 2 and n.value > cap:
                cap = n.value
                continue
            _check(st, _lib.pllm_last_error())
            return list(buf[: n.value])

    def detokenize(self, ids: Iterable[int], *, skip_special: bool = False) -> str:
        ids = list(ids)
        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        return self._text_call(_lib.pllm_detokenize, arr, len(ids), _SKIP_SPECIAL if skip_special else 0)

    def render_chat(self, messages: Sequence[dict], *, add_generation_prompt: bool = True) -> str:
        """The conversation as the model's chat template renders it (as transformers does)."""
        arr, _keep = _messages(messages)
        return self._text_call(_lib.pllm_chat_render, arr, len(messages), 1 if add_generation_prompt else 0)

    def _text_call(self, fn, *args) -> str:
        n = ctypes.c_size_t(0)
        cap = 256
        while True:
            buf = ctypes.create_string_buffer(cap)
            st = fn(self._handle(), *args, buf, cap, ctypes.byref(n))
            if st == 2 and n.value + 1 > cap:
                cap = n.value + 1
                continue
            _check(st, _lib.pllm_last_error())
            return buf.raw[: n.value].decode("utf-8")


def _generate_params(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
                     frequency_penalty, presence_penalty, seed, stop, echo_prompt):
    g = _capi.pllm_generate_params()
    _lib.pllm_generate_default_params(ctypes.byref(g))
    s = g.sampling
    for name, value in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p), ("min_p", min_p),
                        ("repeat_penalty", repeat_penalty), ("repeat_last_n", repeat_last_n),
                        ("frequency_penalty", frequency_penalty), ("presence_penalty", presence_penalty),
                        ("seed", seed)):
        if value is not None:
            setattr(s, name, value)
    g.max_tokens = -1 if max_tokens is None else max_tokens
    stops = [_bytes(x) for x in (stop or [])]
    arr = (_capi.pllm_string * max(len(stops), 1))(*[_capi.pllm_string(x, len(x)) for x in stops])
    g.stop = arr if stops else None
    g.n_stop = len(stops)
    g.echo_prompt = 1 if echo_prompt else 0
    return g, (stops, arr)


class Session(_Handle):
    """One conversation: its tokens and KV cache. One thread at a time; cancel() from anywhere."""

    _kind = "session"

    def __init__(self, model: Model, *, n_ctx: int = 0, kv_type: Optional[str] = None, n_batch: int = 0,
                 threads: int = 0):
        p = _capi.pllm_session_params()
        _lib.pllm_session_default_params(ctypes.byref(p))
        p.n_ctx, p.kv_type, p.n_batch, p.n_threads = n_ctx, _KV[kv_type], n_batch, threads
        h = ctypes.c_void_p()
        _check(_lib.pllm_session_create(model._handle(), ctypes.byref(p), ctypes.byref(h)), _lib.pllm_last_error())
        self._h = h
        self.model = model


    @property
    def tokens(self) -> List[int]:
        n = ctypes.c_size_t(0)
        while True:
            cap = max(n.value, 1)
            buf = (ctypes.c_int32 * cap)()
            st = _lib.pllm_session_get_tokens(self._handle(), buf, cap, ctypes.byref(n))
            if st == 2 and n.value > cap:
                continue
            _check(st, _lib.pllm_last_error())
            return list(buf[: n.value])

    @property
    def info(self) -> dict:
        i = _capi.pllm_session_info()
        self._call(_lib.pllm_session_get_info, ctypes.byref(i))
        return {"n_ctx": i.n_ctx, "n_tokens": i.n_tokens, "n_cached": i.n_cached,
                "kv_type": {1: "f32", 2: "f16", 3: "q8"}.get(i.kv_type)}

    def append_tokens(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        arr = (ctypes.c_int32 * max(len(ids), 1))(*ids)
        self._call(_lib.pllm_session_append_tokens, arr, len(ids))

    def append_text(self, text: Union[str, bytes], *, add_special: bool = True, parse_special: bool = True) -> None:
        data = _bytes(text)
        flags = (_ADD_SPECIAL if add_special else 0) | (_PARSE_SPECIAL if parse_special else 0)
        self._call(_lib.pllm_session_append_text, data, len(data), flags)

    def set_chat(self, messages: Sequence[dict], *, add_generation_prompt: bool = True) -> int:
        """The session becomes the rendered conversation; returns how many tokens stayed cached."""
        arr, _keep = _messages(messages)
        reused = ctypes.c_size_t(0)
        self._call(_lib.pllm_session_set_chat, arr, len(messages), 1 if add_generation_prompt else 0,
                   ctypes.byref(reused))
        return reused.value

    def generate(self, *, max_tokens: Optional[int] = None, temperature: Optional[float] = None,
                 top_k: Optional[int] = None, top_p: Optional[float] = None, min_p: Optional[float] = None,
                 repeat_penalty: Optional[float] = None, repeat_last_n: Optional[int] = None,
                 frequency_penalty: Optional[float] = None, presence_penalty: Optional[float] = None,
                 seed: Optional[int] = None, stop: Sequence[str] = (), echo_prompt: bool = False,
                 on_text=None) -> GenerateResult:
        """Prefills what was appended, then generates. on_text(piece) is called as text
        arrives; returning True from it stops the generation. Sampling defaults: the C API's."""
        g, keep = _generate_params(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
                                   frequency_penalty, presence_penalty, seed, stop, echo_prompt)
        pieces: List[str] = []
        failure: List[BaseException] = []

        def cb(_user, _token, text, n):
            try:
                piece = ctypes.string_at(text, n).decode("utf-8", "replace") if n else ""
                pieces.append(piece)
                return 1 if (on_text is not None and on_text(piece)) else 0
            except BaseException as e:  # an exception cannot cross the C call: stop, re-raise after
                failure.append(e)
                return 1

        g.on_token = _capi.token_callback(cb)
        r = _capi.pllm_generate_result()
        self._call(_lib.pllm_session_generate, ctypes.byref(g), ctypes.byref(r))
        del keep
        if failure:
            raise failure[0]
        return GenerateResult("".join(pieces), _FINISH.get(r.finish), r.prompt_tokens, r.generated_tokens,
                              r.prefill_tokens_per_s, r.decode_tokens_per_s)

    def stream(self, **kwargs) -> "Stream":
        """generate() as an iterator of text pieces (generated on a worker thread)."""
        return Stream(self, kwargs)

    def chat(self, messages: Sequence[dict], *, stream: bool = False, **kwargs):
        """Answers a conversation (OpenAI-style messages, the whole conversation each time):
        rendered with the model's template, the cached prefix reused. Returns the answer
        text, or with stream=True a Stream of its pieces."""
        self.set_chat(messages)
        if stream:
            return self.stream(**kwargs)
        return self.generate(**kwargs).text

    def cancel(self) -> None:
        """Stops the generation in progress after its current token (any thread)."""
        self._call(_lib.pllm_session_cancel)

    def reset(self) -> None:
        self._call(_lib.pllm_session_reset)

    def save(self, path: str) -> None:
        """Writes the session's tokens and KV cache to path (atomically)."""
        self._call(_lib.pllm_session_save, _bytes(path))

    def load(self, path: str) -> None:
        """Restores a saved state (MismatchError: another model, context size or KV type)."""
        self._call(_lib.pllm_session_load, _bytes(path))


class Stream:
    """Text pieces of a generation as they come; .result once it is over. Leaving the
    loop early (break, close()) cancels the generation."""

    _END = object()

    def __init__(self, session: Session, kwargs: dict):
        self.session = session
        self.result: Optional[GenerateResult] = None
        self._q: "queue.Queue" = queue.Queue()
        self._error: Optional[BaseException] = None
        self._stop = threading.Event()  # seen at the next token even when cancel() came before generate began
        self._thread = threading.Thread(target=self._run, args=(kwargs,), daemon=True)
        self._thread.start()

    def _run(self, kwargs):
        try:
            def on_text(piece):
                self._q.put(piece)
                return self._stop.is_set()

            self.result = self.session.generate(on_text=on_text, **kwargs)
        except BaseException as e:
            self._error = e
        finally:
            self._q.put(self._END)

    def __iter__(self) -> Iterator[str]:
        try:
            while True:
                piece = self._q.get()
                if piece is self._END:
                    break
                if piece:
                    yield piece
        finally:
            self.close()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            try:
                self.session.cancel()
            except PocketLLMError:
                pass  # the session is closed: the generation ends with it
            self._thread.join()
