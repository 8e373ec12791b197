#include "cli/quantize_methods.h"

#include <algorithm>
#include <cstdio>

#include "cli/common_options.h"
#include "core/error.h"
#include "kernels/linear.h"
#include "model/context.h"
#include "model/float_model.h"
#include "quant/calib/smooth.h"
#include "quant/rotate.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

// Runs a model over the calibration text and collects, per linear input, max |x|, the first
// calib_samples rows and (second_moments) x xᵀ (memory: cols² doubles per distinct input).
calib::CalibStats collect_stats(const Model& m, const MethodOptions& o, bool second_moments, const char* what) {
  if (o.calib_tokens < 1) fail("--calib-tokens must be at least 1");
  if (o.calib_ctx < 4) fail("--calib-ctx must be at least 4");
  if (o.calib_samples < 0) fail("--calib-samples must not be negative");
  std::map<const Matrix*, std::string> keys;
  for (size_t l = 0; l < m.w.layers.size(); ++l) {
    const LayerWeights& lw = m.w.layers[l];
    const std::string b = "blk." + std::to_string(l) + ".";
    for (auto [mat, name] : {std::pair{&lw.wq, "attn_q"}, {&lw.wk, "attn_k"}, {&lw.wv, "attn_v"}, {&lw.wo, "attn_output"},
                             {&lw.w_gate, "ffn_gate"}, {&lw.w_up, "ffn_up"}, {&lw.w_down, "ffn_down"}})
      keys[mat] = calib::stats_key(b + name + ".weight");
  }
  calib::CalibStats stats;
  // x xᵀ costs cols² per token: its own threads (the model's are idle while the observer runs).
  ThreadPool stats_pool(o.threads > 0 ? o.threads : default_thread_count());
  std::pair<std::string, const float*> last;  // q/k/v (gate/up) run back to back on one input: count it once
  set_linear_observer([&](const Matrix& w, const float* x, int64_t ldx, int64_t n) {
    auto it = keys.find(&w);
    if (it == keys.end() || it->second.empty()) return;
    if (last.first == it->second && last.second == x) return;
    last = {it->second, x};
    auto [st, fresh] = stats.try_emplace(it->second, w.cols, o.calib_samples, second_moments);
    st->second.add(x, ldx, n, &stats_pool);
  });
  struct ClearObserver {
    ~ClearObserver() { set_linear_observer({}); }
  } clear_observer;
  const Tokenizer& tok = *m.tokenizer;
  const bool add_bos = tok.add_bos() && tok.bos() >= 0;
  std::vector<int32_t> tokens = tok.encode(read_text_file(o.calib_file), false, false);
  if (tokens.empty()) fail("{}: no calibration tokens", o.calib_file);
  const int64_t total = std::min<int64_t>(o.calib_tokens, static_cast<int64_t>(tokens.size()));
  ContextParams cp;
  cp.n_ctx = o.calib_ctx;
  cp.n_threads = o.threads;
  Context ctx(m, cp);
  const int64_t body = o.calib_ctx - (add_bos ? 1 : 0);
  std::vector<int32_t> chunk;
  for (int64_t done = 0; done < total;) {
    const int64_t n = std::min(body, total - done);
    chunk.clear();
    if (add_bos) chunk.push_back(tok.bos());
    chunk.insert(chunk.end(), tokens.begin() + done, tokens.begin() + done + n);
    ctx.truncate(0);
    ctx.eval(chunk.data(), static_cast<int64_t>(chunk.size()));
    done += n;
    const int width = 30, filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\rcalibrate (%s): [%s%s] %lld/%lld tokens", what, std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done), static_cast<long long>(total));
  }
  std::fprintf(stderr, "\n");
  return stats;
}

// Prints, per layer and linear input, max |x| / rms (the largest channel's peak over the
// typical entry), the median per-token peak / rms, and the channels that stand out most.
nlohmann::json activation_report(const calib::CalibStats& stats) {
  nlohmann::json out = nlohmann::json::array();
  std::fprintf(stderr, "activations per linear input (original model, calibration tokens): max|x|/rms over all "
                       "entries, median per-token max|x|/rms, and the top channels as channel:max|x_c|/rms (rms_c/rms)\n");
  // CalibStats is ordered by name ("blk.10." before "blk.2."): print in layer order.
  std::vector<std::pair<std::pair<int64_t, std::string>, const calib::LinearStats*>> order;
  for (const auto& [key, st] : stats) order.push_back({{std::stoll(key.substr(4)), key}, &st});
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [k, st] : order) {
    const auto o = st->outliers(3);
    std::string top;
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& c : o.top) {
      top += fmt::format(" {}:{:.1f} ({:.1f})", c.index, c.peak_to_rms, c.rms_ratio);
      channels.push_back({{"channel", c.index}, {"max_abs_over_rms", c.peak_to_rms}, {"rms_over_rms", c.rms_ratio}});
    }
    std::fprintf(stderr, "  %-20s max|x|/rms %7.1f  token median %6.1f  top%s\n", k.second.c_str(), o.peak_to_rms,
                 o.token_peak_to_rms_median, top.c_str());
    out.push_back({{"input", k.second},
                   {"rms", o.rms},
                   {"max_abs_over_rms", o.peak_to_rms},
                   {"token_max_abs_over_rms_median", o.token_peak_to_rms_median},
                   {"top_channels", channels}});
  }
  return out;
}

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
      fail("--method rtn cannot be combined with --rotate, --smooth, --gptq, --clip or --refit");
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
  const bool moments = o.weights.gptq || o.weights.clip || o.weights.refit;
  if (o.weights.gptq && !calib) fail("--gptq needs calibration data (--calib FILE)");
  if (o.weights.refit && !calib) fail("--refit needs calibration data (--calib FILE)");
  if (o.smooth && !calib) fail("--smooth needs calibration data (--calib FILE)");
  if (transform && m.cfg.online_down_rotation) fail("{}: the model is already rotated; quantize it without --rotate/--smooth", m.path);
  if (calib) {
    // The untransformed model: its statistics are final when no transform runs.
    calib::CalibStats s0 = collect_stats(m, o, !transform && moments, "original");
    p.activation_report = activation_report(s0);
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
  p.stats = collect_stats(*p.transformed, o, moments, o.rotate ? "rotated" : "original");
  if (o.rotate) p.stages.emplace_back("rotate", rtn_errors(p.tensors, p.stats, plan, pool));
  if (o.smooth) {
    calib::SmoothOptions so;
    so.up_down = !p.online_rotation;  // an online Hadamard already spreads down_proj's input
    calib::smooth_model(p.tensors, p.stats, m.cfg.n_layers, plan, plan_act(plan), so, pool,
                        [&](int64_t layer, const std::string& input, const calib::SmoothChoice& c) {
                          p.smooth_report.push_back({{"layer", layer},
                                                     {"input", input},
                                                     {"alpha", c.alpha},
                                                     {"rtn_error_before", c.before.relative()},
                                                     {"rtn_error_after", c.after.relative()}});
                          std::fprintf(stderr, "smooth: blk.%-3lld %-12s alpha %4.1f  RTN output error %.3e -> %.3e\n",
                                       static_cast<long long>(layer), input.c_str(), c.alpha, c.before.relative(),
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

}  // namespace pocketllm::cli
