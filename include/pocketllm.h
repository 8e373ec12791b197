/* pocketllm C API: load a model, tokenize, render a chat with the model's template,
 * run sessions (a conversation's KV cache) that generate text with a per-token
 * callback, and save/restore a session to a file.
 *
 * C99 and C++. Every call returns a pllm_status; on failure the message is
 * readable with pllm_last_error() (this thread) and, for calls on a handle,
 * pllm_model_last_error() / pllm_session_last_error(). No C++ exception, type or
 * allocation crosses this boundary. Text is UTF-8 with explicit lengths (not
 * NUL-terminated unless said); file paths are NUL-terminated.
 *
 * Threads: a model is immutable once loaded and may be used from any number of
 * threads at once. A session is used by one thread at a time: a call that finds
 * it in use by another returns PLLM_ERR_BUSY; pllm_session_cancel() is the one
 * call meant for another thread. Full reference: docs/API.md. Apache-2.0. */
#ifndef POCKETLLM_H
#define POCKETLLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define PLLM_API
#else
#define PLLM_API __attribute__((visibility("default")))
#endif

/* The version of this header's API: a program compares it with pllm_api_version()
 * of the library it loaded. Bumped on every incompatible change (structs included). */
#define PLLM_API_VERSION 1
#define PLLM_VERSION_MAJOR 0
#define PLLM_VERSION_MINOR 1
#define PLLM_VERSION_PATCH 0

typedef enum pllm_status {
  PLLM_OK = 0,
  PLLM_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a value out of range, invalid UTF-8, an unknown token id */
  PLLM_ERR_BUFFER_TOO_SMALL = 2, /* the output did not fit: the length argument says what is needed */
  PLLM_ERR_BUSY = 3,             /* another thread is inside a call on this session */
  PLLM_ERR_STATE = 4,            /* a call in the wrong order (e.g. generate on an empty session) */
  PLLM_ERR_CONTEXT_FULL = 5,     /* the tokens do not fit in the session's context */
  PLLM_ERR_IO = 6,               /* a file cannot be opened, read or written */
  PLLM_ERR_FORMAT = 7,           /* a model or state file is damaged or not understood */
  PLLM_ERR_MISMATCH = 8,         /* a state file of another model (or context size, KV type) */
  PLLM_ERR_TEMPLATE = 9,         /* the chat template raised an error */
  PLLM_ERR_OUT_OF_MEMORY = 10,
  PLLM_ERR_UNSUPPORTED = 11,     /* the model cannot do this (text calls on a model without a tokenizer) */
  PLLM_ERR_INTERNAL = 12,        /* a bug: please report it with the message */
  PLLM_STATUS_FORCE_INT_ = 0x7fffffff /* not a status: makes any int a valid value of the type */
} pllm_status;

typedef enum pllm_kv_type {
  PLLM_KV_DEFAULT = 0, /* f32 for float models, f16 for quantized ones (as the CLI) */
  PLLM_KV_F32 = 1,
  PLLM_KV_F16 = 2,
  PLLM_KV_Q8 = 3,      /* int8 keys and values, one f32 scale per 32 dims of a head */
  PLLM_KV_FORCE_INT_ = 0x7fffffff /* not a type: any int an app passes is a value the library can check */
} pllm_kv_type;

typedef enum pllm_finish {
  PLLM_FINISH_NONE = 0,
  PLLM_FINISH_EOG = 1,         /* the model ended its turn (an end-of-generation token) */
  PLLM_FINISH_STOP_STRING = 2, /* a stop string appeared (it is not part of the text) */
  PLLM_FINISH_LENGTH = 3,      /* max_tokens reached */
  PLLM_FINISH_CONTEXT = 4,     /* the session's context is full */
  PLLM_FINISH_CANCELLED = 5,   /* the callback returned non-zero, or pllm_session_cancel() */
  PLLM_FINISH_FORCE_INT_ = 0x7fffffff
} pllm_finish;

/* Text with an explicit length (data need not be NUL-terminated; NULL only with len 0). */
typedef struct pllm_string {
  const char* data;
  size_t len;
} pllm_string;

typedef struct pllm_model pllm_model;
typedef struct pllm_session pllm_session;

/* ---- library ---- */
PLLM_API const char* pllm_version(void); /* "0.1.0" */
PLLM_API int pllm_api_version(void);     /* PLLM_API_VERSION of the library */
PLLM_API const char* pllm_status_name(pllm_status status); /* "PLLM_ERR_BUSY", ...; never NULL */
/* The message of the last failed call on this thread ("" when none). Valid until
 * this thread's next failing call. */
PLLM_API const char* pllm_last_error(void);

/* ---- model ---- */
typedef struct pllm_model_params {
  int32_t n_threads;          /* threads per session; 0: physical cores */
  int32_t use_mmap;           /* non-zero (default): map the file instead of reading it */
  pllm_kv_type kv_type;       /* sessions' default KV cache type */
  const char* tokenizer_path; /* NULL, or a tokenizer file (llama2.c tokenizer.bin, tokenizer.json, GGUF) */
  const char* chat_template;  /* NULL, or a Jinja chat template (NUL-terminated) replacing the model's */
} pllm_model_params;

PLLM_API void pllm_model_default_params(pllm_model_params* params);
/* Loads a GGUF file, a Hugging Face folder or a llama2.c checkpoint. params may be
 * NULL (defaults). On failure *model is NULL and pllm_last_error() says why. */
PLLM_API pllm_status pllm_model_load(const char* path, const pllm_model_params* params, pllm_model** model);
/* Releases the caller's reference: the model stays alive until its last session is
 * freed. NULL is a no-op. */
PLLM_API void pllm_model_free(pllm_model* model);
/* The last error of a call on this model ("" when none; "" for NULL). Valid until the
 * next failing call on the model; pllm_last_error() is the safe choice when several
 * threads share the model. */
PLLM_API const char* pllm_model_last_error(const pllm_model* model);

typedef struct pllm_model_info {
  pllm_string architecture;  /* "llama", "qwen2", "gemma3", ... */
  pllm_string name;          /* may be empty */
  pllm_string chat_template; /* what pllm_chat_render uses; empty: messages joined as plain text */
  uint64_t n_params;
  uint64_t file_bytes;
  int64_t n_vocab, n_ctx_train, n_embd, n_ff, n_layers, n_heads, n_kv_heads, head_dim;
  int32_t bos, eos;          /* -1 when the vocabulary has none */
  int32_t has_tokenizer;     /* 0: tokenize/detokenize/chat/append_text fail with PLLM_ERR_UNSUPPORTED */
} pllm_model_info;
/* Strings point into the model and stay valid while it lives. */
PLLM_API pllm_status pllm_model_get_info(const pllm_model* model, pllm_model_info* info);

/* ---- text ---- */
enum {
  PLLM_TOKENIZE_ADD_SPECIAL = 1,   /* BOS/EOS as the tokenizer's metadata asks */
  PLLM_TOKENIZE_PARSE_SPECIAL = 2, /* "<|im_start|>" and the like become their control tokens */
  PLLM_DETOKENIZE_SKIP_SPECIAL = 4 /* leave out special tokens (BOS, <|im_end|>, ...) */
};
/* text -> ids. With *n_tokens > capacity the call returns PLLM_ERR_BUFFER_TOO_SMALL and
 * *n_tokens is the count needed (tokens may be NULL with capacity 0 to ask). */
PLLM_API pllm_status pllm_tokenize(const pllm_model* model, const char* text, size_t text_len, uint32_t flags,
                                   int32_t* tokens, size_t capacity, size_t* n_tokens);
/* ids -> text (invalid UTF-8 from byte tokens becomes U+FFFD). Writes *text_len bytes and
 * a NUL after them; needs capacity >= *text_len + 1, else PLLM_ERR_BUFFER_TOO_SMALL with
 * *text_len the length needed. */
PLLM_API pllm_status pllm_detokenize(const pllm_model* model, const int32_t* tokens, size_t n_tokens, uint32_t flags,
                                     char* text, size_t capacity, size_t* text_len);

typedef struct pllm_chat_message {
  pllm_string role; /* "system", "user", "assistant", ... */
  pllm_string content;
} pllm_chat_message;
/* Renders a conversation with the model's chat template exactly as transformers does
 * (add_generation_prompt non-zero: ends with the assistant's turn header). Output as
 * pllm_detokenize (NUL-terminated, PLLM_ERR_BUFFER_TOO_SMALL with the length needed). */
PLLM_API pllm_status pllm_chat_render(const pllm_model* model, const pllm_chat_message* messages, size_t n_messages,
                                      int add_generation_prompt, char* text, size_t capacity, size_t* text_len);

/* ---- session: one conversation (KV cache, tokens) ---- */
typedef struct pllm_session_params {
  int64_t n_ctx;         /* context size; 0: the model's, at most 4096 */
  pllm_kv_type kv_type;  /* PLLM_KV_DEFAULT: the model params' */
  int32_t n_batch;       /* tokens per prefill pass; 0: 512 */
  int32_t n_threads;     /* 0: the model params' */
} pllm_session_params;

PLLM_API void pllm_session_default_params(pllm_session_params* params);
/* params may be NULL (defaults). The session holds a reference to the model. */
PLLM_API pllm_status pllm_session_create(pllm_model* model, const pllm_session_params* params, pllm_session** session);
/* NULL is a no-op. Freeing a session another thread is generating with cancels that
 * generation and frees the session when the call returns. */
PLLM_API void pllm_session_free(pllm_session* session);
/* As pllm_model_last_error, for calls on this session. */
PLLM_API const char* pllm_session_last_error(const pllm_session* session);

typedef struct pllm_session_info {
  int64_t n_ctx;      /* context size */
  int64_t n_tokens;   /* tokens in the session (prompt, appended and generated) */
  int64_t n_cached;   /* of them, those whose keys/values are in the cache */
  pllm_kv_type kv_type;
} pllm_session_info;
PLLM_API pllm_status pllm_session_get_info(pllm_session* session, pllm_session_info* info);
/* The session's tokens; capacity rules as pllm_tokenize. */
PLLM_API pllm_status pllm_session_get_tokens(pllm_session* session, int32_t* tokens, size_t capacity,
                                             size_t* n_tokens);

/* Appends tokens; they are run (prefilled) by the next generate. PLLM_ERR_CONTEXT_FULL
 * (nothing appended) when they do not fit. */
PLLM_API pllm_status pllm_session_append_tokens(pllm_session* session, const int32_t* tokens, size_t n_tokens);
/* Tokenizes (flags as pllm_tokenize) and appends. */
PLLM_API pllm_status pllm_session_append_text(pllm_session* session, const char* text, size_t text_len,
                                              uint32_t flags);
/* The session becomes the rendered conversation (tokenized with special tokens, BOS
 * as the tokenizer wants): the longest common prefix with what the session holds
 * stays cached and only the rest is prefilled by the next generate. Pass the whole
 * conversation each turn (earlier answers included). *n_reused (may be NULL): the
 * tokens kept. */
PLLM_API pllm_status pllm_session_set_chat(pllm_session* session, const pllm_chat_message* messages,
                                           size_t n_messages, int add_generation_prompt, size_t* n_reused);

typedef struct pllm_sampling_params {
  float temperature;       /* 0: greedy */
  int32_t top_k;           /* <= 0: off */
  float top_p;             /* >= 1: off */
  float min_p;             /* <= 0: off */
  float repeat_penalty;    /* 1: off */
  int32_t repeat_last_n;
  float frequency_penalty; /* 0: off */
  float presence_penalty;  /* 0: off */
  int64_t seed;            /* < 0: random */
} pllm_sampling_params;

/* Called after every token drawn, on the generating thread, with the text that can
 * be shown now (UTF-8, complete characters, often empty; valid during the call).
 * token is -1 for the echoed prompt (echo_prompt). Return 0 to go on, non-zero to stop
 * (PLLM_FINISH_CANCELLED). It must not call into the same session (PLLM_ERR_BUSY). */
typedef int (*pllm_token_callback)(void* user_data, int32_t token, const char* text, size_t text_len);

typedef struct pllm_generate_params {
  pllm_sampling_params sampling;
  int64_t max_tokens;       /* tokens to generate; < 0: until end of generation or the context is full */
  const pllm_string* stop;  /* stop strings (n_stop of them; NULL when 0) */
  size_t n_stop;
  int32_t echo_prompt;      /* non-zero: first pass the session's tokens as text (token -1), and
                               continue that text (a completion); 0: the answer is text of its own */
  pllm_token_callback on_token; /* may be NULL */
  void* user_data;
} pllm_generate_params;

typedef struct pllm_generate_result {
  pllm_finish finish;
  int64_t prompt_tokens;     /* tokens prefilled by this call */
  int64_t generated_tokens;  /* tokens drawn (an end-of-generation token included) */
  double prefill_ms, decode_ms;
  double prefill_tokens_per_s, decode_tokens_per_s;
} pllm_generate_result;

PLLM_API void pllm_generate_default_params(pllm_generate_params* params);
/* Prefills what was appended since the last call, then draws tokens until the
 * generation finishes; the tokens drawn become part of the session (the next call
 * continues after them). PLLM_ERR_STATE on an empty session. result may be NULL.
 * A stop by the callback or by pllm_session_cancel() is PLLM_OK with
 * finish = PLLM_FINISH_CANCELLED. */
PLLM_API pllm_status pllm_session_generate(pllm_session* session, const pllm_generate_params* params,
                                           pllm_generate_result* result);
/* Stops the generate call in progress on this session after its current token (safe
 * from any thread, and from the callback); a no-op when none is in progress. */
PLLM_API pllm_status pllm_session_cancel(pllm_session* session);
/* Forgets every token (the context is empty again). */
PLLM_API pllm_status pllm_session_reset(pllm_session* session);

/* Writes the session's tokens and cached keys/values to a file (atomically: the file
 * is whole or absent). */
PLLM_API pllm_status pllm_session_save(pllm_session* session, const char* path);
/* Replaces the session's state with a saved one, so generation resumes without a
 * prefill. PLLM_ERR_MISMATCH when the file is of another model, context size or KV
 * type (the session is unchanged); PLLM_ERR_FORMAT when it is damaged (the session is
 * then empty). */
PLLM_API pllm_status pllm_session_load(pllm_session* session, const char* path);

#ifdef __cplusplus
}
#endif
#endif /* POCKETLLM_H */
