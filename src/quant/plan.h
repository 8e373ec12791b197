// Which stored format each tensor of a model gets under a quantization scheme:
// block linears follow the scheme, the head and embedding their own flags, norms
// and biases stay F32.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "quant/ggml_mix.h"
#include "quant/quantize.h"
#include "weights/dtype.h"

namespace pocketllm {

struct QuantPlanOptions {
  std::string scheme = "w4a8";  // w4a8 | w8a8 | w4a16
  int group = 32;               // 0 = per output channel
  std::string head = "q8";      // q8 | q4 | f16
  std::string embed = "q8";     // q8 | f16 (ignored when tied: the head decides)
  bool tied = false;
  bool compat = false;          // only types llama.cpp reads: F16 where a GGML type cannot hold the row
  bool asym = false;            // --asym: 4-bit block linears as Q4_K where rows are whole 256-blocks
  // --type: a llama-quantize preset (quant/ggml_mix.h) instead of the scheme; empty = the scheme.
  std::string ggml_type;
  bool pure = false;      // --pure: every matrix gets the preset's base type
  MixModelShape shape;    // the model's layer count, GQA and tying (for the preset's rules)
};

struct TensorPlan {
  bool quantize = false;
  Scheme scheme;                   // when quantize
  DType float_type = DType::F32;   // when not
  // --type: the GGML type the tensor is stored as (weights/row_codec.h's quantizer);
  // unset for float results (float_type) and in scheme mode.
  std::optional<DType> ggml_type;
  // --asym: stored as calibrated Q4_K (quant/calib/kquant.h) instead of the scheme's type.
  bool asym_k = false;
};

// Throws Error for an unknown scheme/head/embed value or an unsupported group.
void validate_plan(const QuantPlanOptions& o);
TensorPlan plan_tensor(const QuantPlanOptions& o, const std::string& name, int64_t rows, int64_t cols);
// Activation precision recorded in the file (pocketllm.activations).
std::string plan_activations(const QuantPlanOptions& o);

}  // namespace pocketllm
