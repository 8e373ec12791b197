// Sequential calibration (--sequential): the block linears are quantized block by
// block, and block l's statistics (H = mean x xᵀ and the samples) come from the
// model whose blocks 0..l-1 already hold their quantized weights (dequantized; float
// activations), as GPTQ does. Block l's methods then fit the inputs the file will
// really give it, so they work against the earlier blocks' errors instead of
// ignoring them. Cost: one calibration pass per block after the first (the forward
// runs every block; x xᵀ is only accumulated for the block being quantized), and a
// second f32 copy of the model.
#pragma once
#include <functional>
#include <map>
#include <string>

#include "core/thread_pool.h"
#include "model/model.h"
#include "quant/calib/stats.h"
#include "quantizer/options.h"
#include "quantizer/tensor_quantize.h"

namespace pocketllm {

// Quantizes one tensor (`data`: its float weights) with the given statistics; the
// result's bytes must be dequantizable.
using TensorQuantizer = std::function<QuantizedResult(const std::string& name, int64_t rows, int64_t cols,
                                                      const float* data, const calib::CalibStats& stats)>;

struct SequentialResult {
  std::map<std::string, QuantizedResult> tensors;  // every block linear with statistics, quantized
  calib::CalibStats stats;                         // each block's statistics, as its methods saw them
};

// `first`: the statistics of m's own (unquantized) inputs, used for block 0.
// `quantizes(name, rows, cols)`: whether the plan quantizes that tensor.
SequentialResult quantize_sequential(const Model& m, const calib::CalibStats& first, const MethodOptions& o,
                                     bool second_moments,
                                     const std::function<bool(const std::string&, int64_t, int64_t)>& quantizes,
                                     const TensorQuantizer& quantize, ThreadPool& pool);

}  // namespace pocketllm
