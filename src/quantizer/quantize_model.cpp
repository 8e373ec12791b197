#include "quantizer/quantize_model.h"

#include <cmath>
#include <cstdio>
#include <set>

#include <fmt/format.h>
#include <fmt/printf.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/int_weights.h"
#include "model/model.h"
#include "quant/calib/act_static.h"
#include "quant/calib/row_weighted.h"
#include "quant/ggml_mix.h"
#include "quantizer/bit_budget.h"
#include "quantizer/export_gguf.h"
#include "quantizer/float_model.h"
#include "quantizer/sequential.h"
#include "quantizer/tensor_quantize.h"
#include "quantizer/transforms.h"
#include "quantizer/type_candidates.h"

namespace pocketllm {
namespace {

// Bad combinations are refused before the model is even loaded.
void check_options(QuantizeOptions& o) {
  validate_plan(o.plan);
  check_can_write(o.out);  // before any work: a missing folder must not cost the whole calibration
  if (o.act_mode != "dynamic" && o.act_mode != "static") fail("--act {}: use dynamic (per token) or static", o.act_mode);
  const bool act_static = o.act_mode == "static";
  if (act_static && o.methods.calib_file.empty()) fail("--act static needs calibration data (--calib FILE)");
  if (act_static && plan_activations(o.plan) == "float")
    fail("--act static: {} keeps float activations; static ranges are for int8 ones (w4a8, w8a8)", o.plan.scheme);
  if (act_static && o.methods.calib_samples < 1) fail("--act static needs --calib-samples of at least 1");
  if (o.methods.sequential && o.methods.calib_file.empty()) fail("--sequential needs calibration data (--calib FILE)");
  if (o.methods.mlp_aware && (o.methods.calib_file.empty() || o.methods.calib_samples < 1))
    fail("--mlp-aware weights the calibration samples: it needs --calib FILE and --calib-samples of at least 1");
  if (o.methods.mlp_aware && !o.plan.ggml_type.empty()) fail("--mlp-aware is for --scheme, not --type");
  if (o.methods.sequential_compensate && !o.methods.sequential) fail("--compensate is for --sequential");
  if (o.methods.sequential && !o.plan.ggml_type.empty()) fail("--sequential is for --scheme, not --type");
  if (o.methods.learn_iters < 0) fail("--learn-iters must be at least 0");
  if (o.methods.learn_iters > 0 && !o.methods.learn) fail("--learn-iters is for --learn");
  if (o.methods.learn) {
    if (!o.plan.ggml_type.empty())
      fail("--learn learns the codes of --scheme's calibrated types; --type writes llama-quantize's round-to-nearest "
           "presets");
    if (o.plan.asym)
      fail("--learn supports the symmetric types (W4/W8 groups, per-channel, Q4_0, Q5_0), not Q4_K: drop --asym");
    if (o.methods.calib_file.empty()) fail("--learn needs calibration data (--calib FILE)");
    o.methods.weights.learn = true;
    o.methods.weights.learn_iters = o.methods.learn_iters;
  }
  if (!o.preset.empty()) apply_method_preset(o.preset, o.plan.group, o.methods);
  if (!o.plan.ggml_type.empty() &&
      (!o.methods.calib_file.empty() || o.methods.rotate || o.methods.smooth || !o.preset.empty() || act_static))
    fail("--type writes llama-quantize's round-to-nearest presets; calibration, --rotate, --smooth and --method are "
         "for --scheme");
  if (!o.plan.ggml_type.empty() && (o.plan.asym || o.bpw != 0)) fail("--asym and --bpw are for --scheme, not --type");
  if (o.bpw != 0) {
    if (!std::isfinite(o.bpw) || o.bpw <= 0) fail("--bpw {}: give a positive number of bits per weight", o.bpw);
    if (o.methods.calib_file.empty()) fail("--bpw measures each tensor's sensitivity: it needs --calib FILE");
    if (o.bpw_tokens < 1) fail("--bpw-tokens must be at least 1");
    if (o.plan.compat) fail("--bpw with --compat is not supported (--bpw may pick pocketllm's types)");
    if (o.plan.asym) fail("--bpw already considers Q4_K and Q5_K wherever rows allow: drop --asym");
    o.methods.second_moments = true;  // each candidate's output error
  }
}

// Quantizing quantized weights rounds them twice: refused unless asked for (as llama-quantize
// does with --allow-requantize). Any non-float matrix type counts, pocketllm's or GGML's.
void check_requantize(const Model& m, const std::string& in, bool allowed) {
  std::set<std::string> types;
  for (auto& [name, t] : m.tensors)
    if (t.type != DType::F32 && t.type != DType::F16 && t.type != DType::BF16) types.insert(dtype_name(t.type));
  if (types.empty()) return;
  std::string list;
  for (auto& t : types) list += (list.empty() ? "" : ", ") + t;
  if (!allowed)
    fail("{} is already quantized ({}): quantizing it again rounds the weights twice; quantize the float model, "
         "or pass --allow-requantize to do it anyway", in, list);
  std::fprintf(stderr, "quantize: %s is already quantized (%s): its weights are dequantized and rounded again "
               "(--allow-requantize)\n", in.c_str(), list.c_str());
}

// Why a tensor is stored in a pocketllm type (for the summary): llama.cpp's types
// hold groups of 32 weights in rows of whole groups, stored row by row.
std::string pocketllm_type_reason(const TensorPlan& p, int64_t cols, bool tiled_standard) {
  if (tiled_standard) return "stored as tiles (--tiles, or the file needs pocketllm for another reason)";
  if (p.scheme.group == 0) return "per-channel scales (--group 0)";
  if (p.scheme.group != 32) return fmt::format("groups of {} (GGML's types have groups of 32)", p.scheme.group);
  return fmt::format("rows of {} weights are not a multiple of 32", cols);
}

nlohmann::json methods_report(const QuantizeOptions& o, const PreparedModel& prep) {
  const calib::CalibMethod& method = o.methods.weights;
  return {{"rotate", o.methods.rotate},   {"online_rotation", prep.online_rotation},
          {"smooth", o.methods.smooth},   {"gptq", method.gptq},
          {"act_order", method.act_order}, {"clip", method.clip},
          {"refit", method.refit},         {"damp", method.damp},
          {"learn", method.learn},         {"learn_iters", method.learn_iters},
          {"learn_sweeps", method.learn_sweeps},
          {"seed", o.methods.seed},        {"act", o.act_mode},
          {"sequential", o.methods.sequential}};
}

}  // namespace

bool file_needs_pocketllm(const Model& m, const QuantPlanOptions& plan, bool tiles,
                          const std::map<std::string, TypeCandidate>& chosen) {
  for (auto& [name, t] : m.tensors) {
    if (t.ne.size() < 2) continue;
    const int64_t rows = static_cast<int64_t>(t.ne[1]), cols = static_cast<int64_t>(t.ne[0]);
    const TensorPlan p = plan_tensor(plan, name, rows, cols);
    const auto c = chosen.find(name);
    const bool by_budget = c != chosen.end();
    if (!by_budget && p.asym_k) continue;  // Q4_K: standard, never tiled
    const DType st = by_budget ? c->second.type : scheme_type(p.scheme, cols);
    if ((by_budget || p.quantize) && (!is_standard(st) || (tiles && !plan.compat && tiled_int_type(st, rows))))
      return true;
  }
  return false;
}

QuantizeResult quantize_model(QuantizeOptions o) {
  QuantizeResult r;
  // Plan.
  check_options(o);
  const bool act_static = r.act_static = o.act_mode == "static";
  const bool ggml_mix = !o.plan.ggml_type.empty();
  LoadOptions lo;
  lo.tokenizer_path = o.tokenizer;
  auto orig = load_model(o.in, lo);
  check_requantize(*orig, o.in, o.allow_requantize);
  o.plan.tied = !orig->tensors.count("output.weight");
  o.plan.shape = {orig->cfg.n_layers, orig->cfg.n_kv_heads > 0 ? orig->cfg.n_heads / orig->cfg.n_kv_heads : 1, o.plan.tied};
  ThreadPool pool(o.methods.threads > 0 ? o.methods.threads : default_thread_count());

  // Calibrate and transform.
  PreparedModel prep = prepare_methods(*orig, o.methods, o.plan, pool);
  const Model* m = &prep.model(*orig);  // the transformed model when --rotate/--smooth ran
  if (o.plan.tied && m->tensors.count("output.weight") && o.plan.head == "f16" && o.plan.embed != "f16") {
    o.plan.embed = "f16";  // the rotation untied the head: keep the embedding as precise as the tied head was
    std::fprintf(stderr, "rotate: the head is untied now; the embedding stays F16 like the head\n");
  }
  o.plan.tied = !m->tensors.count("output.weight");
  const calib::CalibStats& stats = prep.stats;
  const ActPrecision act = plan_activations(o.plan) == "float" ? ActPrecision::Float : ActPrecision::Int8;

  // --mlp-aware: each FFN's gate/up rows weighted by how their errors reach the FFN's output.
  auto row_weightings = std::make_shared<std::map<std::string, calib::RowWeighting>>();
  if (o.methods.mlp_aware) {
    for (int64_t l = 0; l < m->cfg.n_layers; ++l) {
      const std::string b = "blk." + std::to_string(l) + ".";
      const auto gi = m->tensors.find(b + "ffn_gate.weight"), ui = m->tensors.find(b + "ffn_up.weight");
      const auto st = stats.find(b + "ffn_in");
      if (gi == m->tensors.end() || ui == m->tensors.end() || st == stats.end() || st->second.n_samples() == 0) continue;
      const int64_t hidden = static_cast<int64_t>(gi->second.ne[1]), cols = static_cast<int64_t>(gi->second.ne[0]);
      if (st->second.cols != cols || ui->second.ne[1] != gi->second.ne[1]) continue;
      const std::vector<float> g = dequantize(gi->second.type, gi->second.data, gi->second.nbytes, hidden, cols);
      const std::vector<float> u = dequantize(ui->second.type, ui->second.data, ui->second.nbytes, hidden, cols);
      calib::ffn_row_weightings(g.data(), u.data(), hidden, cols, st->second.samples.data(), st->second.n_samples(),
                                m->cfg.act == Activation::GeluTanh ? calib::GateAct::GeluTanh : calib::GateAct::Silu,
                                (*row_weightings)[gi->first], (*row_weightings)[ui->first], &pool);
    }
    std::fprintf(stderr, "mlp-aware: %zu ffn_gate/ffn_up tensors get per-row output-weighted objectives\n",
                 row_weightings->size());
    if (const auto st = stats.find("blk.0.ffn_in"); st != stats.end() && st->second.n_samples() < 16 * st->second.cols)
      std::fprintf(stderr, "mlp-aware: only %lld samples for FFN inputs of %lld columns: it paid only with many more "
                           "samples than columns (--calib-samples, up to --calib-tokens; docs/CALIBRATION.md)\n",
                   static_cast<long long>(st->second.n_samples()), static_cast<long long>(st->second.cols));
    o.methods.weights.row_weighting = [row_weightings](const std::string& name) -> const calib::RowWeighting* {
      const auto it = row_weightings->find(name);
      return it == row_weightings->end() ? nullptr : &it->second;
    };
  }
  // --bpw: every block linear's type, from its measured sensitivity, before anything is written.
  BudgetChoice budget;
  if (o.bpw != 0) {
    FloatTensors own;
    std::unique_ptr<Model> own_model;
    FloatTensors* ft = &prep.tensors;
    const Model* fm = prep.transformed.get();
    if (!fm) {
      own = model_float_tensors(*m);
      own_model = model_over_float_tensors(*m, own, m->cfg.online_down_rotation);
      ft = &own, fm = own_model.get();
    }
    budget = choose_types_for_budget(*fm, *ft, stats, o, pool);
  }
  if (o.bpw != 0 && o.methods.learn)
    std::fprintf(stderr, "quantize: --learn runs on each tensor's chosen type (not on the --bpw candidates), and not "
                         "on Q4_K/Q5_K/Q6_K\n");
  if ((o.plan.asym || o.bpw != 0) && o.methods.weights.act_order)
    std::fprintf(stderr, "quantize: K-quant tensors (Q4_K, Q5_K) get GPTQ in storage order (no --act-order)\n");

  // The file's flag is written before the tensors: decide it from the plan.
  r.online_rotation = prep.online_rotation || m->cfg.online_down_rotation;  // new, or kept from a rotated input
  // llama.cpp would ignore pocketllm.online_rotation and mis-run the model, and with
  // --act static it would quantize activations per token: not the calibrated model.
  const bool needs = r.online_rotation || act_static || file_needs_pocketllm(*m, o.plan, o.tiles, budget.types);

  // What one tensor becomes: its --bpw type, Q4_K (--asym) or the plan's scheme.
  auto quantize_one = [&](const std::string& name, int64_t rows, int64_t cols, const float* data,
                          const calib::CalibStats& st) {
    const TensorPlan p = plan_tensor(o.plan, name, rows, cols);
    const auto chosen = budget.types.find(name);
    return chosen != budget.types.end()
               ? quantize_to_candidate(chosen->second, name, rows, cols, data, st, o.methods.weights, pool)
           : p.asym_k ? quantize_to_candidate(q4_k_candidate(), name, rows, cols, data, st, o.methods.weights, pool)
                      : quantize_tensor(p, name, rows, cols, data, st, o.methods.weights, pool);
  };
  // --sequential: the block linears are quantized here, block by block, each on the statistics of the
  // model whose earlier blocks are quantized; the exporter then takes them as they are.
  SequentialResult seq;
  if (o.methods.sequential) {
    const bool moments = !stats.empty() && stats.begin()->second.second_moments;
    seq = quantize_sequential(
        *m, stats, o.methods, moments,
        [&](const std::string& name, int64_t rows, int64_t cols) {
          return budget.types.count(name) > 0 || plan_tensor(o.plan, name, rows, cols).quantize;
        },
        quantize_one, pool);
  }
  const calib::CalibStats& final_stats = o.methods.sequential ? seq.stats : stats;

  // Quantize, search static scales and tile, tensor by tensor as the exporter asks.
  nlohmann::json calib_report = nlohmann::json::array(), static_report = nlohmann::json::array();
  std::map<std::string, calib::OutputError> final_errors;  // stored weights, on calibration samples
  std::vector<std::string> static_names;
  std::vector<float> static_scales;
  bool pocketllm_only = false;
  for (auto& [name, t] : orig->tensors) r.in_bytes += t.nbytes;
  ExportOptions eo;
  eo.convert = [&](const std::string& name, int64_t rows, int64_t cols, const float* data) {
    const TensorPlan p = plan_tensor(o.plan, name, rows, cols);
    const auto chosen = budget.types.find(name);
    const bool by_budget = chosen != budget.types.end();
    const auto done = seq.tensors.find(name);
    QuantizedResult qr = done != seq.tensors.end() ? std::move(done->second) : quantize_one(name, rows, cols, data, stats);
    if (p.asym_k) ++r.asym_tensors;
    else if (o.plan.asym && p.quantize && calib::stats_key(name) != "") r.asym_kept[cols].push_back(name);
    if (!by_budget && (name == "output.weight" || name == "token_embd.weight"))
      r.other_bits[name] = {qr.tensor.bytes.size() * 8, static_cast<uint64_t>(rows * cols)};
    if (qr.calib_report) calib_report.push_back(std::move(*qr.calib_report));
    ExportedTensor& e = qr.tensor;
    const std::string key = calib::stats_key(name);
    if (auto st = final_stats.find(key); p.quantize && !key.empty() && st != final_stats.end() && st->second.n_samples() > 0) {
      QuantizedTensor q{e.type, rows, cols, *dtype_row_bytes(e.type, static_cast<uint64_t>(cols)), e.bytes};
      float scale = 0;
      if (act_static) {
        StaticActResult s = search_static_act(name, data, q, st->second, pool);
        scale = s.choice.scale;
        static_names.push_back(name);
        static_scales.push_back(scale);
        static_report.push_back(std::move(s.report));
      }
      final_errors[name] = calib::quantized_output_error(data, q, act, st->second.samples.data(), st->second.n_samples(),
                                                         pool, scale);
    } else if (act_static && p.quantize && !key.empty()) {
      fail("{}: no calibration samples for its static activation range", name);
    }
    tile_for_kernels(e, m->cfg, name, rows, cols, o.plan.compat, o.tiles || needs);
    if (!is_standard(e.type)) {
      pocketllm_only = true;
      const bool tiled_standard = p.quantize && is_standard(scheme_type(p.scheme, cols));
      r.pocketllm_types[by_budget ? "chosen by --bpw" : pocketllm_type_reason(p, cols, tiled_standard)].push_back(name);
    }
    r.out_bytes += e.bytes.size();
    return std::move(e);
  };

  // Write.
  if (ggml_mix) {  // a file like llama-quantize's: no pocketllm scheme keys
    eo.extra.emplace_back("general.file_type", gguf::Value::u32(find_ggml_mix(o.plan.ggml_type).file_type));
  } else {
    eo.extra.emplace_back("pocketllm.activations", gguf::Value::str(act_static ? "int8-static" : plan_activations(o.plan)));
    eo.extra.emplace_back("pocketllm.scheme", gguf::Value::str(o.plan.scheme));
    eo.extra.emplace_back("pocketllm.group", gguf::Value::u32(static_cast<uint32_t>(o.plan.group)));
  }
  eo.finish = [&](gguf::Writer& w) {  // the scales are known once every tensor is converted
    if (!act_static) return;
    w.set(kActStaticTensorsKey, gguf::Value::str_array(static_names));
    w.set(kActStaticScalesKey, gguf::Value::f32_array(static_scales));
  };
  eo.extra.emplace_back("pocketllm.required", gguf::Value::boolean(needs));
  if (o.methods.rotate) eo.extra.emplace_back("pocketllm.rotated", gguf::Value::boolean(true));
  if (ggml_mix)
    std::fprintf(stderr, "quantize: %s -> %s (%s%s)\n", o.in.c_str(), o.out.c_str(),
                 find_ggml_mix(o.plan.ggml_type).name.c_str(), o.plan.pure ? ", pure" : "");
  else
    std::fprintf(stderr, "quantize: %s -> %s (%s, group %d, head %s)\n", o.in.c_str(), o.out.c_str(),
                 o.plan.scheme.c_str(), o.plan.group, o.plan.head.c_str());
  export_gguf(*m, o.out, eo);
  if ((pocketllm_only || r.online_rotation || act_static) != needs) fail("internal error: pocketllm-only flag mismatch");
  r.needs_pocketllm = needs;

  // Report.
  if (!budget.types.empty()) {
    r.bpw = static_cast<double>(budget.bits) / static_cast<double>(budget.weights);
    for (auto& [name, b] : r.other_bits)
      budget.report["other_tensors"].push_back(
          {{"tensor", name}, {"bits", b.first}, {"bpw", static_cast<double>(b.first) / static_cast<double>(b.second)}});
  }
  if (!calib_report.empty() || !prep.stages.empty() || o.methods.rotate || act_static || !budget.types.empty()) {
    const nlohmann::json layers = layer_error_report(prep, final_errors, m->cfg.n_layers);
    const nlohmann::json j = {{"methods", methods_report(o, prep)},
                              {"scheme", o.plan.scheme},
                              {"group", o.plan.group},
                              {"calib_file", o.methods.calib_file},
                              {"calib_tokens", o.methods.calib_tokens},
                              {"layer_output_error", layers},
                              {"smooth", prep.smooth_report},
                              {"activations", prep.activation_report},
                              {"act_static", static_report},
                              {"tensors", calib_report},
                              {"bpw", budget.types.empty() ? nlohmann::json(nullptr) : budget.report},
                              {"asym", o.plan.asym}};
    r.report_path = o.out + ".calib.json";
    write_file_atomic(r.report_path, j.dump(1) + "\n");
    std::fprintf(stderr, "calibrate: report in %s\n", r.report_path.c_str());
  }
  return r;
}

std::string quantize_summary(const QuantizeResult& r, const QuantizeOptions& o) {
  std::string s = fmt::sprintf("quantize: %.2f MiB -> %.2f MiB%s\n", r.in_bytes / 1048576.0, r.out_bytes / 1048576.0,
                               r.needs_pocketllm ? " (needs pocketllm; llama.cpp cannot run this file):"
                                                 : " (standard GGML types only)");
  auto plural = [](size_t n) { return n == 1 ? "" : "s"; };
  for (auto& [reason, names] : r.pocketllm_types)
    s += fmt::sprintf("  pocketllm types: %s: %zu tensor%s (e.g. %s)\n", reason, names.size(), plural(names.size()),
                      names.front());
  if (r.online_rotation) s += "  the online rotation of ffn_down's input (--rotate)\n";
  if (r.act_static) s += "  static activation ranges (--act static)\n";
  if (o.plan.asym) {
    s += fmt::sprintf("asym: %d block linear%s stored as Q4_K\n", r.asym_tensors, r.asym_tensors == 1 ? "" : "s");
    for (auto& [cols, names] : r.asym_kept)
      s += fmt::sprintf("asym: %zu tensor%s with rows of %lld keep the symmetric scheme (Q4_K needs rows of whole "
                        "256-weight super-blocks), e.g. %s\n",
                        names.size(), plural(names.size()), static_cast<long long>(cols), names.front());
  }
  if (o.bpw != 0) {
    s += fmt::sprintf("bpw: block linears %.4f bits per weight (budget %g)\n", r.bpw, o.bpw);
    for (auto& [name, b] : r.other_bits)
      s += fmt::sprintf("bpw: not in the budget: %s %.4f bits per weight\n", name,
                        static_cast<double>(b.first) / static_cast<double>(b.second));
  }
  return s;
}

}  // namespace pocketllm
