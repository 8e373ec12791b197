// pocketllm bench: prefill (ppN) and decode (tgN) throughput in llama-bench's
// format, plus decode bytes/token against the measured read bandwidth (--membw).
#include <algorithm>
#include <cstdio>

#include "cli/command.h"
#include "cli/common_options.h"
#include "cli/hub_model.h"
#include "cli/speculation_options.h"
#include "core/error.h"
#include "model/model.h"
#include "runtime/bench/bench.h"
#include "runtime/bench/membw.h"
#include "runtime/bench/spec_bench.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct BenchCliOptions {
  std::string model, output = "md", kv_type = "f16", tokenizer;
  std::string hf_repo;
  std::vector<std::string> hf_files;
  bool no_mmap = false, no_huge_pages = false;
  bench::BenchParams params;
  SpeculationOptions spec;
  std::string prompt_file;
  int n_prompts = 8;
  int verify_cost = 0;  // k_max of the verification cost curve (0: off)
};

// --draft / --lookup: greedy decode of real prompts, plain and speculative, alternating.
int run_spec_bench_cmd(BenchCliOptions& c, const Model& m) {
  if (c.prompt_file.empty()) fail("bench --draft/--lookup needs -f FILE: prompts, one per line (random ids give a draft nothing to guess)");
  if (!m.tokenizer) fail("{}: bench --draft/--lookup needs a tokenizer for its prompts", c.model);
  bench::SpecBenchParams sp;
  const std::string text = read_text_file(c.prompt_file);
  for (size_t b = 0; b < text.size() && static_cast<int>(sp.prompts.size()) < c.n_prompts;) {
    size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    if (e > b) sp.prompts.push_back(m.tokenizer->encode(text.substr(b, e - b), true, false));
    b = e + 1;
  }
  sp.n_gen = c.params.n_gen.empty() ? 128 : c.params.n_gen.front();
  sp.reps = c.params.reps;
  sp.ctx.n_threads = c.params.threads.empty() ? 0 : c.params.threads.front();
  sp.ctx.kv_type = c.params.kv_type;
  sp.ctx.n_batch = c.params.n_batch;
  int64_t longest = 0;
  for (auto& p : sp.prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  sp.ctx.n_ctx = longest + sp.n_gen + c.spec.draft_max + 1;
  ModelOptions mo;
  mo.model = c.model;
  mo.no_mmap = c.no_mmap;
  mo.no_huge_pages = c.no_huge_pages;
  mo.tokenizer = c.tokenizer;
  mo.threads = sp.ctx.n_threads;
  SamplingParams greedy;
  greedy.temp = 0;
  Context ctx(m, sp.ctx);
  auto spec = make_speculator(c.spec, mo, m, greedy, ctx);
  const auto r = bench::run_spec_bench(sp, ctx, *spec);
  const std::string mode = c.spec.lookup > 0 ? fmt::format("lookup {}", c.spec.lookup) : "draft " + c.spec.draft_model;
  const std::string out = bench::format_spec_markdown(r, mode, static_cast<int>(sp.prompts.size()), sp.n_gen);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int run_bench_cmd(BenchCliOptions& c) {
  LoadOptions lo;
  lo.use_mmap = !c.no_mmap;
  lo.huge_pages = !c.no_huge_pages;
  lo.tokenizer_path = c.tokenizer;
  auto m = load_model(c.model, lo);
  c.params.kv_type = parse_kv_type(c.kv_type);
  for (int t : c.params.threads)
    if (t < 1 || t > 256) fail("-t {}: threads must be 1..256", t);
  for (auto* v : {&c.params.n_prompt, &c.params.n_gen})
    for (int n : *v)
      if (n < 0 || n > 65536) fail("-p/-n {}: token counts must be 0..65536", n);
  if (c.verify_cost > 0) {
    ContextParams cp;
    cp.n_threads = c.params.threads.empty() ? 0 : c.params.threads.front();
    cp.kv_type = c.params.kv_type;
    const int n_past = c.params.n_prompt.empty() ? 512 : c.params.n_prompt.front();
    const auto ms = bench::verify_cost_curve(*m, cp, c.verify_cost, c.params.reps, n_past);
    const std::string out = bench::format_verify_markdown(ms, n_past);
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
  }
  if (c.spec.enabled()) return run_spec_bench_cmd(c, *m);
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

RegisterCommand register_bench({"bench", "Benchmark prefill and decode speed (llama-bench's tests and table)", 80, [](CLI::App& sub) {
                       auto o = std::make_shared<BenchCliOptions>();
                       sub.add_option("-m,--model", o->model, "Model file or folder");
                       add_hf_options(sub, o->hf_repo, o->hf_files);
                       sub.add_option("--tokenizer", o->tokenizer, tokenizer_help() + " (for -f prompts)");
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
                           ->check(CLI::IsMember({"f32", "f16", "q8"}))
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
                       add_speculation_options(sub, o->spec);
                       sub.add_option("-f,--file", o->prompt_file,
                                      "Prompts for --draft/--lookup, one per line (the first --n-prompts lines)");
                       sub.add_option("--verify-cost", o->verify_cost,
                                      "Time one forward pass of k+1 rows vs 1 row for k = 0..K, at position -p "
                                      "(what checking k drafts costs)")
                           ->check(CLI::Range(1, 64));
                       sub.add_option("--n-prompts", o->n_prompts, "Prompts taken from -f")
                           ->check(CLI::Range(1, 1000))
                           ->capture_default_str();
                       sub.add_flag("--no-huge-pages", o->no_huge_pages,
                                    "Stream the weights from the mapped file instead of copying them into transparent huge pages");
                       return std::function<int()>([o] {
                         resolve_hf_model(o->model, o->hf_repo, o->hf_files);
                         return run_bench_cmd(*o);
                       });
                     }});

}  // namespace
}  // namespace pocketllm::cli
