// Keys and values of every past position, per layer: [layer][pos][kv_dim],
// stored as f32 or f16. The memory is mapped lazily (zero pages until written), so
// a context only part used costs only what it uses, and creating one is cheap.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/huge_buffer.h"

namespace pocketllm {

enum class KvType { F32, F16 };

class KvCache {
 public:
  KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim, KvType type);
  int64_t n_ctx() const { return n_ctx_; }
  KvType type() const { return type_; }
  size_t bytes() const { return k_.size() + v_.size(); }  // reserved, not resident

  void store(int64_t layer, int64_t pos, const float* k, const float* v);
  // Copies positions [0, n) of every layer from src (same shape and type).
  void copy_prefix(const KvCache& src, int64_t n);
  // Copies n dims from `off` of the keys and values at positions [p0, p1) of a
  // layer as f32: k[(pos - p0) * n + i], v likewise.
  void read(int64_t layer, int64_t p0, int64_t p1, int64_t off, int64_t n, float* k, float* v) const;

  // The stored bytes (f32 or f16, as type() says) of a layer's keys or values at
  // positions [0, n): a session's state file holds them as they are.
  int64_t n_layers() const { return n_layers_; }
  int64_t kv_dim() const { return kv_dim_; }
  std::span<uint8_t> k_bytes(int64_t layer, int64_t n) { return {k_.data() + index(layer, 0, 0), prefix_bytes(n)}; }
  std::span<uint8_t> v_bytes(int64_t layer, int64_t n) { return {v_.data() + index(layer, 0, 0), prefix_bytes(n)}; }
  std::span<const uint8_t> k_bytes(int64_t layer, int64_t n) const {
    return {k_.data() + index(layer, 0, 0), prefix_bytes(n)};
  }
  std::span<const uint8_t> v_bytes(int64_t layer, int64_t n) const {
    return {v_.data() + index(layer, 0, 0), prefix_bytes(n)};
  }

 private:
  size_t prefix_bytes(int64_t n) const { return static_cast<size_t>(n * kv_dim_) * elem_; }
  size_t index(int64_t layer, int64_t pos, int64_t off) const {
    return static_cast<size_t>((layer * n_ctx_ + pos) * kv_dim_ + off) * elem_;
  }
  int64_t n_layers_, n_ctx_, kv_dim_;
  KvType type_;
  size_t elem_;
  HugeBuffer k_, v_;
};

}  // namespace pocketllm
