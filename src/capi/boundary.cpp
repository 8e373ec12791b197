// The C API's boundary: statuses and messages, argument checks, output buffers.
#include <cstring>
#include <new>

#include "capi/handles.h"
#include "runtime/session_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_util.h"

namespace pocketllm::capi {
namespace {

thread_local std::string t_last_error;

// Keeps a message without throwing: an allocation failure leaves a fixed text.
void store(std::string& dst, const std::string& text) noexcept {
  try {
    dst = text;
  } catch (...) {
    dst.clear();  // no allocation: the buffer is kept
  }
}

}  // namespace

void ErrorSlot::set(const std::string& text) noexcept {
  std::lock_guard lock(mu_);
  store(text_, text);
}

const char* ErrorSlot::get() const noexcept {
  std::lock_guard lock(mu_);
  return text_.c_str();
}

pllm_status record_current(ErrorSlot* slot, pllm_status fallback) noexcept {
  pllm_status st = PLLM_ERR_INTERNAL;
  std::string msg;
  try {
    try {
      throw;
    } catch (const ApiError& e) {
      st = e.status();
      msg = e.what();
    } catch (const ContextFullError& e) {
      st = PLLM_ERR_CONTEXT_FULL;
      msg = e.what();
    } catch (const CallOrderError& e) {
      st = PLLM_ERR_STATE;
      msg = e.what();
    } catch (const SessionFileError& e) {
      using K = SessionFileError::Kind;
      st = e.kind() == K::Io ? PLLM_ERR_IO : e.kind() == K::Mismatch ? PLLM_ERR_MISMATCH : PLLM_ERR_FORMAT;
      msg = e.what();
    } catch (const Error& e) {
      st = fallback;
      msg = e.what();
    } catch (const std::bad_alloc&) {
      st = PLLM_ERR_OUT_OF_MEMORY;
      msg = "out of memory";
    } catch (const std::exception& e) {
      msg = std::string("internal error: ") + e.what();
    } catch (...) {
      msg = "internal error: an unknown exception";
    }
  } catch (...) {  // building the message itself failed (out of memory)
    st = PLLM_ERR_OUT_OF_MEMORY;
  }
  if (msg.empty()) msg = pllm_status_name(st);
  store(t_last_error, msg);
  if (slot) slot->set(msg);
  return st;
}

std::string_view need_text(const char* p, size_t n, const char* what) {
  if (!p && n) raise(PLLM_ERR_INVALID_ARGUMENT, "{} is NULL with a length of {}", what, n);
  if (!p) return {};
  const std::string_view s(p, n);
  for (size_t i = 0; i < n;) {
    bool valid = false;
    const size_t len = tok::utf8_scan(s, i, valid);
    if (!valid) raise(PLLM_ERR_INVALID_ARGUMENT, "{} is not valid UTF-8 (at byte {})", what, i);
    i += len;
  }
  return s;
}

void need_flags(uint32_t flags, uint32_t allowed, const char* call) {
  if (flags & ~allowed) raise(PLLM_ERR_INVALID_ARGUMENT, "{}: unknown flags 0x{:x}", call, flags & ~allowed);
}

void copy_out(const std::string& s, char* out, size_t capacity, size_t* len) {
  need(len, "the length pointer");
  if (!out && capacity) raise(PLLM_ERR_INVALID_ARGUMENT, "the output buffer is NULL with a capacity of {}", capacity);
  *len = s.size();
  if (capacity < s.size() + 1)
    raise(PLLM_ERR_BUFFER_TOO_SMALL, "the text needs {} bytes and a NUL; the buffer holds {}", s.size(), capacity);
  s.copy(out, s.size());
  out[s.size()] = '\0';
}

void copy_out(const std::vector<int32_t>& ids, int32_t* out, size_t capacity, size_t* n) {
  need(n, "the count pointer");
  if (!out && capacity) raise(PLLM_ERR_INVALID_ARGUMENT, "the token buffer is NULL with a capacity of {}", capacity);
  *n = ids.size();
  if (capacity < ids.size())
    raise(PLLM_ERR_BUFFER_TOO_SMALL, "{} tokens do not fit in a buffer of {}", ids.size(), capacity);
  std::copy(ids.begin(), ids.end(), out);
}

int enum_bits(const void* e) {
  int v;
  std::memcpy(&v, e, sizeof v);
  return v;
}

KvType kv_type_of(const pllm_kv_type& t, KvType dflt) {
  switch (enum_bits(&t)) {
    case PLLM_KV_DEFAULT: return dflt;
    case PLLM_KV_F32: return KvType::F32;
    case PLLM_KV_F16: return KvType::F16;
    case PLLM_KV_Q8: return KvType::Q8;
  }
  raise(PLLM_ERR_INVALID_ARGUMENT, "kv_type {} is not a pllm_kv_type", enum_bits(&t));
}

std::vector<ChatMessage> chat_messages(const pllm_chat_message* msgs, size_t n) {
  if (!msgs && n) raise(PLLM_ERR_INVALID_ARGUMENT, "messages is NULL with a count of {}", n);
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < n; ++i) {
    const std::string_view role = need_text(msgs[i].role.data, msgs[i].role.len, "a message's role");
    if (role.empty()) raise(PLLM_ERR_INVALID_ARGUMENT, "message {} has an empty role", i);
    out.push_back({std::string(role), std::string(need_text(msgs[i].content.data, msgs[i].content.len,
                                                            "a message's content"))});
  }
  return out;
}

const Tokenizer& ModelCore::tokenizer() const {
  if (!model->tokenizer)
    raise(PLLM_ERR_UNSUPPORTED, "{} has no tokenizer: load it with tokenizer_path set (e.g. tokenizer.bin)", model->path);
  return *model->tokenizer;
}

const ChatFormatter& ModelCore::chat() const {
  tokenizer();
  if (!formatter) raise(PLLM_ERR_TEMPLATE, "{}", template_error);
  return *formatter;
}

}  // namespace pocketllm::capi

using pocketllm::capi::t_last_error;

extern "C" {

const char* pllm_last_error(void) { return t_last_error.c_str(); }

const char* pllm_status_name(pllm_status status) {
  switch (pocketllm::capi::enum_bits(&status)) {
    case PLLM_OK: return "PLLM_OK";
    case PLLM_ERR_INVALID_ARGUMENT: return "PLLM_ERR_INVALID_ARGUMENT";
    case PLLM_ERR_BUFFER_TOO_SMALL: return "PLLM_ERR_BUFFER_TOO_SMALL";
    case PLLM_ERR_BUSY: return "PLLM_ERR_BUSY";
    case PLLM_ERR_STATE: return "PLLM_ERR_STATE";
    case PLLM_ERR_CONTEXT_FULL: return "PLLM_ERR_CONTEXT_FULL";
    case PLLM_ERR_IO: return "PLLM_ERR_IO";
    case PLLM_ERR_FORMAT: return "PLLM_ERR_FORMAT";
    case PLLM_ERR_MISMATCH: return "PLLM_ERR_MISMATCH";
    case PLLM_ERR_TEMPLATE: return "PLLM_ERR_TEMPLATE";
    case PLLM_ERR_OUT_OF_MEMORY: return "PLLM_ERR_OUT_OF_MEMORY";
    case PLLM_ERR_UNSUPPORTED: return "PLLM_ERR_UNSUPPORTED";
    case PLLM_ERR_INTERNAL: return "PLLM_ERR_INTERNAL";
  }
  return "PLLM_ERR_UNKNOWN";
}

}  // extern "C"
