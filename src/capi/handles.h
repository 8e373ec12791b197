// What the C API's opaque handles are, and the boundary every call crosses:
// arguments checked, exceptions turned into a status and a message (this thread's,
// and the handle's), nothing thrown out.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/error.h"
#include "pocketllm.h"
#include "runtime/chat_format.h"
#include "runtime/session.h"

namespace pocketllm::capi {

// A failure with the status the C API reports.
class ApiError : public std::runtime_error {
 public:
  ApiError(pllm_status s, const std::string& what) : std::runtime_error(what), status_(s) {}
  pllm_status status() const { return status_; }

 private:
  pllm_status status_;
};

template <class... Args>
[[noreturn]] void raise(pllm_status s, fmt::format_string<Args...> f, Args&&... args) {
  throw ApiError(s, fmt::format(f, std::forward<Args>(args)...));
}

// A handle's last error. Writes are locked (two threads may fail on one model at
// once); the pointer get() returns stays valid until the next failure recorded.
class ErrorSlot {
 public:
  void set(const std::string& text) noexcept;
  const char* get() const noexcept;

 private:
  mutable std::mutex mu_;
  std::string text_;
};

// Records the exception being handled as this thread's last error (and the slot's,
// when given) and returns its status; `fallback` is the status of a plain Error.
pllm_status record_current(ErrorSlot* slot, pllm_status fallback) noexcept;

// Runs f at the boundary: PLLM_OK, or the failure recorded.
template <class F>
pllm_status guarded(ErrorSlot* slot, pllm_status fallback, F&& f) noexcept {
  try {
    f();
    return PLLM_OK;
  } catch (...) {
    return record_current(slot, fallback);
  }
}

// Argument checks (each throws ApiError PLLM_ERR_INVALID_ARGUMENT naming `what`).
template <class T>
T& need(T* p, const char* what) {
  if (!p) raise(PLLM_ERR_INVALID_ARGUMENT, "{} is NULL", what);
  return *p;
}
// UTF-8 text of explicit length (NULL allowed only for length 0).
std::string_view need_text(const char* p, size_t n, const char* what);
void need_flags(uint32_t flags, uint32_t allowed, const char* call);
// Writes s and a NUL into out[capacity]; *len = s.size() (PLLM_ERR_BUFFER_TOO_SMALL when it does not fit).
void copy_out(const std::string& s, char* out, size_t capacity, size_t* len);
void copy_out(const std::vector<int32_t>& ids, int32_t* out, size_t capacity, size_t* n);
// An enum's bits as the app passed them: a C caller may pass any int (a C++ enum load
// of a value outside the enumerators' range would be undefined behaviour).
int enum_bits(const void* e);
KvType kv_type_of(const pllm_kv_type& t, KvType dflt);
std::vector<ChatMessage> chat_messages(const pllm_chat_message* msgs, size_t n);

struct ModelCore;
// text -> ids with pllm_tokenize's flags and checks.
std::vector<int32_t> tokenize_text(const ModelCore& core, const char* text, size_t len, uint32_t flags);

// A loaded model and what every session and text call of it shares; immutable.
struct ModelCore {
  std::unique_ptr<Model> model;
  std::string chat_template;              // what chat rendering uses (empty: plain text)
  std::unique_ptr<ChatFormatter> formatter;  // null without a tokenizer or when the template does not parse
  std::string template_error;             // why it does not parse: chat calls fail with it, the load does not
  int n_threads = 0;
  KvType kv_type = KvType::F32;
  const Tokenizer& tokenizer() const;     // throws PLLM_ERR_UNSUPPORTED without one
  const ChatFormatter& chat() const;
};

}  // namespace pocketllm::capi

struct pllm_model {
  // Sessions hold the core too: it outlives the handle until the last one is freed.
  std::shared_ptr<const pocketllm::capi::ModelCore> core;
  mutable pocketllm::capi::ErrorSlot error;  // model calls are const (and may run on many threads)
};

struct pllm_session {
  pllm_session(std::shared_ptr<const pocketllm::capi::ModelCore> c, const pocketllm::ContextParams& p)
      : core(std::move(c)), session(*core->model, p) {}
  std::shared_ptr<const pocketllm::capi::ModelCore> core;
  pocketllm::Session session;
  pocketllm::capi::ErrorSlot error;
  // kBusy while a call runs; kFreePending when pllm_session_free came during one (the
  // call frees the session as it returns).
  static constexpr int kBusy = 1, kFreePending = 2;
  std::atomic<int> state{0};
  std::atomic<bool> cancel{false};
};

namespace pocketllm::capi {

// Runs f(core) for a model call (a NULL model is recorded for this thread only).
template <class F>
pllm_status with_model(const pllm_model* m, pllm_status fallback, F&& f) noexcept {
  if (!m) return guarded(nullptr, fallback, [] { raise(PLLM_ERR_INVALID_ARGUMENT, "model is NULL"); });
  return guarded(&m->error, fallback, [&] { f(*m->core); });
}

// Runs f(session) holding the session: PLLM_ERR_BUSY (recorded for this thread only:
// the session's own message belongs to the thread using it) when another call runs.
template <class F>
pllm_status with_session(pllm_session* s, pllm_status fallback, F&& f) noexcept {
  if (!s) return guarded(nullptr, fallback, [] { raise(PLLM_ERR_INVALID_ARGUMENT, "session is NULL"); });
  int idle = 0;
  if (!s->state.compare_exchange_strong(idle, pllm_session::kBusy))
    return guarded(nullptr, fallback, [] {
      raise(PLLM_ERR_BUSY, "the session is in use by another call (one thread at a time; pllm_session_cancel "
                           "is the exception)");
    });
  const pllm_status st = guarded(&s->error, fallback, [&] { f(*s); });
  if (s->state.fetch_and(~pllm_session::kBusy) & pllm_session::kFreePending) delete s;
  return st;
}

}  // namespace pocketllm::capi
