// The quantizer's calibrate and transform stages (docs/CALIBRATION.md): collects
// calibration statistics (quantizer/calibrate.h), applies the equivalent transforms
// (--rotate, --smooth) to a float copy of the model, and measures each linear's
// output error after every stage for the report. GPTQ/clipping then run per tensor
// (quantizer/tensor_quantize.h).
#pragma once
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/thread_pool.h"
#include "model/model.h"
#include "quant/calib/gptq.h"
#include "quant/calib/output_error.h"
#include "quant/calib/stats.h"
#include "quant/float_tensors.h"
#include "quant/plan.h"
#include "quantizer/options.h"

namespace pocketllm {


// Applies a --method preset ("rtn", "best") for weights of `group` (0: per channel) to o (switching
// methods on; flags given with the preset stay on);
// throws Error for an unknown name.
void apply_method_preset(const std::string& name, int group, MethodOptions& o);

// The model quantize exports, after the transforms, with the statistics of its inputs.
struct PreparedModel {
  FloatTensors tensors;                 // transformed weights (empty when no transform ran)
  std::unique_ptr<Model> transformed;   // points into tensors
  calib::CalibStats stats;              // of the exported model's linear inputs
  bool online_rotation = false;
  // Per stage ("rtn", "rotate", "smooth"): tensor name -> RTN output error on calibration samples.
  std::vector<std::pair<std::string, std::map<std::string, calib::OutputError>>> stages;
  nlohmann::json smooth_report = nlohmann::json::array();
  // Per linear input of the original model: how far single channels stand out (--calib).
  nlohmann::json activation_report = nlohmann::json::array();
  const Model& model(const Model& original) const { return transformed ? *transformed : original; }
};

PreparedModel prepare_methods(const Model& m, const MethodOptions& o, const QuantPlanOptions& plan, ThreadPool& pool);

// Prints the per-layer table of stage errors (plus "final": the stored weights) and returns it as JSON.
nlohmann::json layer_error_report(const PreparedModel& p, const std::map<std::string, calib::OutputError>& final_errors,
                                  int64_t n_layers);

}  // namespace pocketllm
