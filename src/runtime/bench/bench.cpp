#include "runtime/bench/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/thread_pool.h"
#include "runtime/bench/membw.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::bench {
namespace {

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

// Sample standard deviation, as llama-bench reports it.
double stddev(const std::vector<double>& v) {
  if (v.size() <= 1) return 0.0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

size_t matrix_bytes(const Matrix& w) {
  if (w.empty()) return 0;
  return w.stream_bytes ? w.stream_bytes : static_cast<size_t>(w.rows) * w.row_bytes;
}

double now_ns() {
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int32_t first_token(const Model& m, std::mt19937& rng) {
  if (m.tokenizer && m.tokenizer->add_bos() && m.tokenizer->bos() >= 0) return m.tokenizer->bos();
  return static_cast<int32_t>(rng() % static_cast<uint32_t>(m.cfg.n_vocab));
}

// Prefill of n tokens from an empty context (BOS first when the vocab adds one).
void run_prompt(Context& ctx, const Model& m, int n, std::mt19937& rng) {
  std::vector<int32_t> toks(static_cast<size_t>(n));
  toks[0] = first_token(m, rng);
  for (size_t i = 1; i < toks.size(); ++i) toks[i] = static_cast<int32_t>(rng() % static_cast<uint32_t>(m.cfg.n_vocab));
  ctx.eval(toks.data(), n);
}

// n decode steps of one token each, starting from BOS in an empty context.
void run_gen(Context& ctx, const Model& m, int n, std::mt19937& rng) {
  int32_t tok = first_token(m, rng);
  for (int i = 0; i < n; ++i) {
    ctx.eval(&tok, 1);
    tok = static_cast<int32_t>(rng() % static_cast<uint32_t>(m.cfg.n_vocab));
  }
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string BenchResult::test_name() const {
  if (n_prompt > 0 && n_gen == 0) return fmt::format("pp{}", n_prompt);
  if (n_gen > 0 && n_prompt == 0) return fmt::format("tg{}", n_gen);
  return fmt::format("pp{}+tg{}", n_prompt, n_gen);
}
double BenchResult::avg_ts() const { return mean(ts); }
double BenchResult::stddev_ts() const { return stddev(ts); }

std::string model_description(const Model& m) {
  const uint64_t n = m.n_params();
  std::string size_class = n >= 1000000000ull ? fmt::format("{}B", (n + 500000000ull) / 1000000000ull)
                                              : fmt::format("{}M", (n + 500000ull) / 1000000ull);
  // The matrices' types, most bytes first (stories260K in W4A8: "PL_W4_G32_T16+Q4_0+PL_W8_G32_T16"):
  // the main type alone would hide the mix.
  std::map<DType, uint64_t> by_type;
  for (auto& [name, t] : m.tensors)
    if (t.ne.size() >= 2) by_type[t.type] += t.nbytes;
  std::vector<std::pair<uint64_t, DType>> order;
  for (auto& [t, b] : by_type) order.push_back({b, t});
  std::sort(order.begin(), order.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::string types;
  for (auto& [b, t] : order) {
    if (!types.empty()) types += '+';
    types += upper(dtype_name(t));
  }
  if (types.empty() || types == "F32") types = "all F32";
  return fmt::format("{} {} {}", m.cfg.arch, size_class, types);
}

double decode_weight_bytes(const Model& m) {
  const ModelWeights& w = m.w;
  double b = static_cast<double>(w.token_embd.row_bytes);  // one embedding row
  b += static_cast<double>(matrix_bytes(w.output) + w.output_norm.size() * 4);
  for (const auto& l : w.layers) {
    for (const Matrix* x : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      b += static_cast<double>(matrix_bytes(*x));
    b += static_cast<double>((l.attn_norm.size() + l.ffn_norm.size() + l.bq.size() + l.bk.size() + l.bv.size()) * 4);
  }
  return b;
}

double decode_kv_bytes(const Model& m, KvType kv, double pos) {
  // Attention reads K and V of every cached position (and the new one) in every layer.
  const KvCache row(1, 1, m.cfg.kv_dim(), kv, m.cfg.head_dim);  // one position: its row size (q8: ints + scales)
  return 2.0 * static_cast<double>(m.cfg.n_layers) * static_cast<double>(row.row_bytes()) * (pos + 1.0);
}

std::vector<BenchResult> run_bench(const Model& m, const BenchParams& p) {
  if (p.reps < 1) fail("bench: repetitions must be >= 1");
  std::vector<int> threads = p.threads;
  if (threads.empty()) threads.push_back(default_thread_count());
  std::vector<std::pair<int, int>> tests;  // (n_prompt, n_gen)
  for (int n : p.n_prompt)
    if (n > 0) tests.emplace_back(n, 0);
  for (int n : p.n_gen)
    if (n > 0) tests.emplace_back(0, n);
  std::unique_ptr<ReadBandwidthProbe> probe;
  if (p.membw) probe = std::make_unique<ReadBandwidthProbe>(p.membw_bytes);

  std::vector<BenchResult> out;
  const std::string desc = model_description(m);
  uint64_t size = 0;
  for (auto& [name, t] : m.tensors) size += t.nbytes;
  const size_t total = threads.size() * tests.size();
  for (int t : threads) {
    for (auto [np, ng] : tests) {
      if (p.progress)
        std::fprintf(stderr, "bench: %zu/%zu: %s, %d threads\n", out.size() + 1, total,
                     (np ? fmt::format("pp{}", np) : fmt::format("tg{}", ng)).c_str(), t);
      BenchResult r;
      r.model_desc = desc;
      r.model_size = size;
      r.n_params = m.n_params();
      r.threads = t;
      r.type_kv = kv_type_name(p.kv_type);
      r.n_prompt = np;
      r.n_gen = ng;
      ContextParams cp;
      cp.n_ctx = np + ng + 1;
      cp.n_batch = p.n_batch;
      cp.kv_type = p.kv_type;
      cp.n_threads = t;
      Context ctx(m, cp);
      std::mt19937 rng(1234);
      // Warm-up (as llama-bench): a full prompt, or one decode step.
      if (np) run_prompt(ctx, m, np, rng);
      if (ng) run_gen(ctx, m, 1, rng);
      for (int rep = 0; rep < p.reps; ++rep) {
        ctx.truncate(0);
        const double t0 = now_ns();
        if (np) run_prompt(ctx, m, np, rng);
        if (ng) run_gen(ctx, m, ng, rng);
        const double ns = now_ns() - t0;
        r.samples_ns.push_back(ns);
        r.ts.push_back(1e9 * (np + ng) / ns);
        // Interleaved with the decode runs so both see the same machine state.
        if (ng && probe) r.membw_samples.push_back(probe->measure(t));
      }
      if (ng) {
        r.weight_bytes_per_token = decode_weight_bytes(m);
        r.kv_bytes_per_token = decode_kv_bytes(m, p.kv_type, (ng - 1) / 2.0);
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::string format_markdown(const std::vector<BenchResult>& rs, bool roofline) {
  std::string s;
  auto row = [&](const std::vector<std::pair<int, std::string>>& cells) {
    s += "|";
    for (auto& [w, v] : cells) s += w < 0 ? fmt::format(" {:<{}} |", v, -w) : fmt::format(" {:>{}} |", v, w);
    s += "\n";
  };
  // Widths as llama-bench's (negative: left-aligned); t/s is one wider for "±".
  const std::vector<std::pair<int, std::string>> head = {{-30, "model"}, {10, "size"},    {10, "params"}, {-10, "backend"},
                                                         {7, "threads"}, {13, "test"}, {20, "t/s"}};
  row(head);
  s += "|";
  for (auto& [w, v] : head) s += fmt::format(" {}{} |", std::string(static_cast<size_t>(std::abs(w) - 1), '-'), w > 0 ? ":" : "-");
  s += "\n";
  for (auto& r : rs) {
    const double gib = static_cast<double>(r.model_size) / 1024.0 / 1024.0 / 1024.0;
    std::string size = r.model_size < (1ull << 30) ? fmt::format("{:.2f} MiB", gib * 1024.0) : fmt::format("{:.2f} GiB", gib);
    std::string params = r.n_params < 1000000000ull ? fmt::format("{:.2f} M", static_cast<double>(r.n_params) / 1e6)
                                                    : fmt::format("{:.2f} B", static_cast<double>(r.n_params) / 1e9);
    // fmt pads by code points, so "±" needs no width fix here.
    row({{-30, r.model_desc}, {10, size}, {10, params}, {-10, "CPU"}, {7, std::to_string(r.threads)},
         {13, r.test_name()}, {20, fmt::format("{:.2f} ± {:.2f}", r.avg_ts(), r.stddev_ts())}});
  }
  bool any_tg = false;
  for (auto& r : rs) any_tg |= r.n_gen > 0 && r.n_prompt == 0;
  if (!roofline || !any_tg) return s;
  s += "\n";
  const std::vector<std::pair<int, std::string>> head2 = {{7, "threads"}, {13, "test"},       {14, "MiB/token"},
                                                          {12, "KV MiB/tok"}, {14, "read GB/s"}, {14, "ceiling t/s"},
                                                          {20, "t/s"},         {10, "% ceiling"}};
  row(head2);
  s += "|";
  for (auto& [w, v] : head2) s += fmt::format(" {}{} |", std::string(static_cast<size_t>(std::abs(w) - 1), '-'), w > 0 ? ":" : "-");
  s += "\n";
  for (auto& r : rs) {
    if (!(r.n_gen > 0 && r.n_prompt == 0)) continue;
    const double bytes = r.weight_bytes_per_token + r.kv_bytes_per_token;
    const double bw = median(r.membw_samples);
    const double ceiling = bw > 0 ? bw / bytes : 0.0;
    row({{7, std::to_string(r.threads)},
         {13, r.test_name()},
         {14, fmt::format("{:.1f}", bytes / 1048576.0)},
         {12, fmt::format("{:.2f}", r.kv_bytes_per_token / 1048576.0)},
         {14, bw > 0 ? fmt::format("{:.2f}", bw / 1e9) : "-"},
         {14, bw > 0 ? fmt::format("{:.2f}", ceiling) : "-"},
         {20, fmt::format("{:.2f} ± {:.2f}", r.avg_ts(), r.stddev_ts())},
         {10, bw > 0 ? fmt::format("{:.1f}", 100.0 * r.avg_ts() / ceiling) : "-"}});
  }
  return s;
}

namespace {
nlohmann::ordered_json to_json(const BenchResult& r) {
  nlohmann::ordered_json j;
  j["model_type"] = r.model_desc;
  j["model_size"] = r.model_size;
  j["model_n_params"] = r.n_params;
  j["backends"] = "CPU";
  j["n_threads"] = r.threads;
  j["type_k"] = r.type_kv;
  j["type_v"] = r.type_kv;
  j["n_prompt"] = r.n_prompt;
  j["n_gen"] = r.n_gen;
  j["test"] = r.test_name();
  j["avg_ns"] = static_cast<uint64_t>(mean(r.samples_ns));
  j["stddev_ns"] = static_cast<uint64_t>(stddev(r.samples_ns));
  j["avg_ts"] = r.avg_ts();
  j["stddev_ts"] = r.stddev_ts();
  j["samples_ns"] = r.samples_ns;
  j["samples_ts"] = r.ts;
  if (r.n_gen > 0 && r.n_prompt == 0) {
    j["weight_bytes_per_token"] = r.weight_bytes_per_token;
    j["kv_bytes_per_token"] = r.kv_bytes_per_token;
    j["membw_samples_bps"] = r.membw_samples;
    j["membw_median_bps"] = median(r.membw_samples);
  }
  return j;
}
}  // namespace

std::string format_json(const std::vector<BenchResult>& rs) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (auto& r : rs) a.push_back(to_json(r));
  return a.dump(2) + "\n";
}

std::string format_csv(const std::vector<BenchResult>& rs) {
  std::string s =
      "model_type,model_size,model_n_params,backends,n_threads,n_prompt,n_gen,test,avg_ns,stddev_ns,avg_ts,stddev_ts,"
      "bytes_per_token,membw_median_bps\n";
  for (auto& r : rs) {
    const bool tg = r.n_gen > 0 && r.n_prompt == 0;
    s += fmt::format("\"{}\",{},{},CPU,{},{},{},{},{:.0f},{:.0f},{:.6f},{:.6f},{:.0f},{:.0f}\n", r.model_desc, r.model_size,
                     r.n_params, r.threads, r.n_prompt, r.n_gen, r.test_name(), mean(r.samples_ns), stddev(r.samples_ns),
                     r.avg_ts(), r.stddev_ts(), tg ? r.weight_bytes_per_token + r.kv_bytes_per_token : 0.0,
                     tg ? median(r.membw_samples) : 0.0);
  }
  return s;
}

}  // namespace pocketllm::bench
