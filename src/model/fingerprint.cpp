#include "model/fingerprint.h"

#include <algorithm>

#include "core/hash64.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm {
namespace {

uint64_t config_hash(const Model& m) {
  const ModelConfig& c = m.cfg;
  Hash64 h;
  for (int64_t v : {c.n_vocab, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim,
                    c.context_length, c.rope_dim, c.sliding_window, c.rope_llama3.original_context,
                    c.rope_longrope.original_context})
    h.add_value(v);
  for (float v : {c.norm_eps, c.rope_theta, c.rope_linear_factor, c.rope_theta_local, c.embed_scale, c.attn_scale,
                  c.attn_softcap, c.final_softcap, c.rope_llama3.factor, c.rope_llama3.low_freq_factor,
                  c.rope_llama3.high_freq_factor, c.rope_longrope.attn_factor})
    h.add_value(v);
  for (int v : {static_cast<int>(c.rope_style), static_cast<int>(c.act), static_cast<int>(m.act),
                int{c.tied_embeddings}, int{c.qk_norm}, int{c.post_norms}, int{c.online_down_rotation},
                int{c.rope_llama3.enabled}, int{c.rope_longrope.enabled}})
    h.add_value(v);
  for (bool s : c.layer_sliding) h.add_value(s);
  for (auto* f : {&c.rope_longrope.short_factor, &c.rope_longrope.long_factor}) h.add(f->data(), f->size() * 4);
  for (auto& [name, scale] : m.act_scales) {
    h.add(name);
    h.add_value(scale);
  }
  return h.value();
}

uint64_t vocab_hash(const Model& m) {
  Hash64 h;
  if (!m.tokenizer) return h.value();
  const Tokenizer& t = *m.tokenizer;
  h.add(t.model_name());
  h.add(t.pre_name());
  for (int32_t v : {t.n_vocab(), t.bos(), t.eos(), t.eot(), int32_t{t.add_bos()}, int32_t{t.add_eos()}}) h.add_value(v);
  for (int32_t id = 0; id < t.n_vocab(); ++id) {
    h.add(t.piece(id));
    h.add_value(static_cast<uint8_t>(t.token_type(id)));
  }
  return h.value();
}

uint64_t tensors_hash(const Model& m) {
  constexpr size_t kSample = 4096;  // bytes from the start, the middle and the end of each tensor
  Hash64 h;
  for (auto& [name, t] : m.tensors) {
    h.add(name);
    h.add_value(static_cast<int>(t.type));
    for (uint64_t d : t.ne) h.add_value(d);
    h.add_value(static_cast<uint64_t>(t.nbytes));
    if (!t.data) continue;
    const size_t n = std::min(kSample, t.nbytes);
    for (size_t at : {size_t{0}, (t.nbytes - n) / 2, t.nbytes - n}) h.add(t.data + at, n);
  }
  return h.value();
}

}  // namespace

ModelFingerprint fingerprint(const Model& m) {
  return {m.cfg.arch, config_hash(m), vocab_hash(m), tensors_hash(m)};
}

}  // namespace pocketllm
