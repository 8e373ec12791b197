"""ctypes declarations of include/pocketllm.h, and finding libpocketllm.so.

The library is $POCKETLLM_LIBRARY (a path) when set, else what the system loader
finds (ldconfig's cache, LD_LIBRARY_PATH). Struct layouts mirror the header; the
header's PLLM_API_VERSION is checked against the library's at load time.
"""
import ctypes
import ctypes.util
import os

API_VERSION = 1  # PLLM_API_VERSION these declarations were written for

c_status = ctypes.c_int
c_kv_type = ctypes.c_int


class pllm_string(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("len", ctypes.c_size_t)]


class pllm_model_params(ctypes.Structure):
    _fields_ = [
        ("n_threads", ctypes.c_int32),
        ("use_mmap", ctypes.c_int32),
        ("kv_type", c_kv_type),
        ("tokenizer_path", ctypes.c_char_p),
        ("chat_template", ctypes.c_char_p),
    ]


class pllm_model_info(ctypes.Structure):
    _fields_ = [
        ("architecture", pllm_string),
        ("name", pllm_string),
        ("chat_template", pllm_string),
        ("n_params", ctypes.c_uint64),
        ("file_bytes", ctypes.c_uint64),
        ("n_vocab", ctypes.c_int64),
        ("n_ctx_train", ctypes.c_int64),
        ("n_embd", ctypes.c_int64),
        ("n_ff", ctypes.c_int64),
        ("n_layers", ctypes.c_int64),
        ("n_heads", ctypes.c_int64),
        ("n_kv_heads", ctypes.c_int64),
        ("head_dim", ctypes.c_int64),
        ("bos", ctypes.c_int32),
        ("eos", ctypes.c_int32),
        ("has_tokenizer", ctypes.c_int32),
    ]


class pllm_chat_message(ctypes.Structure):
    _fields_ = [("role", pllm_string), ("content", pllm_string)]


class pllm_session_params(ctypes.Structure):
    _fields_ = [
        ("n_ctx", ctypes.c_int64),
        ("kv_type", c_kv_type),
        ("n_batch", ctypes.c_int32),
        ("n_threads", ctypes.c_int32),
    ]


class pllm_session_info(ctypes.Structure):
    _fields_ = [
        ("n_ctx", ctypes.c_int64),
        ("n_tokens", ctypes.c_int64),
        ("n_cached", ctypes.c_int64),
        ("kv_type", c_kv_type),
    ]


class pllm_sampling_params(ctypes.Structure):
    _fields_ = [
        ("temperature", ctypes.c_float),
        ("top_k", ctypes.c_int32),
        ("top_p", ctypes.c_float),
        ("min_p", ctypes.c_float),
        ("repeat_penalty", ctypes.c_float),
        ("repeat_last_n", ctypes.c_int32),
        ("frequency_penalty", ctypes.c_float),
        ("presence_penalty", ctypes.c_float),
        ("seed", ctypes.c_int64),
    ]


token_callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_char),
                                  ctypes.c_size_t)


class pllm_generate_params(ctypes.Structure):
    _fields_ = [
        ("sampling", pllm_sampling_params),
        ("max_tokens", ctypes.c_int64),
        ("stop", ctypes.POINTER(pllm_string)),
        ("n_stop", ctypes.c_size_t),
        ("echo_prompt", ctypes.c_int32),
        ("on_token", token_callback),
        ("user_data", ctypes.c_void_p),
    ]


class pllm_generate_result(ctypes.Structure):
    _fields_ = [
        ("finish", ctypes.c_int),
        ("prompt_tokens", ctypes.c_int64),
        ("generated_tokens", ctypes.c_int64),
        ("prefill_ms", ctypes.c_double),
        ("decode_ms", ctypes.c_double),
        ("prefill_tokens_per_s", ctypes.c_double),
        ("decode_tokens_per_s", ctypes.c_double),
    ]


_P = ctypes.POINTER
_vp = ctypes.c_void_p  # opaque handles
_size = ctypes.c_size_t
_i32p = _P(ctypes.c_int32)

# name: (restype, argtypes)
_PROTOTYPES = {
    "pllm_version": (ctypes.c_char_p, []),
    "pllm_api_version": (ctypes.c_int, []),
    "pllm_status_name": (ctypes.c_char_p, [c_status]),
    "pllm_last_error": (ctypes.c_char_p, []),
    "pllm_model_default_params": (None, [_P(pllm_model_params)]),
    "pllm_model_load": (c_status, [ctypes.c_char_p, _P(pllm_model_params), _P(_vp)]),
    "pllm_model_free": (None, [_vp]),
    "pllm_model_last_error": (ctypes.c_char_p, [_vp]),
    "pllm_model_get_info": (c_status, [_vp, _P(pllm_model_info)]),
    "pllm_tokenize": (c_status, [_vp, ctypes.c_char_p, _size, ctypes.c_uint32, _i32p, _size, _P(_size)]),
    "pllm_detokenize": (c_status, [_vp, _i32p, _size, ctypes.c_uint32, ctypes.c_char_p, _size, _P(_size)]),
    "pllm_chat_render": (c_status, [_vp, _P(pllm_chat_message), _size, ctypes.c_int, ctypes.c_char_p, _size,
                                    _P(_size)]),
    "pllm_session_default_params": (None, [_P(pllm_session_params)]),
    "pllm_session_create": (c_status, [_vp, _P(pllm_session_params), _P(_vp)]),
    "pllm_session_free": (None, [_vp]),
    "pllm_session_last_error": (ctypes.c_char_p, [_vp]),
    "pllm_session_get_info": (c_status, [_vp, _P(pllm_session_info)]),
    "pllm_session_get_tokens": (c_status, [_vp, _i32p, _size, _P(_size)]),
    "pllm_session_append_tokens": (c_status, [_vp, _i32p, _size]),
    "pllm_session_append_text": (c_status, [_vp, ctypes.c_char_p, _size, ctypes.c_uint32]),
    "pllm_session_set_chat": (c_status, [_vp, _P(pllm_chat_message), _size, ctypes.c_int, _P(_size)]),
    "pllm_generate_default_params": (None, [_P(pllm_generate_params)]),
    "pllm_session_generate": (c_status, [_vp, _P(pllm_generate_params), _P(pllm_generate_result)]),
    "pllm_session_cancel": (c_status, [_vp]),
    "pllm_session_reset": (c_status, [_vp]),
    "pllm_session_save": (c_status, [_vp, ctypes.c_char_p]),
    "pllm_session_load": (c_status, [_vp, ctypes.c_char_p]),
}


def _find_library():
    path = os.environ.get("POCKETLLM_LIBRARY")
    if path:
        if not os.path.exists(path):
            raise OSError(f"POCKETLLM_LIBRARY={path}: no such file")
        return path
    found = ctypes.util.find_library("pocketllm")
    if found:
        return found
    return "libpocketllm.so.0"  # LD_LIBRARY_PATH, which find_library does not search


def load():
    path = _find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise OSError(f"cannot load the pocketllm library ({path}): {e}. Install it (cmake --install) "
                      "or set POCKETLLM_LIBRARY to the path of libpocketllm.so") from e
    for name, (res, args) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    if lib.pllm_api_version() != API_VERSION:
        raise OSError(f"{path} has C API version {lib.pllm_api_version()}; this package speaks version {API_VERSION}")
    return lib
