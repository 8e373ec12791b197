// linear() per kernel table: GEMV (decode, 1 token) over 2048x2048 and 5632x2048
// and GEMM (prefill, 512 tokens) over 2048x2048, for W4 (Q4_0) and W8 (Q8_0)
// weights, reporting weight GB/s and GOP/s (2 ops per multiply-add); kquant/: the
// same GEMM over random GGML blocks of Q4_K, Q5_K, Q6_K, IQ4_XS and Q5_0 (repacked
// into tiles where the table has tile kernels). A plain
// memory read runs in the same process, since decode is bound by it.
// attention/: one decoded token's attention over all 22 layers of a TinyLlama-1.1B
// shaped KV cache (32 query heads, 4 KV heads of 64 dims) at context 512..4096,
// f16 vs q8 KV, with the active table (POCKETLLM_ISA); KV GB/s is the cache read.
//   POCKETLLM_BENCH_THREADS=n (default 1); --benchmark_filter=avx2 etc.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "core/thread_pool.h"
#include "kernels/ggml_int.h"
#include "kernels/linear.h"
#include "kernels/pack.h"
#include "kernels/table.h"
#include "model/attention.h"
#include "model/kv_cache.h"
#include "quant/quantize.h"
#include "weights/kquant_tiles.h"

using namespace pocketllm;

namespace {

int bench_threads() {
  const char* s = std::getenv("POCKETLLM_BENCH_THREADS");
  return s && std::atoi(s) > 0 ? std::atoi(s) : 1;
}

ThreadPool& pool() {
  static ThreadPool p(bench_threads());
  return p;
}

std::vector<float> randn(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Case {
  const KernelTable* kernels;
  int bits;
  int64_t rows, cols, tokens;
};

void run_case(benchmark::State& state, Case c) {
  const auto w = randn(static_cast<size_t>(c.rows * c.cols), 1);
  const QuantizedTensor q = quantize_rtn(w.data(), c.rows, c.cols, Scheme{c.bits, 32, {}});
  Matrix m = make_matrix(q.type, c.rows, c.cols, q.bytes.data());
  prepare_matrix(m, *c.kernels);
  const auto x = randn(static_cast<size_t>(c.tokens * c.cols), 2);
  std::vector<float> y(static_cast<size_t>(c.tokens * c.rows));
  for (auto _ : state) {
    linear(m, x.data(), c.cols, c.tokens, y.data(), c.rows, pool());
    benchmark::DoNotOptimize(y.data());
  }
  const double iters = static_cast<double>(state.iterations());
  const double weight_bytes = m.packed_bytes ? static_cast<double>(m.packed_bytes) : static_cast<double>(q.bytes.size());
  state.counters["GB/s"] = benchmark::Counter(weight_bytes * iters / 1e9, benchmark::Counter::kIsRate);
  state.counters["GOP/s"] =
      benchmark::Counter(2.0 * c.rows * c.cols * c.tokens * iters / 1e9, benchmark::Counter::kIsRate);
}

// Random GGML blocks of type t: every code and scale pattern, the f16 super-block
// scales (d, and dmin where present) small and finite.
std::vector<uint8_t> random_ggml_blocks(DType t, int64_t rows, int64_t cols) {
  const size_t bb = kquant_tile_sb_bytes(t) / kKqTileRows;
  const int64_t nb = rows * cols / kquant_tile_block_cols(t);
  std::vector<uint8_t> data(bb * static_cast<size_t>(nb));
  std::mt19937 rng(1);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const uint16_t d = f32_to_f16(0.01f);
  const size_t d_at = t == DType::Q6_K ? offsetof(BlockQ6_K, d) : 0;
  for (int64_t b = 0; b < nb; ++b) {
    std::memcpy(&data[b * bb + d_at], &d, 2);
    if (t == DType::Q4_K || t == DType::Q5_K) std::memcpy(&data[b * bb + 2], &d, 2);
  }
  return data;
}

void run_kquant(benchmark::State& state, const KernelTable* k, DType t) {
  const int64_t rows = 2048, cols = 2048, tokens = 512;
  const auto bytes = random_ggml_blocks(t, rows, cols);
  Matrix m = make_matrix(t, rows, cols, bytes.data());
  prepare_matrix(m, *k);
  const auto x = randn(static_cast<size_t>(tokens * cols), 2);
  std::vector<float> y(static_cast<size_t>(tokens * rows));
  for (auto _ : state) {
    linear(m, x.data(), cols, tokens, y.data(), rows, pool());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GOP/s"] = benchmark::Counter(2.0 * rows * cols * tokens * static_cast<double>(state.iterations()) / 1e9,
                                               benchmark::Counter::kIsRate);
}

// One tile kernel alone in the calling thread (CPU time: what a loaded host
// inflates least), 512 tokens against all 128 tiles.
void run_kquant_tiles(benchmark::State& state, const KernelTable* k, DType t) {
  const int64_t rows = 2048, cols = 2048, tokens = 512;
  const auto bytes = random_ggml_blocks(t, rows, cols);
  PackedKQuant p;
  pack_kquant(t, bytes.data(), bytes.size() / rows, rows, cols, p, nullptr, {});
  const auto x = randn(static_cast<size_t>(tokens * cols), 2);
  GgmlActs a;
  ggml_acts_shape(tokens, cols, ggml_int_block(t), a);
  ggml_acts_tokens(x.data(), cols, 0, tokens, a);
  std::vector<float> y(static_cast<size_t>(tokens * rows));
  const KQuantGemmFn fn = kquant_tile_kernel(*k, t);
  for (auto _ : state) {
    fn(p, a, 0, p.n_tiles, y.data(), rows);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GOP/s"] = benchmark::Counter(2.0 * rows * cols * tokens * static_cast<double>(state.iterations()) / 1e9,
                                               benchmark::Counter::kIsRate);
}

// Sum of a 256 MiB buffer: the read bandwidth a memory-bound GEMV can hope for.
void read_bandwidth(benchmark::State& state) {
  const size_t n = (256u << 20) / 8;
  std::vector<uint64_t> buf(n, 1);
  ThreadPool& p = pool();
  for (auto _ : state) {
    std::vector<uint64_t> part(static_cast<size_t>(p.size()), 0);
    p.run([&](int ti, int nt) {
      auto [b, e] = ThreadPool::split(static_cast<int64_t>(n), ti, nt);
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int64_t i = b; i + 4 <= e; i += 4) s0 += buf[i], s1 += buf[i + 1], s2 += buf[i + 2], s3 += buf[i + 3];
      part[ti] = s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(part.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(n * 8) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

struct AttnCase {
  KvType kv;
  int64_t ctx;
};

void attention_decode(benchmark::State& state, AttnCase c) {
  ModelConfig cfg;
  cfg.n_layers = 22;
  cfg.n_heads = 32;
  cfg.n_kv_heads = 4;
  cfg.head_dim = 64;
  cfg.dim = 2048;
  const int64_t kvd = cfg.n_kv_heads * cfg.head_dim, qd = cfg.n_heads * cfg.head_dim;
  KvCache cache(cfg.n_layers, c.ctx, kvd, c.kv, cfg.head_dim);
  const auto k = randn(static_cast<size_t>(kvd), 3), v = randn(static_cast<size_t>(kvd), 4);
  for (int64_t l = 0; l < cfg.n_layers; ++l)
    for (int64_t p = 0; p < c.ctx; ++p) cache.store(l, p, k.data(), v.data());  // the bytes, not their values, cost time
  const auto q = randn(static_cast<size_t>(qd), 5);
  std::vector<float> att(static_cast<size_t>(qd));
  const std::vector<BatchRow> rows = {{&cache, c.ctx - 1, nullptr}};
  for (auto _ : state) {
    for (int64_t l = 0; l < cfg.n_layers; ++l) attention(cfg, l, rows, q.data(), att.data(), pool());
    benchmark::DoNotOptimize(att.data());
  }
  const double kv_bytes = static_cast<double>(cache.k_bytes(0, c.ctx).size()) * 2 * static_cast<double>(cfg.n_layers);
  state.counters["KV GB/s"] = benchmark::Counter(kv_bytes * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
}

void register_all() {
  for (KvType kv : {KvType::F16, KvType::Q8})
    for (int64_t ctx : {512, 2048, 4096}) {
      const std::string name = std::string("attention/") + active_kernels().name + "/tinyllama-1.1b/kv:" +
                               kv_type_name(kv) + "/ctx:" + std::to_string(ctx);
      benchmark::RegisterBenchmark(name.c_str(), attention_decode, AttnCase{kv, ctx})
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  auto* bw = benchmark::RegisterBenchmark("read_bandwidth/256MiB", read_bandwidth)->Unit(benchmark::kMillisecond);
  if (bench_threads() > 1) bw->UseRealTime();
  for (const KernelTable* k : available_kernels()) {
    const bool is_ref = std::string(k->name) == "ref";
    if (!is_ref)
      for (DType t : {DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_XS, DType::Q5_0}) {
        const std::string name = std::string("kquant/") + k->name + "/" + dtype_name(t) + "/2048x2048/tokens:512";
        // Real time: linear() runs its share on a pool thread, not in the caller.
        benchmark::RegisterBenchmark(name.c_str(), run_kquant, k, t)->Unit(benchmark::kMillisecond)->UseRealTime();
        if (kquant_tile_kernel(*k, t)) {
          const std::string tname = std::string("kquant_tiles/") + k->name + "/" + dtype_name(t) + "/2048x2048/tokens:512";
          benchmark::RegisterBenchmark(tname.c_str(), run_kquant_tiles, k, t)->Unit(benchmark::kMillisecond);
        }
      }
    for (int bits : {4, 8}) {
      std::vector<Case> cases = {{k, bits, 2048, 2048, 1}, {k, bits, 5632, 2048, 1}};
      if (!is_ref) cases.push_back({k, bits, 2048, 2048, 512});  // ref would take seconds per call
      for (const Case& c : cases) {
        const std::string name = std::string(c.tokens == 1 ? "gemv" : "gemm") + "/" + k->name + "/W" +
                                 std::to_string(bits) + "g32/" + std::to_string(c.rows) + "x" +
                                 std::to_string(c.cols) + "/tokens:" + std::to_string(c.tokens);
        auto* b = benchmark::RegisterBenchmark(name.c_str(), run_case, c)->Unit(benchmark::kMicrosecond);
        // One thread: rates from CPU time, which a loaded shared host inflates less than wall time.
        if (bench_threads() > 1) b->UseRealTime();
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
