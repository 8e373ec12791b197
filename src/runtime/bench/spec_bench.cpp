#include "runtime/bench/spec_bench.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.h"
#include "core/timer.h"
#include "runtime/generate.h"

namespace pocketllm::bench {
namespace {

double median_of(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Greedy decode of every prompt; returns the decode time in ms and adds decoded tokens to *tokens.
double decode_all(const Model& m, const SpecBenchParams& p, Context& ctx, Speculator* spec, int64_t* tokens) {
  double ms = 0;
  for (const auto& prompt : p.prompts) {
    ctx.truncate(0);
    SamplingParams sp;
    sp.temp = 0;
    GenerationLimits lim;
    lim.max_tokens = p.n_gen;
    lim.is_eog = [](int32_t) { return false; };  // a fixed amount of work per prompt
    Generation g(m, Sampler(sp, m.n_sampleable()), std::move(lim));
    g.start(prompt);
    const GenerateStats st = generate(ctx, g, prompt, 0, {}, spec);
    ms += st.decode_ms;
    *tokens += st.n_gen - 1;  // the first token comes from the prefill
  }
  return ms;
}

}  // namespace

double SpecBenchResult::plain_median() const { return median_of(plain_tps); }
double SpecBenchResult::spec_median() const { return median_of(spec_tps); }
double SpecBenchResult::tokens_per_pass() const {
  return stats.passes > 0 ? static_cast<double>(stats.accepted + stats.passes) / static_cast<double>(stats.passes)
                          : 0.0;
}

SpecBenchResult run_spec_bench(const SpecBenchParams& p, Context& ctx, Speculator& spec) {
  if (p.prompts.empty()) fail("bench with a draft needs prompts (-f FILE)");
  const Model& m = ctx.model();
  SpecBenchResult r;
  int64_t warm = 0;
  decode_all(m, p, ctx, nullptr, &warm);  // warm-up: pages, caches, the draft's weights
  decode_all(m, p, ctx, &spec, &warm);
  spec.reset_stats();
  for (int rep = 0; rep < p.reps; ++rep) {
    int64_t n_plain = 0, n_spec = 0;
    const double plain_ms = decode_all(m, p, ctx, nullptr, &n_plain);
    const double spec_ms = decode_all(m, p, ctx, &spec, &n_spec);
    r.plain_tps.push_back(n_plain * 1000.0 / std::max(plain_ms, 1e-9));
    r.spec_tps.push_back(n_spec * 1000.0 / std::max(spec_ms, 1e-9));
    r.tokens = n_spec;
  }
  r.stats = spec.stats();
  return r;
}

std::string format_spec_markdown(const SpecBenchResult& r, const std::string& mode, int n_prompts, int n_gen) {
  std::string s = "| decode | prompts x tokens | drafted | accepted | acceptance | tokens/pass | t/s (median) | speedup |\n"
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  s += fmt::format("| plain | {} x {} | | | | 1.00 | {:.2f} | 1.00 |\n", n_prompts, n_gen, r.plain_median());
  s += fmt::format("| {} | {} x {} | {} | {} | {:.1f}% | {:.2f} | {:.2f} | {:.2f} |\n", mode, n_prompts, n_gen,
                   r.stats.drafted, r.stats.accepted, 100.0 * r.stats.acceptance(), r.tokens_per_pass(),
                   r.spec_median(), r.spec_median() / std::max(r.plain_median(), 1e-9));
  return s;
}

std::vector<double> verify_cost_curve(const Model& m, const ContextParams& cp, int k_max, int reps, int n_past) {
  ContextParams p = cp;
  p.n_ctx = n_past + k_max + 2;
  Context ctx(m, p);
  std::vector<int32_t> ids(static_cast<size_t>(n_past + k_max + 1));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 1) % static_cast<size_t>(m.cfg.n_vocab));
  ctx.eval(ids.data(), n_past);
  std::vector<std::vector<double>> ms(static_cast<size_t>(k_max + 1));
  std::vector<Engine::Row> rows;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up
    for (int k = 0; k <= k_max; ++k) {
      rows.clear();
      for (int i = 0; i <= k; ++i) rows.push_back({&ctx.sequence(), ids[static_cast<size_t>(n_past + i)], true});
      Timer t;
      ctx.engine().forward(rows);
      const double dt = t.ms();
      ctx.truncate(n_past);
      if (rep >= 0) ms[static_cast<size_t>(k)].push_back(dt);
    }
  }
  std::vector<double> out;
  for (auto& v : ms) out.push_back(median_of(v));
  return out;
}

std::string format_verify_markdown(const std::vector<double>& ms, int n_past) {
  std::string s = fmt::format("| k drafts (rows = k+1), at position {} | ms per pass (median) | vs 1 row |\n", n_past);
  s += "| ---: | ---: | ---: |\n";
  for (size_t k = 0; k < ms.size(); ++k)
    s += fmt::format("| {} | {:.2f} | {:.2f} |\n", k, ms[k], ms[k] / std::max(ms[0], 1e-9));
  return s;
}

}  // namespace pocketllm::bench
