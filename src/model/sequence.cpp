#include "model/sequence.h"

#include <algorithm>

#include "core/error.h"
#include "model/context.h"
#include "model/model.h"

namespace pocketllm {

int64_t resolve_n_ctx(const Model& m, int64_t n_ctx) {
  if (n_ctx <= 0) return std::min<int64_t>(m.cfg.context_length, 4096);
  if (n_ctx > (int64_t{1} << 20)) fail("context size {} is too large", n_ctx);
  return n_ctx;
}

KvType default_kv_type(const Model& m) {
  for (auto& l : m.w.layers)
    if (l.wq.type != DType::F32 && l.wq.type != DType::F16 && l.wq.type != DType::BF16) return KvType::F16;
  return KvType::F32;
}

Sequence::Sequence(const Model& m, int64_t n_ctx, KvType kv_type, const RopeTables& rope)
    : m_(&m),
      rope_(&rope),
      n_ctx_(resolve_n_ctx(m, n_ctx)),
      kv_(m.cfg.n_layers, n_ctx_, m.cfg.kv_dim(), kv_type, m.cfg.head_dim) {}

void Sequence::truncate(int64_t n) { n_past_ = std::clamp<int64_t>(n, 0, n_past_); }

void Sequence::copy_prefix(const Sequence& src, int64_t n) {
  if (src.m_ != m_) fail("copy_prefix: the sequences belong to different models");
  if (n < 0 || n > src.n_past_) fail("copy_prefix: the source holds {} positions, not {}", src.n_past_, n);
  if (src.rope_ != rope_) fail("copy_prefix: the sequences use different RoPE tables (context sizes)");
  kv_.copy_prefix(src.kv_, n);
  n_past_ = n;
}

void Sequence::advance(int64_t n) {
  if (n < 0 || n_past_ + n > n_ctx_) fail("context full: {} + {} tokens exceed the context size {}", n_past_, n, n_ctx_);
  n_past_ += n;
}

}  // namespace pocketllm
