// llama-quantize's presets ("mixes": Q4_K_M, Q6_K, IQ4_XS, ...) for `pocketllm
// quantize --type`: which GGML type each tensor of a dense model gets, written
// with the simple deterministic quantizers of weights/row_codec.h. The rules
// follow llama-quantize's for dense models (no experts): the head (or tied
// embedding) in Q6_K unless the mix is Q8_0 or float, more bits for some
// attn_v / ffn_down / attn_output layers, and a 32-block fallback for rows that
// are not whole 256-blocks. docs/FORMAT.md lists them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "weights/dtype.h"

namespace pocketllm {

struct GgmlMix {
  std::string name;    // llama-quantize's spelling, e.g. Q4_K_M
  uint32_t file_type;  // general.file_type
  DType base;          // the type most block linears get
};

// A mix by name (case-insensitive; Q3_K, Q4_K and Q5_K mean their _M mixes, as
// in llama-quantize); throws Error listing the known names otherwise.
GgmlMix find_ggml_mix(const std::string& name);
std::vector<std::string> ggml_mix_names();

struct MixModelShape {
  int64_t n_layers = 0;
  int64_t n_gqa = 1;  // query heads per KV head
  bool tied = false;  // no output.weight: token_embd is the head
};

// The type of tensor `name` ([rows][cols]) under the mix; nullopt for tensors
// llama-quantize leaves as they are (1-D, norms, anything not a model matrix).
// pure: every matrix gets the base type (llama-quantize --pure), still with the
// fallback for rows the type cannot hold.
std::optional<DType> ggml_mix_tensor_type(const GgmlMix& mix, bool pure, const std::string& name, int64_t rows,
                                          int64_t cols, const MixModelShape& shape);

// Rows of a [rows][cols] f32 matrix quantized to t (rows in parallel).
std::vector<uint8_t> quantize_ggml_rows(DType t, const float* data, int64_t rows, int64_t cols, ThreadPool& pool);

}  // namespace pocketllm
