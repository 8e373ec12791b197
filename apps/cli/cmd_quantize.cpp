// pocketllm quantize: any loadable model to a W4A8 / W8A8 / W4A16 GGUF file.
// Formats equal to GGML types are written as those types (W4 g32 = Q4_0, W8 g32
// = Q8_0) so llama.cpp can load the file; other formats use pocketllm type ids
// and the file says it needs pocketllm (docs/FORMAT.md).
#include <cstdio>
#include <cstring>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/int_weights.h"
#include "model/export_gguf.h"
#include "quant/plan.h"

namespace pocketllm::cli {
namespace {

struct QuantizeOptions {
  std::string in, out, tokenizer;
  QuantPlanOptions plan;
  int threads = 0;
};

bool is_standard(DType t) { return static_cast<uint32_t>(t) < static_cast<uint32_t>(DType::POCKETLLM_FIRST); }

int run(QuantizeOptions& o) {
  validate_plan(o.plan);
  register_quant_types();
  LoadOptions lo;
  lo.tokenizer_path = o.tokenizer;
  auto m = load_model(o.in, lo);
  o.plan.tied = !m->tensors.count("output.weight");
  ThreadPool pool(o.threads > 0 ? o.threads : physical_core_count());
  bool pocketllm_only = false;
  uint64_t in_bytes = 0, out_bytes = 0;
  ExportOptions eo;
  eo.convert = [&](const std::string& name, int64_t rows, int64_t cols, const float* data) {
    TensorPlan p = plan_tensor(o.plan, name, rows, cols);
    in_bytes += static_cast<uint64_t>(rows * cols) * 4;
    ExportedTensor e;
    if (!p.quantize) {
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
                       sub.add_option("-t,--threads", o->threads, "Threads (default: physical cores)");
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
