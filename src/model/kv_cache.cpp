#include "model/kv_cache.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"

namespace pocketllm {

KvCache::KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim, KvType type)
    : n_ctx_(n_ctx), kv_dim_(kv_dim), type_(type), elem_(type == KvType::F32 ? 4 : 2) {
  const size_t n = static_cast<size_t>(n_layers * n_ctx * kv_dim) * elem_;
  try {
    k_.resize(n);
    v_.resize(n);
  } catch (const std::bad_alloc&) {
    fail("cannot allocate a KV cache of {} MiB for a context of {}: use a smaller -c", 2 * n >> 20, n_ctx);
  }
}

void KvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  const size_t i = index(layer, pos, 0);
  if (type_ == KvType::F32) {
    std::memcpy(&k_[i], k, static_cast<size_t>(kv_dim_) * 4);
    std::memcpy(&v_[i], v, static_cast<size_t>(kv_dim_) * 4);
    return;
  }
  auto* kh = reinterpret_cast<uint16_t*>(&k_[i]);
  auto* vh = reinterpret_cast<uint16_t*>(&v_[i]);
  for (int64_t d = 0; d < kv_dim_; ++d) {
    kh[d] = f32_to_f16(k[d]);
    vh[d] = f32_to_f16(v[d]);
  }
}

float KvCache::dot_key(int64_t layer, int64_t pos, int64_t off, const float* q, int64_t n) const {
  const size_t i = index(layer, pos, off);
  float s = 0.0f;
  if (type_ == KvType::F32) {
    const float* k = reinterpret_cast<const float*>(&k_[i]);
    for (int64_t d = 0; d < n; ++d) s += q[d] * k[d];
  } else {
    const uint16_t* k = reinterpret_cast<const uint16_t*>(&k_[i]);
    for (int64_t d = 0; d < n; ++d) s += q[d] * f16_to_f32(k[d]);
  }
  return s;
}

void KvCache::add_value(int64_t layer, int64_t pos, int64_t off, float a, float* out, int64_t n) const {
  const size_t i = index(layer, pos, off);
  if (type_ == KvType::F32) {
    const float* v = reinterpret_cast<const float*>(&v_[i]);
    for (int64_t d = 0; d < n; ++d) out[d] += a * v[d];
  } else {
    const uint16_t* v = reinterpret_cast<const uint16_t*>(&v_[i]);
    for (int64_t d = 0; d < n; ++d) out[d] += a * f16_to_f32(v[d]);
  }
}

}  // namespace pocketllm
