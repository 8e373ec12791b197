#include "model/kv_cache.h"

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/table.h"

namespace pocketllm {

const char* kv_type_name(KvType t) { return t == KvType::F32 ? "f32" : t == KvType::F16 ? "f16" : "q8"; }

KvType parse_kv_type(std::string_view name) {
  for (KvType t : {KvType::F32, KvType::F16, KvType::Q8})
    if (name == kv_type_name(t)) return t;
  fail("unknown KV cache type '{}' (use f32, f16 or q8)", name);
}

KvCache::KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim, KvType type, int64_t head_dim)
    : n_layers_(n_layers), n_ctx_(n_ctx), kv_dim_(kv_dim), head_dim_(head_dim > 0 ? head_dim : kv_dim), type_(type) {
  if (kv_dim_ <= 0 || kv_dim_ % head_dim_ != 0) fail("KV cache: kv_dim {} is not a multiple of head_dim {}", kv_dim_, head_dim_);
  if (type == KvType::Q8) {
    scale_off_ = static_cast<size_t>((kv_dim_ + 3) / 4 * 4);  // the f32 scales stay aligned
    row_bytes_ = scale_off_ + static_cast<size_t>(kv_dim_ / head_dim_ * q8_blocks()) * 4;
  } else {
    row_bytes_ = static_cast<size_t>(kv_dim_) * (type == KvType::F32 ? 4 : 2);
  }
  const size_t n = static_cast<size_t>(n_layers * n_ctx) * row_bytes_;
  try {
    k_ = HugeBuffer(n);
    v_ = HugeBuffer(n);
  } catch (const Error&) {
    fail("cannot allocate a KV cache of {} MiB for a context of {}: use a smaller -c", 2 * n >> 20, n_ctx);
  }
}

void KvCache::store(int64_t layer, int64_t pos, const float* k, const float* v) {
  uint8_t* kr = k_.data() + index(layer, pos);
  uint8_t* vr = v_.data() + index(layer, pos);
  switch (type_) {
    case KvType::F32:
      std::memcpy(kr, k, static_cast<size_t>(kv_dim_) * 4);
      std::memcpy(vr, v, static_cast<size_t>(kv_dim_) * 4);
      return;
    case KvType::F16: {
      auto* kh = reinterpret_cast<uint16_t*>(kr);
      auto* vh = reinterpret_cast<uint16_t*>(vr);
      for (int64_t d = 0; d < kv_dim_; ++d) {
        kh[d] = f32_to_f16(k[d]);
        vh[d] = f32_to_f16(v[d]);
      }
      return;
    }
    case KvType::Q8: {
      const int64_t nb = q8_blocks();
      for (int64_t h = 0; h < kv_dim_ / head_dim_; ++h) {
        const int64_t d0 = h * head_dim_;
        quantize_kv_q8(k + d0, head_dim_, reinterpret_cast<int8_t*>(kr) + d0,
                       reinterpret_cast<float*>(kr + scale_off_) + h * nb);
        quantize_kv_q8(v + d0, head_dim_, reinterpret_cast<int8_t*>(vr) + d0,
                       reinterpret_cast<float*>(vr + scale_off_) + h * nb);
      }
      return;
    }
  }
}

void KvCache::copy_prefix(const KvCache& src, int64_t n) {
  if (src.n_layers_ != n_layers_ || src.kv_dim_ != kv_dim_ || src.type_ != type_ || src.head_dim_ != head_dim_)
    fail("copy_prefix: the two KV caches differ in shape or type");
  if (n < 0 || n > n_ctx_ || n > src.n_ctx_) fail("copy_prefix: {} positions do not fit", n);
  const size_t bytes = prefix_bytes(n);
  for (int64_t l = 0; l < n_layers_ && bytes > 0; ++l) {
    std::memcpy(k_.data() + index(l, 0), src.k_.data() + src.index(l, 0), bytes);
    std::memcpy(v_.data() + index(l, 0), src.v_.data() + src.index(l, 0), bytes);
  }
}

void KvCache::read(int64_t layer, int64_t p0, int64_t p1, int64_t off, int64_t n, float* k, float* v) const {
  if (type_ == KvType::Q8 && (off % head_dim_ != 0 || n % head_dim_ != 0))
    fail("KvCache::read: a q8 cache is read in whole heads");
  const F16RowFn f16_row = active_kernels().f16_to_f32_row;
  for (int64_t pos = p0; pos < p1; ++pos, k += n, v += n) {
    const uint8_t* kr = k_.data() + index(layer, pos);
    const uint8_t* vr = v_.data() + index(layer, pos);
    switch (type_) {
      case KvType::F32:
        std::memcpy(k, kr + off * 4, static_cast<size_t>(n) * 4);
        std::memcpy(v, vr + off * 4, static_cast<size_t>(n) * 4);
        break;
      case KvType::F16:
        f16_row(reinterpret_cast<const uint16_t*>(kr) + off, k, n);
        f16_row(reinterpret_cast<const uint16_t*>(vr) + off, v, n);
        break;
      case KvType::Q8:
        for (int64_t h = off / head_dim_; h < (off + n) / head_dim_; ++h) {
          const int64_t o = h * head_dim_ - off;
          dequantize_kv_q8(q8_k(layer, pos, h), q8_k_scales(layer, pos, h), head_dim_, k + o);
          dequantize_kv_q8(q8_v(layer, pos, h), q8_v_scales(layer, pos, h), head_dim_, v + o);
        }
        break;
    }
  }
}

}  // namespace pocketllm
