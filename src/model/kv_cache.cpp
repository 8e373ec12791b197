#include "model/kv_cache.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/table.h"

namespace pocketllm {

KvCache::KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim, KvType type)
    : n_layers_(n_layers),
      n_ctx_(n_ctx), kv_dim_(kv_dim), type_(type), elem_(type == KvType::F32 ? 4 : 2) {
  const size_t n = static_cast<size_t>(n_layers * n_ctx * kv_dim) * elem_;
  try {
    k_ = HugeBuffer(n);
    v_ = HugeBuffer(n);
  } catch (const Error&) {
    fail("cannot allocate a KV cache of {} MiB for a context of {}: use a smaller -c", 2 * n >> 20, n_ctx);
  }
}

void KvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  const size_t i = index(layer, pos, 0);
  if (type_ == KvType::F32) {
    std::memcpy(k_.data() + i, k, static_cast<size_t>(kv_dim_) * 4);
    std::memcpy(v_.data() + i, v, static_cast<size_t>(kv_dim_) * 4);
    return;
  }
  auto* kh = reinterpret_cast<uint16_t*>(k_.data() + i);
  auto* vh = reinterpret_cast<uint16_t*>(v_.data() + i);
  for (int64_t d = 0; d < kv_dim_; ++d) {
    kh[d] = f32_to_f16(k[d]);
    vh[d] = f32_to_f16(v[d]);
  }
}

void KvCache::copy_prefix(const KvCache& src, int64_t n) {
  if (src.n_layers_ != n_layers_ || src.kv_dim_ != kv_dim_ || src.type_ != type_)
    fail("copy_prefix: the two KV caches differ in shape or type");
  if (n < 0 || n > n_ctx_ || n > src.n_ctx_) fail("copy_prefix: {} positions do not fit", n);
  const size_t bytes = static_cast<size_t>(n * kv_dim_) * elem_;
  for (int64_t l = 0; l < n_layers_ && bytes > 0; ++l) {
    std::memcpy(k_.data() + index(l, 0, 0), src.k_.data() + src.index(l, 0, 0), bytes);
    std::memcpy(v_.data() + index(l, 0, 0), src.v_.data() + src.index(l, 0, 0), bytes);
  }
}

void KvCache::read(int64_t layer, int64_t p0, int64_t p1, int64_t off, int64_t n, float* k, float* v) const {
  const F16RowFn f16_row = active_kernels().f16_to_f32_row;
  for (int64_t pos = p0; pos < p1; ++pos, k += n, v += n) {
    const size_t i = index(layer, pos, off);
    if (type_ == KvType::F32) {
      std::memcpy(k, k_.data() + i, static_cast<size_t>(n) * 4);
      std::memcpy(v, v_.data() + i, static_cast<size_t>(n) * 4);
    } else {
      f16_row(reinterpret_cast<const uint16_t*>(k_.data() + i), k, n);
      f16_row(reinterpret_cast<const uint16_t*>(v_.data() + i), v, n);
    }
  }
}

}  // namespace pocketllm
