// Element types of tensors, numbered as GGML numbers them on disk so a GGUF
// type id maps 1:1. GGML's types are a static table (weights/dtype.cpp, sized
// from the block structs of weights/blocks_*.h); ids >= 1024 are pocketllm's own
// formats (docs/FORMAT.md).
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pocketllm {

enum class DType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35,
  // pocketllm formats from 1024 up (docs/FORMAT.md; block structs in weights/blocks_pocketllm.h).
  POCKETLLM_FIRST = 1024,
};

struct DTypeTraits {
  const char* name = nullptr;
  uint32_t block_size = 0;  // elements per block
  uint32_t type_size = 0;   // bytes per block
  // pocketllm formats only: a row of any length is stored with its last block
  // zero-padded, after `row_prefix` bytes of per-row data (e.g. a per-channel scale).
  bool pads_rows = false;
  uint32_t row_prefix = 0;
};

// Traits of a known type (GGML's and pocketllm's), or nullopt for an id no one has defined.
std::optional<DTypeTraits> dtype_traits(DType t);
std::string dtype_name(DType t);
// Parses a user-facing name (case-insensitive: f32, F16, bf16, q8_0...).
std::optional<DType> dtype_from_name(const std::string& name);

// Bytes a row of n elements takes, or nullopt when n is not a multiple of the
// block size or the type is unknown.
std::optional<size_t> dtype_row_bytes(DType t, uint64_t n);

}  // namespace pocketllm
