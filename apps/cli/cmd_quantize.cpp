// pocketllm quantize: any loadable model to a W4A8 / W8A8 / W4A16 GGUF file.
// Formats equal to GGML types are written as those types (W4 g32 = Q4_0, W8 g32
// = Q8_0) so llama.cpp can load the file; other formats use pocketllm type ids
// and the file says it needs pocketllm (docs/FORMAT.md).
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common_options.h"
#include "cli/quantize_methods.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/int_weights.h"
#include "kernels/linear.h"
#include "kernels/table.h"
#include "model/arch/family.h"
#include "model/export_gguf.h"
#include "quant/calib/act_static.h"
#include "quant/calib/gptq.h"
#include "quant/calib/stats.h"
#include "quant/ggml_mix.h"
#include "quant/plan.h"

namespace pocketllm::cli {
namespace {

struct QuantizeOptions {
  std::string in, out, tokenizer;
  QuantPlanOptions plan;
  // Calibration and methods (docs/CALIBRATION.md); without them the output is plain RTN.
  MethodOptions methods;
  std::string preset;
  std::string act_mode = "dynamic";
  bool tiles = false;  // store Q4_0/Q8_0-shaped matrices as tiles too (faster load, llama.cpp cannot read)
  bool allow_requantize = false;
};

bool is_standard(DType t) { return static_cast<uint32_t>(t) < static_cast<uint32_t>(DType::POCKETLLM_FIRST); }

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

int run(QuantizeOptions& o) {
  validate_plan(o.plan);
  check_can_write(o.out);  // before any work: a missing folder must not cost the whole calibration
  LoadOptions lo;
  lo.tokenizer_path = o.tokenizer;
  if (o.act_mode != "dynamic" && o.act_mode != "static") fail("--act {}: use dynamic (per token) or static", o.act_mode);
  const bool act_static = o.act_mode == "static";
  if (act_static && o.methods.calib_file.empty()) fail("--act static needs calibration data (--calib FILE)");
  if (act_static && plan_activations(o.plan) == "float")
    fail("--act static: {} keeps float activations; static ranges are for int8 ones (w4a8, w8a8)", o.plan.scheme);
  if (act_static && o.methods.calib_samples < 1) fail("--act static needs --calib-samples of at least 1");
  if (!o.preset.empty()) apply_method_preset(o.preset, o.plan.group, o.methods);
  const bool ggml_mix = !o.plan.ggml_type.empty();
  if (ggml_mix && (!o.methods.calib_file.empty() || o.methods.rotate || o.methods.smooth || !o.preset.empty() || act_static))
    fail("--type writes llama-quantize's round-to-nearest presets; calibration, --rotate, --smooth and --method are "
         "for --scheme");
  auto orig = load_model(o.in, lo);
  check_requantize(*orig, o.in, o.allow_requantize);
  o.plan.tied = !orig->tensors.count("output.weight");
  o.plan.shape = {orig->cfg.n_layers, orig->cfg.n_kv_heads > 0 ? orig->cfg.n_heads / orig->cfg.n_kv_heads : 1, o.plan.tied};
  ThreadPool pool(o.methods.threads > 0 ? o.methods.threads : default_thread_count());
  PreparedModel prep = prepare_methods(*orig, o.methods, o.plan, pool);
  const Model* m = &prep.model(*orig);  // the transformed model when --rotate/--smooth ran
  if (o.plan.tied && m->tensors.count("output.weight") && o.plan.head == "f16" && o.plan.embed != "f16") {
    o.plan.embed = "f16";  // the rotation untied the head: keep the embedding as precise as the tied head was
    std::fprintf(stderr, "rotate: the head is untied now; the embedding stays F16 like the head\n");
  }
  o.plan.tied = !m->tensors.count("output.weight");
  const calib::CalibStats& stats = prep.stats;
  const calib::CalibMethod& method = o.methods.weights;
  const bool calibrating = method.gptq || method.clip || method.refit;
  const ActPrecision act = plan_activations(o.plan) == "float" ? ActPrecision::Float : ActPrecision::Int8;
  nlohmann::json report = nlohmann::json::array();
  std::map<std::string, calib::OutputError> final_errors;  // stored weights, on calibration samples
  std::vector<std::string> static_names;  // --act static: the searched scale of each block linear's input
  std::vector<float> static_scales;
  nlohmann::json static_report = nlohmann::json::array();
  bool pocketllm_only = false;
  std::map<std::string, std::vector<std::string>> type_reasons;  // why a pocketllm type -> tensors
  uint64_t in_bytes = 0, out_bytes = 0;  // as stored: the input's tensors, the output's
  for (auto& [name, t] : orig->tensors) in_bytes += t.nbytes;
  bool needs = false;  // the file needs pocketllm (decided from the plan below, before any tensor is written)
  ExportOptions eo;
  eo.convert = [&](const std::string& name, int64_t rows, int64_t cols, const float* data) {
    TensorPlan p = plan_tensor(o.plan, name, rows, cols);
    ExportedTensor e;
    const std::string key = calib::stats_key(name);
    if (p.ggml_type) {
      e = ExportedTensor{*p.ggml_type, quantize_ggml_rows(*p.ggml_type, data, rows, cols, pool)};
    } else if (p.quantize && calibrating && !key.empty()) {
      std::vector<float> h;
      if (auto it = stats.find(key); it != stats.end() && it->second.cols == cols) h = it->second.hessian();
      if ((method.gptq || method.refit) && h.empty()) fail("{}: no calibration statistics for this tensor", name);
      const int64_t g = calib::stored_group(p.scheme, cols);
      const calib::CalibratedWeights cw = calib::quantize_calibrated(data, rows, cols, p.scheme.bits, g, h, method, &pool);
      QuantizedTensor q = quantize_rtn(cw.values.data(), rows, cols, calib::replay_scheme(p.scheme, cw));
      e.type = q.type;
      e.bytes = std::move(q.bytes);
      if (!h.empty()) {
        const calib::CalibratedWeights rtn = calib::quantize_calibrated(data, rows, cols, p.scheme.bits, g, {}, {});
        // Measured on 64 rows spread through the matrix: it costs cols² per row.
        const double before = calib::relative_output_error(data, rtn.values.data(), rows, cols, h, 64, &pool);
        const double after = calib::relative_output_error(data, cw.values.data(), rows, cols, h, 64, &pool);
        report.push_back({{"tensor", name}, {"rtn_output_error", before}, {"calibrated_output_error", after}});
        std::fprintf(stderr, "calibrate: %-28s output error %.3e -> %.3e\n", name.c_str(), before, after);
      }
    } else if (!p.quantize) {
      e = store_float(p.float_type, data, static_cast<size_t>(rows * cols));
    } else {
      // Rows are independent: quantize slices of rows in parallel.
      const size_t row_bytes = *dtype_row_bytes(scheme_type(p.scheme, cols), static_cast<uint64_t>(cols));
      e.bytes.resize(static_cast<size_t>(rows) * row_bytes);
      pool.parallel_for(rows, [&](int64_t r0, int64_t r1) {
        QuantizedTensor q = quantize_rtn(data + r0 * cols, r1 - r0, cols, p.scheme);
        std::memcpy(e.bytes.data() + static_cast<size_t>(r0) * row_bytes, q.bytes.data(), q.bytes.size());
        if (r0 == 0) e.type = q.type;
      });
      if (rows > 0 && e.type == DType::F32) e.type = scheme_type(p.scheme, cols);
    }
    if (auto st = stats.find(key); p.quantize && !key.empty() && st != stats.end() && st->second.n_samples() > 0) {
      QuantizedTensor q{e.type, rows, cols, *dtype_row_bytes(e.type, static_cast<uint64_t>(cols)), e.bytes};
      float scale = 0;
      if (act_static) {
        const calib::StaticActChoice c = calib::search_static_act_scale(data, q, st->second, pool);
        scale = c.scale;
        static_names.push_back(name);
        static_scales.push_back(c.scale);
        static_report.push_back({{"tensor", name},
                                 {"scale", c.scale},
                                 {"clip_ratio", c.ratio},
                                 {"dynamic_output_error", c.dynamic.relative()},
                                 {"unclipped_output_error", c.unclipped.relative()},
                                 {"static_output_error", c.chosen.relative()}});
        std::fprintf(stderr, "act static: %-28s clip %.3f  output error: per token %.3e, max range %.3e, searched %.3e\n",
                     name.c_str(), c.ratio, c.dynamic.relative(), c.unclipped.relative(), c.chosen.relative());
      }
      final_errors[name] = calib::quantized_output_error(data, q, act, st->second.samples.data(), st->second.n_samples(),
                                                         pool, scale);
    } else if (act_static && p.quantize && !key.empty()) {
      fail("{}: no calibration samples for its static activation range", name);
    }
    // pocketllm's integer matrices are stored as the kernels' tiles, so they load in place (no
    // repacking, no second copy); Q4_0/Q8_0 stay standard for llama.cpp unless --tiles or
    // the file needs pocketllm anyway.
    // A fused tensor (phi3's attn_qkv, [gate; up] ffn_up) is tiled block by block: the loader
    // views each block as its own matrix, so no tile may mix rows of two blocks.
    std::vector<int64_t> blocks = fused_row_blocks(m->cfg, name, rows);
    if (blocks.empty()) blocks = {rows};
    bool blocks_tile = true;
    for (auto b : blocks) blocks_tile = blocks_tile && tiled_int_type(e.type, b).has_value();
    if (const auto tiled = tiled_int_type(e.type, rows);
        tiled && blocks_tile && !o.plan.compat && (o.tiles || needs || !is_standard(e.type))) {
      const size_t row_bytes = *dtype_row_bytes(e.type, static_cast<uint64_t>(cols));
      std::vector<uint8_t> out;
      out.reserve(e.bytes.size());
      int64_t r0 = 0;
      for (auto b : blocks) {
        const auto t = tile_int_rows(e.type, e.bytes.data() + static_cast<size_t>(r0) * row_bytes, row_bytes, b, cols);
        out.insert(out.end(), t.begin(), t.end());
        r0 += b;
      }
      e.bytes = std::move(out);
      e.type = *tiled;
    }
    if (!is_standard(e.type)) {
      pocketllm_only = true;
      const bool tiled_standard = p.quantize && is_standard(scheme_type(p.scheme, cols));
      type_reasons[pocketllm_type_reason(p, cols, tiled_standard)].push_back(name);
    }
    out_bytes += e.bytes.size();
    return e;
  };
  if (ggml_mix) {  // a file like llama-quantize's: no pocketllm scheme keys
    eo.extra.emplace_back("general.file_type", gguf::Value::u32(find_ggml_mix(o.plan.ggml_type).file_type));
  } else {
    eo.extra.emplace_back("pocketllm.activations", gguf::Value::str(act_static ? "int8-static" : plan_activations(o.plan)));
    eo.extra.emplace_back("pocketllm.scheme", gguf::Value::str(o.plan.scheme));
    eo.extra.emplace_back("pocketllm.group", gguf::Value::u32(static_cast<uint32_t>(o.plan.group)));
  }
  // The flag is decided after conversion; export_gguf writes extra keys first, so mark
  // it from the plan: any non-GGML type makes the file pocketllm-only.
  for (auto& [name, t] : m->tensors) {
    if (t.ne.size() < 2) continue;
    TensorPlan p = plan_tensor(o.plan, name, static_cast<int64_t>(t.ne[1]), static_cast<int64_t>(t.ne[0]));
    const DType st = scheme_type(p.scheme, static_cast<int64_t>(t.ne[0]));
    if (p.quantize && (!is_standard(st) || (o.tiles && !o.plan.compat && tiled_int_type(st, static_cast<int64_t>(t.ne[1])))))
      needs = true;
  }
  const bool online_rotation = prep.online_rotation || m->cfg.online_down_rotation;  // new, or kept from a rotated input
  if (online_rotation) needs = true;  // llama.cpp would ignore pocketllm.online_rotation and mis-run the model
  if (act_static) needs = true;            // llama.cpp would quantize activations per token: not the calibrated model
  eo.finish = [&](gguf::Writer& w) {       // the scales are known once every tensor is converted
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
  if ((pocketllm_only || online_rotation || act_static) != needs) fail("internal error: pocketllm-only flag mismatch");
  if (!report.empty() || !prep.stages.empty() || o.methods.rotate || act_static) {
    const nlohmann::json layers = layer_error_report(prep, final_errors, m->cfg.n_layers);
    const nlohmann::json j = {{"methods",
                               {{"rotate", o.methods.rotate},
                                {"online_rotation", prep.online_rotation},
                                {"smooth", o.methods.smooth},
                                {"gptq", method.gptq},
                                {"act_order", method.act_order},
                                {"clip", method.clip},
                                {"refit", method.refit},
                                {"damp", method.damp},
                                {"seed", o.methods.seed},
                                {"act", o.act_mode}}},
                              {"scheme", o.plan.scheme},
                              {"group", o.plan.group},
                              {"calib_file", o.methods.calib_file},
                              {"calib_tokens", o.methods.calib_tokens},
                              {"layer_output_error", layers},
                              {"smooth", prep.smooth_report},
                              {"activations", prep.activation_report},
                              {"act_static", static_report},
                              {"tensors", report}};
    const std::string path = o.out + ".calib.json";
    write_file_atomic(path, j.dump(1) + "\n");
    std::fprintf(stderr, "calibrate: report in %s\n", path.c_str());
  }
  std::fprintf(stderr, "quantize: %.2f MiB -> %.2f MiB%s\n", in_bytes / 1048576.0, out_bytes / 1048576.0,
               needs ? " (needs pocketllm; llama.cpp cannot run this file):" : " (standard GGML types only)");
  for (auto& [reason, names] : type_reasons)
    std::fprintf(stderr, "  pocketllm types: %s: %zu tensor%s (e.g. %s)\n", reason.c_str(), names.size(),
                 names.size() == 1 ? "" : "s", names.front().c_str());
  if (online_rotation) std::fprintf(stderr, "  the online rotation of ffn_down's input (--rotate)\n");
  if (act_static) std::fprintf(stderr, "  static activation ranges (--act static)\n");
  return 0;
}

RegisterCommand reg({"quantize", "Quantize a model to W4A8, W8A8 or W4A16 (round-to-nearest or calibrated)", 30,
                     [](CLI::App& sub) {
                       auto o = std::make_shared<QuantizeOptions>();
                       sub.add_option("input", o->in, "GGUF file, Hugging Face folder, or llama2.c checkpoint")->required();
                       sub.add_option("output", o->out, "Output .gguf file (written atomically)")->required();
                       sub.add_option("--scheme", o->plan.scheme, "w4a8, w8a8 or w4a16")->capture_default_str();
                       sub.add_option("--group", o->plan.group, "Weights per scale: 32, 64, 128, or 0 = per output channel")
                           ->capture_default_str();
                       sub.add_option("--head", o->plan.head, "Output head: q8, q4 or f16")->capture_default_str();
                       sub.add_option("--embed", o->plan.embed, "Token embedding (untied models): q8 or f16")->capture_default_str();
                       sub.add_flag("--compat", o->plan.compat,
                                    "Only types llama.cpp reads: tensors GGML types cannot hold stay F16");
                       sub.add_flag("--tiles", o->tiles,
                                    "Store Q4_0/Q8_0-shaped matrices (W4 g32, W8 g32, rows of whole groups) as pocketllm "
                                    "tiles too: they load in place (no repacking, less memory) but llama.cpp cannot "
                                    "read the file. Without it the file is llama.cpp-readable only when every tensor "
                                    "fits a GGML type (see the summary); --compat makes sure it does");
                       sub.add_flag("--allow-requantize", o->allow_requantize,
                                    "Quantize an input that is already quantized (its weights are rounded twice)");
                       sub.add_option("--type", o->plan.ggml_type,
                                      "A llama-quantize preset instead of --scheme (Q4_K_M, Q6_K, IQ4_XS, Q4_0, ...: "
                                      "GGML types only, round to nearest; docs/FORMAT.md)");
                       sub.add_flag("--pure", o->plan.pure, "--type: every matrix in the preset's base type");
                       sub.add_option("--tokenizer", o->tokenizer, tokenizer_help());
                       MethodOptions& mo = o->methods;
                       sub.add_option("--calib", mo.calib_file, "Calibration text (never the evaluation text)");
                       sub.add_option("--calib-tokens", mo.calib_tokens, "Calibration tokens to run")->capture_default_str();
                       sub.add_option("--calib-ctx", mo.calib_ctx, "Tokens per calibration chunk")->capture_default_str();
                       sub.add_option("--calib-samples", mo.calib_samples,
                                      "Input rows kept per linear for --smooth and the error report")->capture_default_str();
                       sub.add_flag("--rotate", mo.rotate,
                                    "Hadamard rotation of the residual stream folded into the weights, plus an online "
                                    "rotation of ffn_down's input (needs pocketllm; --compat: residual only)");
                       sub.add_flag("--smooth", mo.smooth, "Per-channel smoothing scales searched on --calib data");
                       sub.add_flag("--gptq", mo.weights.gptq, "GPTQ with the calibration Hessian (needs --calib)");
                       sub.add_flag("--act-order", mo.weights.act_order, "GPTQ: columns by decreasing activation energy");
                       sub.add_flag("--clip", mo.weights.clip, "Search clipped scales per group (weighted by --calib statistics)");
                       sub.add_flag("--refit", mo.weights.refit,
                                    "Refit each group scale to the calibration Hessian, codes fixed (after --gptq/--clip)");
                       sub.add_option("--damp", mo.weights.damp, "GPTQ damping (fraction of mean diag H)")->capture_default_str();
                       sub.add_option("--method", o->preset, "Preset: rtn, or best (the combination measured best)");
                       sub.add_option("--act", o->act_mode, "Activation ranges: dynamic (each token's max) or static (one "
                                      "searched scale per linear input, needs --calib)")->capture_default_str();
                       sub.add_option("--seed", mo.seed, "Rotation seed")->capture_default_str();
                       sub.add_option("-t,--threads", mo.threads, threads_help())->check(CLI::Range(0, 1024));
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
