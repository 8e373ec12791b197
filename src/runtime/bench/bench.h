// `pocketllm bench`: llama-bench's pp/tg measurements and output formats, plus
// a decode roofline (bytes read per token against measured read bandwidth).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/context.h"
#include "model/model.h"

namespace pocketllm::bench {

struct BenchParams {
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> threads;  // empty: physical cores
  int reps = 5;
  int64_t n_batch = 512;
  KvType kv_type = KvType::F16;
  bool membw = false;
  size_t membw_bytes = size_t{1} << 30;
  bool progress = true;  // one line per benchmark on stderr
};

// One row of the table: a test (pp or tg) at one thread count.
struct BenchResult {
  std::string model_desc;  // "llama 1B F16"
  uint64_t model_size = 0;  // bytes of all tensors
  uint64_t n_params = 0;
  int threads = 0;
  int n_prompt = 0, n_gen = 0;
  std::string type_kv = "f16";  // the KV cache type (llama-bench's type_k / type_v)
  std::vector<double> samples_ns;  // one per repetition
  std::vector<double> ts;          // tokens/s per repetition
  // tg only: bytes a decode step reads (weights + KV at the mean position).
  double weight_bytes_per_token = 0, kv_bytes_per_token = 0;
  std::vector<double> membw_samples;  // bytes/s, one per repetition (with --membw)

  std::string test_name() const;  // "pp512" / "tg128"
  double avg_ts() const;
  double stddev_ts() const;
};

// Model column as llama-bench prints it: arch, size class, weight type.
std::string model_description(const Model& m);
// Weight bytes one decode step streams (every matrix once, one embedding row,
// the norms), and KV bytes read at position `pos`.
double decode_weight_bytes(const Model& m);
double decode_kv_bytes(const Model& m, KvType kv, double pos);

std::vector<BenchResult> run_bench(const Model& m, const BenchParams& p);

std::string format_markdown(const std::vector<BenchResult>& r, bool roofline);
std::string format_json(const std::vector<BenchResult>& r);
std::string format_csv(const std::vector<BenchResult>& r);

}  // namespace pocketllm::bench
