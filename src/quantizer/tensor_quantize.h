// The quantizer's per-tensor stages, in the order quantize_model() runs them on
// each tensor as the exporter hands it over:
//   quantize_tensor    the plan's type: a GGML preset type, calibrated codes
//                      (GPTQ / clip / refit against the calibration Hessian), plain
//                      RTN, or a float type for what stays unquantized;
//   search_static_act  --act static: one activation scale per block linear input,
//                      searched on the calibration samples;
//   tile_for_kernels   pocketllm's integer matrices as the kernels' 16-row tiles.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "model/config.h"
#include "quant/calib/act_static.h"
#include "quant/calib/gptq.h"
#include "quant/calib/stats.h"
#include "quant/plan.h"
#include "quantizer/export_gguf.h"

namespace pocketllm {

struct QuantizedResult {
  ExportedTensor tensor;
  // Calibrated codes: RTN's and the calibrated weights' output error on the
  // calibration Hessian ({"tensor", "rtn_output_error", "calibrated_output_error"}).
  std::optional<nlohmann::json> calib_report;
};

// `data` is [rows][cols] floats; `stats` may be empty (no calibration).
QuantizedResult quantize_tensor(const TensorPlan& p, const std::string& name, int64_t rows, int64_t cols,
                                const float* data, const calib::CalibStats& stats, const calib::CalibMethod& method,
                                ThreadPool& pool);

// A copy of m whose --learn draws a progress bar for tensor `name` on stderr.
calib::CalibMethod with_learn_progress(const calib::CalibMethod& m, const std::string& name);
// Prints what --learn did to one tensor and returns it as JSON.
nlohmann::json learn_report(const calib::LearnSummary& s, int64_t rows);

// The static activation scale of a quantized block linear (its stored weights `e`)
// from its calibration samples, with the errors that justify it as JSON.
struct StaticActResult {
  calib::StaticActChoice choice;
  nlohmann::json report;
};
StaticActResult search_static_act(const std::string& name, const float* data, const QuantizedTensor& q,
                                  const calib::LinearStats& st, ThreadPool& pool);

// GGML's own types (llama.cpp reads them); the rest are pocketllm's (docs/FORMAT.md).
bool is_standard(DType t);

// Rewrites e as the tiled type of its integer type, so it loads in place (no
// repacking, no second copy), when the kernels have one and the file may hold it
// (not --compat): always for pocketllm's types, for Q4_0/Q8_0 only when
// `tile_standard` (--tiles, or the file needs pocketllm anyway). A fused tensor
// (phi3's attn_qkv, [gate; up] ffn_up) is tiled block by block: the loader views
// each block as its own matrix, so no tile may mix rows of two blocks.
void tile_for_kernels(ExportedTensor& e, const ModelConfig& cfg, const std::string& name, int64_t rows, int64_t cols,
                      bool compat, bool tile_standard);

}  // namespace pocketllm
