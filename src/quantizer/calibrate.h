// The quantizer's calibrate stage: runs the model over a calibration text and
// keeps, per block linear input, what the methods need (quant/calib/stats.h). The
// observer is the engine's own (Engine::set_observer): nothing global is set.
#pragma once
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "quant/calib/stats.h"
#include "quantizer/options.h"

namespace pocketllm {

// Per linear input: max |x|, the first o.calib_samples rows and (second_moments) x xᵀ
// (memory: cols² doubles per distinct input), over o.calib_tokens tokens of o.calib_file
// in chunks of o.calib_ctx; a progress bar on stderr names the run (`what`). only_layer >= 0:
// the inputs of that block's linears only (the forward still runs every block).
calib::CalibStats collect_calib_stats(const Model& m, const MethodOptions& o, bool second_moments, const char* what,
                                      int64_t only_layer = -1);

// Prints, per layer and linear input, how far single channels stand out, and returns it as JSON.
nlohmann::json print_activation_report(const calib::CalibStats& stats);

}  // namespace pocketllm
