// The C API's text entry points on arbitrary bytes, as an app would pass them on
// (include/pocketllm.h): tokenize, detokenize, chat rendering, appending text,
// chat turns and token ids to a session, a short generation with stop strings, and
// restoring a session from a file of these bytes. Byte 0 picks flags and the
// operations; the rest is split at '\x01' into fields. Every call must return a
// documented status with a message, never PLLM_ERR_INTERNAL or a crash.
#include <pocketllm.h>

#include <cstring>
#include <string>
#include <vector>

#include "fuzz_util.h"

namespace {

const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ m['content'] }}"
    "{% elif m['role'] == 'system' %}{{ m['content'] | upper }}{% else %}{{ ' ' + m['content'] + '\\n' }}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %} {% endif %}";

struct Handles {
  pllm_model* model = nullptr;
  pllm_session* session = nullptr;
};

const Handles& handles() {
  static const Handles h = [] {
    Handles r;
    const std::string tok = fuzzutil::shared_data("models/stories260K/tok512.bin");
    pllm_model_params p;
    pllm_model_default_params(&p);
    p.n_threads = 1;
    p.tokenizer_path = tok.c_str();
    p.chat_template = kTemplate;
    if (pllm_model_load(fuzzutil::shared_data("models/stories260K/stories260K.bin").c_str(), &p, &r.model) != PLLM_OK)
      __builtin_trap();  // the harness needs ../shared
    pllm_session_params sp;
    pllm_session_default_params(&sp);
    sp.n_ctx = 64;  // small: a full context is one of the paths
    if (pllm_session_create(r.model, &sp, &r.session) != PLLM_OK) __builtin_trap();
    return r;
  }();
  return h;
}

// A failed call must say why; PLLM_ERR_INTERNAL is a bug by definition.
void check(pllm_status st) {
  if (st == PLLM_ERR_INTERNAL || st < PLLM_OK || st > PLLM_ERR_INTERNAL) __builtin_trap();
  if (st != PLLM_OK && pllm_last_error()[0] == '\0') __builtin_trap();
}

std::vector<std::string> fields(const uint8_t* data, size_t size) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 1)
      out.emplace_back();
    else
      out.back().push_back(static_cast<char>(data[i]));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)handles();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Handles& h = handles();
  const uint8_t ops = data[0], flags = data[1];
  const auto f = fields(data + 2, size - 2);
  const uint32_t tok_flags = flags & 3, detok_flags = flags & 4 ? PLLM_DETOKENIZE_SKIP_SPECIAL : 0;

  // tokenize: a small buffer first (PLLM_ERR_BUFFER_TOO_SMALL gives the count), then one that fits.
  int32_t small[4];
  size_t n = 0;
  pllm_status st = pllm_tokenize(h.model, f[0].data(), f[0].size(), tok_flags, small, 4, &n);
  check(st);
  std::vector<int32_t> ids;
  if (st == PLLM_ERR_BUFFER_TOO_SMALL) {
    ids.resize(n);
    check(st = pllm_tokenize(h.model, f[0].data(), f[0].size(), tok_flags, ids.data(), ids.size(), &n));
    if (st != PLLM_OK || n != ids.size()) __builtin_trap();
  } else if (st == PLLM_OK) {
    ids.assign(small, small + n);
  }
  for (int32_t id : ids)
    if (id < 0 || id >= 512) __builtin_trap();

  // detokenize the ids, then the raw bytes as ids (out of range ones included).
  std::vector<int32_t> raw((size - 2) / 4);
  if (!raw.empty()) std::memcpy(raw.data(), data + 2, raw.size() * 4);
  for (const auto* v : {&ids, &raw}) {
    char buf[64];
    size_t len = 0;
    st = pllm_detokenize(h.model, v->data(), v->size(), detok_flags, buf, sizeof buf, &len);
    check(st);
    if (st == PLLM_OK && (len >= sizeof buf || buf[len] != '\0')) __builtin_trap();
  }

  // The fields after the first as a conversation: role, content, role, content, ...
  std::vector<pllm_chat_message> msgs;
  for (size_t i = 1; i + 1 < f.size(); i += 2)
    msgs.push_back({{f[i].data(), f[i].size()}, {f[i + 1].data(), f[i + 1].size()}});
  char out[256];
  size_t len = 0;
  check(pllm_chat_render(h.model, msgs.data(), msgs.size(), flags & 8, out, sizeof out, &len));

  // The session: text, a chat, token ids, then a few tokens generated with stop strings.
  check(pllm_session_reset(h.session));
  if (ops & 1) check(pllm_session_append_text(h.session, f[0].data(), f[0].size(), tok_flags));
  if (ops & 2) check(pllm_session_set_chat(h.session, msgs.data(), msgs.size(), flags & 8, &n));
  if (ops & 4) check(pllm_session_append_tokens(h.session, raw.data(), raw.size()));
  if (ops & 8) {
    pllm_generate_params g;
    pllm_generate_default_params(&g);
    g.sampling.temperature = 0;
    g.max_tokens = ops >> 6;
    std::vector<pllm_string> stops;
    for (size_t i = 1; i < f.size() && i < 4; ++i) stops.push_back({f[i].data(), f[i].size()});
    g.stop = stops.data();
    g.n_stop = stops.size();
    g.echo_prompt = flags & 16;
    check(pllm_session_generate(h.session, &g, nullptr));
  }
  // The bytes as a saved state: refused cleanly unless they are one.
  if (ops & 16) check(pllm_session_load(h.session, fuzzutil::write_file("state.pllm", data + 2, size - 2).c_str()));
  return 0;
}
