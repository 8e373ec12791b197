#include "quantizer/transforms.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "core/error.h"
#include "quant/calib/smooth.h"
#include "quant/rotate.h"
#include "quantizer/calibrate.h"
#include "quantizer/float_model.h"

namespace pocketllm {
namespace {

ActPrecision plan_act(const QuantPlanOptions& plan) {
  return plan_activations(plan) == "float" ? ActPrecision::Float : ActPrecision::Int8;
}

// RTN output error of every quantized block linear on its calibration samples.
std::map<std::string, calib::OutputError> rtn_errors(const FloatTensors& t, const calib::CalibStats& stats,
                                                     const QuantPlanOptions& plan, ThreadPool& pool) {
  std::map<std::string, calib::OutputError> out;
  for (auto& [name, w] : t) {
    const std::string key = calib::stats_key(name);
    auto st = stats.find(key);
    if (key.empty() || st == stats.end() || st->second.n_samples() == 0 || st->second.cols != w.cols()) continue;
    const TensorPlan tp = plan_tensor(plan, name, w.rows(), w.cols());
    if (!tp.quantize) continue;
    const QuantizedTensor q = quantize_rtn(w.data.data(), w.rows(), w.cols(), tp.scheme);
    out[name] = calib::quantized_output_error(w.data.data(), q, plan_act(plan), st->second.samples.data(),
                                              st->second.n_samples(), pool);
  }
  return out;
}
}  // namespace

void apply_method_preset(const std::string& name, int group, MethodOptions& o) {
  // Presets only switch methods on: flags given with them (e.g. --method best --rotate) still apply.
  if (name == "rtn") {
    if (o.any() || o.weights.act_order)
      fail("--method rtn cannot be combined with --rotate, --smooth, --gptq, --clip, --refit or --learn");
  } else if (name == "best") {  // measured best on stories260K (docs/CALIBRATION.md); rotate/smooth did not help there
    if (o.calib_file.empty()) fail("--method best needs calibration data (--calib FILE)");
    o.weights.gptq = true;
    o.weights.clip = true;
    o.weights.refit = true;
    if (group == 0) o.weights.act_order = true;  // helps per-channel scales, not groups of 32
  } else {
    fail("unknown --method '{}' (rtn, best)", name);
  }
}

PreparedModel prepare_methods(const Model& m, const MethodOptions& o, const QuantPlanOptions& plan, ThreadPool& pool) {
  PreparedModel p;
  const bool calib = !o.calib_file.empty();
  const bool transform = o.rotate || o.smooth;
  // x xᵀ (cols² doubles per input): only GPTQ, clipping and the scale refit read it.
  const bool moments = o.weights.gptq || o.weights.clip || o.weights.refit || o.weights.learn || o.second_moments;
  if (o.weights.gptq && !calib) fail("--gptq needs calibration data (--calib FILE)");
  if (o.weights.refit && !calib) fail("--refit needs calibration data (--calib FILE)");
  if (o.weights.learn && !calib) fail("--learn needs calibration data (--calib FILE)");
  if (o.smooth && !calib) fail("--smooth needs calibration data (--calib FILE)");
  if (transform && m.cfg.online_down_rotation) fail("{}: the model is already rotated; quantize it without --rotate/--smooth", m.path);
  if (calib) {
    // The untransformed model: its statistics are final when no transform runs.
    calib::CalibStats s0 = collect_calib_stats(m, o, !transform && moments, "original");
    p.activation_report = print_activation_report(s0);
    p.stages.emplace_back("rtn", rtn_errors(model_float_tensors(m), s0, plan, pool));
    if (!transform) p.stats = std::move(s0);
  }
  if (!transform) return p;
  p.tensors = model_float_tensors(m);
  if (o.rotate) {
    p.online_rotation = !plan.compat;
    if (plan.compat)
      std::fprintf(stderr, "rotate: --compat: llama.cpp cannot run the online ffn_down rotation; rotating the residual "
                           "stream only (norms folded, weights rotated)\n");
    rotate_model(p.tensors, m.cfg.n_layers, RotateOptions{o.seed, p.online_rotation});
  }
  p.transformed = model_over_float_tensors(m, p.tensors, p.online_rotation);
  if (!calib) return p;
  p.stats = collect_calib_stats(*p.transformed, o, moments, o.rotate ? "rotated" : "original");
  if (o.rotate) p.stages.emplace_back("rotate", rtn_errors(p.tensors, p.stats, plan, pool));
  if (o.smooth) {
    calib::SmoothOptions so;
    so.up_down = !p.online_rotation;  // an online Hadamard already spreads down_proj's input
    so.n_heads = m.cfg.n_heads, so.n_kv_heads = m.cfg.n_kv_heads;
    calib::smooth_model(p.tensors, p.stats, m.cfg.n_layers, plan, plan_act(plan), so, pool,
                        [&](int64_t layer, const std::string& input, const calib::SmoothChoice& c) {
                          p.smooth_report.push_back({{"layer", layer},
                                                     {"input", input},
                                                     {"alpha", c.alpha},
                                                     {"statistic", c.stat == calib::SmoothStat::Rms ? "rms" : "max"},
                                                     {"rtn_error_before", c.before.relative()},
                                                     {"rtn_error_after", c.after.relative()}});
                          std::fprintf(stderr, "smooth: blk.%-3lld %-12s alpha %4.1f (%s)  RTN output error %.3e -> %.3e\n",
                                       static_cast<long long>(layer), input.c_str(), c.alpha,
                                       c.stat == calib::SmoothStat::Rms ? "rms" : "max", c.before.relative(),
                                       c.after.relative());
                        });
    p.transformed = model_over_float_tensors(m, p.tensors, p.online_rotation);  // norm gains changed
    p.stages.emplace_back("smooth", rtn_errors(p.tensors, p.stats, plan, pool));
  }
  return p;
}

nlohmann::json layer_error_report(const PreparedModel& p, const std::map<std::string, calib::OutputError>& final_errors,
                                  int64_t n_layers) {
  auto stages = p.stages;
  if (!final_errors.empty()) stages.emplace_back("final", final_errors);
  nlohmann::json out = nlohmann::json::array();
  if (stages.empty()) return out;
  std::string head = "layer";
  for (auto& [name, e] : stages) head += fmt::format(" {:>10}", name);
  std::fprintf(stderr, "W4A8 output error per layer (relative, calibration samples; rtn/rotate/smooth: round-to-nearest "
                       "after that stage, final: stored weights)\n%s\n", head.c_str());
  for (int64_t l = -1; l < n_layers; ++l) {  // -1: all layers
    const std::string prefix = l < 0 ? "blk." : "blk." + std::to_string(l) + ".";
    nlohmann::json row = {{"layer", l < 0 ? nlohmann::json("all") : nlohmann::json(l)}};
    std::string line = l < 0 ? "all  " : fmt::format("{:<5}", l);
    for (auto& [name, errs] : stages) {
      calib::OutputError sum;
      for (auto& [t, e] : errs)
        if (t.starts_with(prefix)) sum += e;
      row[name] = sum.relative();
      line += fmt::format(" {:>10.3e}", sum.relative());
    }
    out.push_back(row);
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  return out;
}

}  // namespace pocketllm
