// pllm_session_*: a conversation's tokens and KV cache (runtime/session.h), one thread at a time.
#include "capi/handles.h"

using namespace pocketllm;
using namespace pocketllm::capi;

namespace {

pllm_kv_type kv_enum(KvType t) {
  return t == KvType::F16 ? PLLM_KV_F16 : t == KvType::Q8 ? PLLM_KV_Q8 : PLLM_KV_F32;
}

ContextParams context_params(const ModelCore& core, const pllm_session_params& p) {
  if (p.n_ctx < 0 || p.n_ctx > (int64_t{1} << 20))
    raise(PLLM_ERR_INVALID_ARGUMENT, "n_ctx {} is not in 0..{}", p.n_ctx, int64_t{1} << 20);
  if (p.n_batch < 0 || p.n_batch > 4096) raise(PLLM_ERR_INVALID_ARGUMENT, "n_batch {} is not in 0..4096", p.n_batch);
  if (p.n_threads < 0 || p.n_threads > 1024)
    raise(PLLM_ERR_INVALID_ARGUMENT, "n_threads {} is not in 0..1024", p.n_threads);
  ContextParams c;
  c.n_ctx = p.n_ctx;
  c.n_batch = p.n_batch > 0 ? p.n_batch : 512;
  c.n_threads = p.n_threads > 0 ? p.n_threads : core.n_threads;
  c.kv_type = kv_type_of(p.kv_type, core.kv_type);
  return c;
}

// A path argument: NUL-terminated bytes, as the file system takes them.
std::string need_path(const char* path) {
  need(path, "path");
  if (!*path) raise(PLLM_ERR_INVALID_ARGUMENT, "path is empty");
  return path;
}

}  // namespace

extern "C" {

void pllm_session_default_params(pllm_session_params* p) {
  if (p) *p = pllm_session_params{0, PLLM_KV_DEFAULT, 0, 0};
}

pllm_status pllm_session_create(pllm_model* model, const pllm_session_params* params, pllm_session** session) {
  return with_model(model, PLLM_ERR_OUT_OF_MEMORY, [&](const ModelCore&) {
    need(session, "the session pointer") = nullptr;
    pllm_session_params p;
    pllm_session_default_params(&p);
    if (params) p = *params;
    *session = new pllm_session(model->core, context_params(*model->core, p));
  });
}

void pllm_session_free(pllm_session* s) {
  if (!s) return;
  s->cancel.store(true);
  int st = s->state.load();
  for (;;) {  // a failed compare_exchange reloads st
    if (st == 0) {
      if (s->state.compare_exchange_weak(st, pllm_session::kBusy)) {
        delete s;
        return;
      }
    } else if (st & pllm_session::kFreePending) {
      return;  // already being freed
    } else if (s->state.compare_exchange_weak(st, st | pllm_session::kFreePending)) {
      return;  // the call running frees it as it returns
    }
  }
}

const char* pllm_session_last_error(const pllm_session* s) { return s ? s->error.get() : ""; }

pllm_status pllm_session_get_info(pllm_session* session, pllm_session_info* info) {
  return with_session(session, PLLM_ERR_INTERNAL, [&](pllm_session& s) {
    need(info, "info");
    *info = pllm_session_info{s.session.n_ctx(), static_cast<int64_t>(s.session.tokens().size()),
                              s.session.n_cached(), kv_enum(s.session.kv_type())};
  });
}

pllm_status pllm_session_get_tokens(pllm_session* session, int32_t* tokens, size_t capacity, size_t* n_tokens) {
  return with_session(session, PLLM_ERR_INTERNAL,
                      [&](pllm_session& s) { copy_out(s.session.tokens(), tokens, capacity, n_tokens); });
}

pllm_status pllm_session_append_tokens(pllm_session* session, const int32_t* tokens, size_t n_tokens) {
  return with_session(session, PLLM_ERR_INVALID_ARGUMENT, [&](pllm_session& s) {
    if (!tokens && n_tokens) raise(PLLM_ERR_INVALID_ARGUMENT, "tokens is NULL with a count of {}", n_tokens);
    s.session.append({tokens, n_tokens});
  });
}

pllm_status pllm_session_append_text(pllm_session* session, const char* text, size_t text_len, uint32_t flags) {
  return with_session(session, PLLM_ERR_INVALID_ARGUMENT, [&](pllm_session& s) {
    s.session.append(tokenize_text(*s.core, text, text_len, flags));
  });
}

pllm_status pllm_session_set_chat(pllm_session* session, const pllm_chat_message* messages, size_t n_messages,
                                  int add_generation_prompt, size_t* n_reused) {
  return with_session(session, PLLM_ERR_TEMPLATE, [&](pllm_session& s) {
    const ChatFormatter& fmt = s.core->chat();
    const std::vector<int32_t> ids = fmt.tokenize(fmt.render(chat_messages(messages, n_messages), add_generation_prompt != 0));
    const size_t kept = s.session.replace(ids);
    if (n_reused) *n_reused = kept;
  });
}

pllm_status pllm_session_reset(pllm_session* session) {
  return with_session(session, PLLM_ERR_INTERNAL, [&](pllm_session& s) { s.session.reset(); });
}

pllm_status pllm_session_cancel(pllm_session* session) {
  return guarded(nullptr, PLLM_ERR_INTERNAL, [&] { need(session, "session").cancel.store(true); });
}

pllm_status pllm_session_save(pllm_session* session, const char* path) {
  return with_session(session, PLLM_ERR_IO, [&](pllm_session& s) { s.session.save(need_path(path)); });
}

pllm_status pllm_session_load(pllm_session* session, const char* path) {
  return with_session(session, PLLM_ERR_FORMAT, [&](pllm_session& s) { s.session.load(need_path(path)); });
}

}  // extern "C"
