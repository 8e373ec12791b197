// Keys and values of every past position, per layer: [layer][pos][row], stored as
// f32, f16 or q8. The memory is mapped lazily (zero pages until written), so a
// context only part used costs only what it uses, and creating one is cheap.
//
// q8 (KvType::Q8): each position's row is kv_dim int8 (padded to a multiple of 4),
// then one f32 scale per KV head and block of 32 dims of the head (a last block
// may be shorter: head_dim 8 is one block of 8). Blocks never cross heads, so a
// head's integer dot products need only its own scales; 32 dims per scale keeps
// an outlier channel from flattening the rest of a 64- or 256-dim head. A row is
// quantized on its own when stored, so rewriting a position (after a rollback)
// gives the same bytes as if it had been written first.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/huge_buffer.h"
#include "kernels/table.h"  // kKvQ8Block

namespace pocketllm {

enum class KvType { F32, F16, Q8 };

const char* kv_type_name(KvType t);  // "f32", "f16", "q8"
// The type a name (as kv_type_name spells it) stands for; throws Error for any other.
KvType parse_kv_type(std::string_view name);

class KvCache {
 public:
  // head_dim: the dims per KV head (kv_dim a multiple of it); only q8 uses it. 0: kv_dim.
  KvCache(int64_t n_layers, int64_t n_ctx, int64_t kv_dim, KvType type, int64_t head_dim = 0);
  int64_t n_ctx() const { return n_ctx_; }
  KvType type() const { return type_; }
  size_t bytes() const { return k_.size() + v_.size(); }  // reserved, not resident

  void store(int64_t layer, int64_t pos, const float* k, const float* v);
  // Copies positions [0, n) of every layer from src (same shape and type).
  void copy_prefix(const KvCache& src, int64_t n);
  // Copies n dims from `off` of the keys and values at positions [p0, p1) of a
  // layer as f32: k[(pos - p0) * n + i], v likewise (q8: dequantized). For q8,
  // off and n must cover whole heads.
  void read(int64_t layer, int64_t p0, int64_t p1, int64_t off, int64_t n, float* k, float* v) const;

  // The stored bytes (as type() says) of a layer's keys or values at positions
  // [0, n): a session's state file holds them as they are.
  int64_t n_layers() const { return n_layers_; }
  int64_t kv_dim() const { return kv_dim_; }
  int64_t head_dim() const { return head_dim_; }
  std::span<uint8_t> k_bytes(int64_t layer, int64_t n) { return {k_.data() + index(layer, 0), prefix_bytes(n)}; }
  std::span<uint8_t> v_bytes(int64_t layer, int64_t n) { return {v_.data() + index(layer, 0), prefix_bytes(n)}; }
  std::span<const uint8_t> k_bytes(int64_t layer, int64_t n) const {
    return {k_.data() + index(layer, 0), prefix_bytes(n)};
  }
  std::span<const uint8_t> v_bytes(int64_t layer, int64_t n) const {
    return {v_.data() + index(layer, 0), prefix_bytes(n)};
  }

  // q8 access for attention: a position's row is row_bytes() apart from the
  // next; head h's int8 start at q8_data(..) and its scales (q8_blocks() f32) at
  // q8_scales(..), both in the same row.
  size_t row_bytes() const { return row_bytes_; }
  int64_t q8_blocks() const { return (head_dim_ + kKvQ8Block - 1) / kKvQ8Block; }
  const int8_t* q8_k(int64_t layer, int64_t pos, int64_t head) const {
    return reinterpret_cast<const int8_t*>(k_.data() + index(layer, pos) + head * head_dim_);
  }
  const int8_t* q8_v(int64_t layer, int64_t pos, int64_t head) const {
    return reinterpret_cast<const int8_t*>(v_.data() + index(layer, pos) + head * head_dim_);
  }
  const float* q8_k_scales(int64_t layer, int64_t pos, int64_t head) const {
    return reinterpret_cast<const float*>(k_.data() + index(layer, pos) + scale_off_) + head * q8_blocks();
  }
  const float* q8_v_scales(int64_t layer, int64_t pos, int64_t head) const {
    return reinterpret_cast<const float*>(v_.data() + index(layer, pos) + scale_off_) + head * q8_blocks();
  }

 private:
  size_t prefix_bytes(int64_t n) const { return static_cast<size_t>(n) * row_bytes_; }
  size_t index(int64_t layer, int64_t pos) const { return static_cast<size_t>(layer * n_ctx_ + pos) * row_bytes_; }
  int64_t n_layers_, n_ctx_, kv_dim_, head_dim_;
  KvType type_;
  size_t scale_off_ = 0;  // q8: where a row's scales start
  size_t row_bytes_;
  HugeBuffer k_, v_;
};

}  // namespace pocketllm
