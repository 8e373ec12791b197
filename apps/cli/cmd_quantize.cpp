// pocketllm quantize: any loadable model to a W4A8 / W8A8 / W4A16 GGUF file.
// Formats equal to GGML types are written as those types (W4 g32 = Q4_0, W8 g32
// = Q8_0) so llama.cpp can load the file; other formats use pocketllm type ids
// and the file says it needs pocketllm (docs/FORMAT.md).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/int_weights.h"
#include "kernels/linear.h"
#include "model/context.h"
#include "model/export_gguf.h"
#include "quant/calib/gptq.h"
#include "quant/calib/stats.h"
#include "quant/plan.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct QuantizeOptions {
  std::string in, out, tokenizer;
  QuantPlanOptions plan;
  int threads = 0;
  // Calibration (docs/CALIBRATION.md); without these flags the output is plain RTN.
  std::string calib_file;
  int64_t calib_tokens = 8192;
  int64_t calib_ctx = 256;
  calib::CalibMethod method;
};

bool calibrating(const QuantizeOptions& o) { return o.method.gptq || o.method.clip; }

// Runs the unquantized model over the calibration text and collects, per linear
// input, the second moments x xᵀ (memory: cols² doubles per distinct input).
calib::CalibStats collect_stats(const Model& m, const QuantizeOptions& o) {
  if (o.calib_tokens < 1) fail("--calib-tokens must be at least 1");
  if (o.calib_ctx < 4) fail("--calib-ctx must be at least 4");
  std::map<const Matrix*, std::string> keys;
  for (size_t l = 0; l < m.w.layers.size(); ++l) {
    const LayerWeights& lw = m.w.layers[l];
    const std::string b = "blk." + std::to_string(l) + ".";
    for (auto [mat, name] : {std::pair{&lw.wq, "attn_q"}, {&lw.wk, "attn_k"}, {&lw.wv, "attn_v"}, {&lw.wo, "attn_output"},
                             {&lw.w_gate, "ffn_gate"}, {&lw.w_up, "ffn_up"}, {&lw.w_down, "ffn_down"}})
      keys[mat] = calib::stats_key(b + name + ".weight");
  }
  calib::CalibStats stats;
  set_linear_observer([&](const Matrix& w, const float* x, int64_t ldx, int64_t n) {
    auto it = keys.find(&w);
    if (it == keys.end() || it->second.empty()) return;
    auto [st, fresh] = stats.try_emplace(it->second, w.cols);
    st->second.add(x, ldx, n);
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
    std::fprintf(stderr, "\rcalibrate: [%s%s] %lld/%lld tokens", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), static_cast<long long>(done), static_cast<long long>(total));
  }
  std::fprintf(stderr, "\n");
  return stats;
}

bool is_standard(DType t) { return static_cast<uint32_t>(t) < static_cast<uint32_t>(DType::POCKETLLM_FIRST); }

int run(QuantizeOptions& o) {
  validate_plan(o.plan);
  register_quant_types();
  LoadOptions lo;
  lo.tokenizer_path = o.tokenizer;
  auto m = load_model(o.in, lo);
  o.plan.tied = !m->tensors.count("output.weight");
  calib::CalibStats stats;
  if (!o.calib_file.empty()) stats = collect_stats(*m, o);
  if (o.method.gptq && o.calib_file.empty()) fail("--gptq needs calibration data (--calib FILE)");
  nlohmann::json report = nlohmann::json::array();
  ThreadPool pool(o.threads > 0 ? o.threads : physical_core_count());
  bool pocketllm_only = false;
  uint64_t in_bytes = 0, out_bytes = 0;
  ExportOptions eo;
  eo.convert = [&](const std::string& name, int64_t rows, int64_t cols, const float* data) {
    TensorPlan p = plan_tensor(o.plan, name, rows, cols);
    in_bytes += static_cast<uint64_t>(rows * cols) * 4;
    ExportedTensor e;
    const std::string key = calib::stats_key(name);
    if (p.quantize && calibrating(o) && !key.empty()) {
      std::vector<float> h;
      if (auto it = stats.find(key); it != stats.end() && it->second.cols == cols) h = it->second.hessian();
      if (o.method.gptq && h.empty()) fail("{}: no calibration statistics for this tensor", name);
      const int64_t g = calib::stored_group(p.scheme, cols);
      const calib::CalibratedWeights cw = calib::quantize_calibrated(data, rows, cols, p.scheme.bits, g, h, o.method);
      QuantizedTensor q = quantize_rtn(cw.values.data(), rows, cols, calib::replay_scheme(p.scheme, cw));
      e.type = q.type;
      e.bytes = std::move(q.bytes);
      if (!h.empty()) {
        const calib::CalibratedWeights rtn = calib::quantize_calibrated(data, rows, cols, p.scheme.bits, g, {}, {});
        const double before = calib::relative_output_error(data, rtn.values.data(), rows, cols, h);
        const double after = calib::relative_output_error(data, cw.values.data(), rows, cols, h);
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
    pocketllm_only |= !is_standard(e.type);
    out_bytes += e.bytes.size();
    return e;
  };
  eo.extra.emplace_back("pocketllm.activations", gguf::Value::str(plan_activations(o.plan)));
  eo.extra.emplace_back("pocketllm.scheme", gguf::Value::str(o.plan.scheme));
  eo.extra.emplace_back("pocketllm.group", gguf::Value::u32(static_cast<uint32_t>(o.plan.group)));
  // The flag is decided after conversion; export_gguf writes extra keys first, so mark
  // it from the plan: any non-GGML type makes the file pocketllm-only.
  bool needs = false;
  for (auto& [name, t] : m->tensors) {
    if (t.ne.size() < 2) continue;
    TensorPlan p = plan_tensor(o.plan, name, static_cast<int64_t>(t.ne[1]), static_cast<int64_t>(t.ne[0]));
    if (p.quantize && !is_standard(scheme_type(p.scheme, static_cast<int64_t>(t.ne[0])))) needs = true;
  }
  eo.extra.emplace_back("pocketllm.required", gguf::Value::boolean(needs));
  std::fprintf(stderr, "quantize: %s -> %s (%s, group %d, head %s)\n", o.in.c_str(), o.out.c_str(),
               o.plan.scheme.c_str(), o.plan.group, o.plan.head.c_str());
  export_gguf(*m, o.out, eo);
  if (pocketllm_only != needs) fail("internal error: pocketllm-only flag mismatch");
  if (!report.empty()) {
    const std::string path = o.out + ".calib.json";
    std::ofstream(path) << nlohmann::json{{"gptq", o.method.gptq}, {"clip", o.method.clip},
                                          {"calib_file", o.calib_file}, {"tensors", report}}.dump(1) << "\n";
    std::fprintf(stderr, "calibrate: per-tensor output errors in %s\n", path.c_str());
  }
  std::fprintf(stderr, "quantize: %.2f MiB -> %.2f MiB%s\n", in_bytes / 1048576.0, out_bytes / 1048576.0,
               needs ? " (uses pocketllm types: llama.cpp cannot load this file)" : " (standard GGML types only)");
  return 0;
}

RegisterCommand reg({"quantize", "Quantize a model to W4A8, W8A8 or W4A16 (round-to-nearest)", 30, [](CLI::App& sub) {
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
                       sub.add_option("--tokenizer", o->tokenizer, "Tokenizer file for llama2.c checkpoints");
                       sub.add_option("--calib", o->calib_file, "Calibration text (never the evaluation text)");
                       sub.add_option("--calib-tokens", o->calib_tokens, "Calibration tokens to run")->capture_default_str();
                       sub.add_option("--calib-ctx", o->calib_ctx, "Tokens per calibration chunk")->capture_default_str();
                       sub.add_flag("--gptq", o->method.gptq, "GPTQ with the calibration Hessian (needs --calib)");
                       sub.add_flag("--clip", o->method.clip, "Search clipped scales per group (weighted by --calib statistics)");
                       sub.add_option("--damp", o->method.damp, "GPTQ damping (fraction of mean diag H)")->capture_default_str();
                       sub.add_option("-t,--threads", o->threads, "Threads (default: physical cores)");
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
