// pocketllm bench: prefill (ppN) and decode (tgN) throughput in llama-bench's
// format, plus decode bytes/token against the measured read bandwidth (--membw).
#include <cstdio>

#include "cli/command.h"
#include "cli/common_options.h"
#include "cli/hub_model.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/bench/bench.h"
#include "runtime/bench/membw.h"

namespace pocketllm::cli {
namespace {

struct BenchCliOptions {
  std::string model, output = "md", kv_type = "f16";
  std::string hf_repo;
  std::vector<std::string> hf_files;
  bool no_mmap = false, no_huge_pages = false;
  bench::BenchParams params;
};

int run_bench_cmd(BenchCliOptions& c) {
  LoadOptions lo;
  lo.use_mmap = !c.no_mmap;
  lo.huge_pages = !c.no_huge_pages;
  auto m = load_model(c.model, lo);
  c.params.kv_type = c.kv_type == "f32" ? KvType::F32 : KvType::F16;
  for (int t : c.params.threads)
    if (t < 1 || t > 256) fail("-t {}: threads must be 1..256", t);
  for (auto* v : {&c.params.n_prompt, &c.params.n_gen})
    for (int n : *v)
      if (n < 0 || n > 65536) fail("-p/-n {}: token counts must be 0..65536", n);
  if (c.params.membw)
    std::fprintf(stderr, "bench: read bandwidth probe over %.2f GiB (%s loads)\n",
                 static_cast<double>(c.params.membw_bytes) / (1 << 30), bench::ReadBandwidthProbe::isa().c_str());
  auto results = bench::run_bench(*m, c.params);
  std::string out = c.output == "json" ? bench::format_json(results)
                    : c.output == "csv" ? bench::format_csv(results)
                                        : bench::format_markdown(results, true);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

RegisterCommand reg({"bench", "Benchmark prefill and decode speed (llama-bench's tests and table)", 80, [](CLI::App& sub) {
                       auto o = std::make_shared<BenchCliOptions>();
                       sub.add_option("-m,--model", o->model, "Model file or folder");
                       add_hf_options(sub, o->hf_repo, o->hf_files);
                       sub.add_option("-p,--n-prompt", o->params.n_prompt, "Prompt lengths (comma list)")
                           ->delimiter(',')
                           ->capture_default_str();
                       sub.add_option("-n,--n-gen", o->params.n_gen, "Generated lengths (comma list)")
                           ->delimiter(',')
                           ->capture_default_str();
                       sub.add_option("-t,--threads", o->params.threads, threads_help("Thread counts, comma list"))
                           ->delimiter(',');
                       sub.add_option("-r,--repetitions", o->params.reps, "Repetitions of each test")
                           ->check(CLI::Range(1, 1000))
                           ->capture_default_str();
                       sub.add_option("-b,--batch-size", o->params.n_batch, "Prefill batch size")
                           ->check(CLI::Range(int64_t{1}, int64_t{4096}))
                           ->capture_default_str();
                       sub.add_option("--kv-type", o->kv_type, "KV cache type (llama-bench default: f16)")
                           ->check(CLI::IsMember({"f32", "f16"}))
                           ->capture_default_str();
                       sub.add_option("-o,--output", o->output, "Output format")
                           ->check(CLI::IsMember({"md", "json", "csv"}))
                           ->capture_default_str();
                       sub.add_flag("--membw", o->params.membw,
                                    "Measure read bandwidth between decode runs and report % of the ceiling");
                       sub.add_option("--membw-bytes", o->params.membw_bytes, "Probe buffer size in bytes (>= 1 GiB for a DRAM figure)")
                           ->check(CLI::Range(size_t{1} << 20, size_t{1} << 34))
                           ->capture_default_str();
                       sub.add_flag("--no-mmap", o->no_mmap, "Read the model into memory instead of mapping it");
                       sub.add_flag("--no-huge-pages", o->no_huge_pages,
                                    "Stream the weights from the mapped file instead of copying them into transparent huge pages");
                       return std::function<int()>([o] {
                         resolve_hf_model(o->model, o->hf_repo, o->hf_files);
                         return run_bench_cmd(*o);
                       });
                     }});

}  // namespace
}  // namespace pocketllm::cli
