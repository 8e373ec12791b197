// `pocketllm synth` and `pocketllm bench` as a user runs them: synth writes a
// loadable standard GGUF with the preset's shapes and the real vocabulary,
// deterministically; bench prints well-formed llama-bench tables / JSON / CSV.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/fp16.h"
#include "model/model.h"
#include "runtime/bench/bench.h"
#include "runtime/bench/membw.h"
#include "quantizer/synth_model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

namespace ts = testsupport;
using namespace pocketllm;

namespace {
std::string spm_vocab() { return (ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string(); }

// The tiny synth model, written once per test process.
const std::string& tiny_model() {
  static const std::string path = [] {
    auto p = (ts::temp_dir("synth") / "tiny.gguf").string();
    auto r = ts::run_cli({"synth", "--preset", "tiny", "--vocab", spm_vocab(), p, "--seed", "7"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return p;
  }();
  return path;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Display width: UTF-8 continuation bytes take no column.
size_t columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

TEST(Synth, TinyPresetWritesLoadableGgufWithPresetShapes) {
  auto m = load_model(tiny_model());
  const auto& c = m->cfg;
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_layers, 2);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_heads, 4);
  EXPECT_EQ(c.n_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.n_vocab, 32000);
  EXPECT_EQ(m->tensors.size(), 3u + 9u * 2u);
  const TensorRef& e = m->tensors.at("token_embd.weight");
  EXPECT_EQ(e.type, DType::F16);
  EXPECT_EQ(e.ne, (std::vector<uint64_t>{64, 32000}));
  EXPECT_EQ(m->tensors.at("blk.1.ffn_down.weight").ne, (std::vector<uint64_t>{172, 64}));
  EXPECT_EQ(m->tensors.at("blk.0.attn_k.weight").ne, (std::vector<uint64_t>{64, 32}));
  // Norms are 1, weights ~ normal(0, 0.02).
  const TensorRef& norm = m->tensors.at("blk.0.ffn_norm.weight");
  ASSERT_EQ(norm.type, DType::F32);
  for (size_t i = 0; i < 64; ++i) EXPECT_EQ(reinterpret_cast<const float*>(norm.data)[i], 1.0f);
  const auto* h = reinterpret_cast<const uint16_t*>(e.data);
  double sum = 0, sq = 0;
  const size_t n = 64 * 32000;
  for (size_t i = 0; i < n; ++i) {
    const double v = f16_to_f32(h[i]);
    sum += v, sq += v * v;
  }
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.001);
  EXPECT_NEAR(sd, 0.02, 0.0005);
  // The real vocabulary travels along.
  auto ref = Tokenizer::load(spm_vocab());
  ASSERT_TRUE(m->tokenizer);
  EXPECT_EQ(m->tokenizer->n_vocab(), 32000);
  EXPECT_EQ(m->tokenizer->encode("Hello world, synthetic!", true, false), ref->encode("Hello world, synthetic!", true, false));
}

TEST(Synth, SameSeedSameBytesWhateverTheThreads) {
  auto dir = ts::temp_dir("synth_det");
  auto run = [&](const std::string& name, const std::string& seed, const std::string& threads) {
    auto p = (dir / name).string();
    auto r = ts::run_cli({"synth", "--preset", "tiny", "--vocab", spm_vocab(), p, "--seed", seed, "-t", threads});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ts::read_file(p);
  };
  const std::string a = run("a.gguf", "3", "1"), b = run("b.gguf", "3", "2"), c = run("c.gguf", "4", "2");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.size(), c.size());
}

TEST(Synth, PresetTableAndErrors) {
  const auto& t = bench::find_synth_preset("tinyllama-1.1b").cfg;
  EXPECT_EQ(t.n_layers, 22);
  EXPECT_EQ(t.hidden_dim, 5632);
  EXPECT_EQ(t.n_kv_heads, 4);
  EXPECT_EQ(t.n_vocab, 32000);
  EXPECT_FALSE(t.tied_embeddings);
  const auto& l = bench::find_synth_preset("llama-3.2-1b").cfg;
  EXPECT_EQ(l.n_layers, 16);
  EXPECT_EQ(l.hidden_dim, 8192);
  EXPECT_EQ(l.n_kv_heads, 8);
  EXPECT_EQ(l.head_dim, 64);
  EXPECT_EQ(l.n_vocab, 128256);
  EXPECT_TRUE(l.tied_embeddings);
  EXPECT_TRUE(l.rope_llama3.enabled);
  EXPECT_EQ(l.rope_llama3.factor, 32.0f);
  EXPECT_EQ(l.rope_llama3.original_context, 8192);
  EXPECT_EQ(l.rope_theta, 500000.0f);
  EXPECT_THROW(bench::find_synth_preset("gpt-5"), Error);

  auto dir = ts::temp_dir("synth_err");
  auto r = ts::run_cli({"synth", "--preset", "nope", "--vocab", spm_vocab(), (dir / "x.gguf").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("tinyllama-1.1b"), std::string::npos) << r.err;
  r = ts::run_cli({"synth", "--preset", "tiny", "--vocab", spm_vocab(), (dir / "x.gguf").string(), "--type", "q4_0"});
  EXPECT_NE(r.exit_code, 0);
  // A vocabulary larger than the preset's embedding is refused.
  auto llama3 = (ts::shared_data() / "tokenizers/hf/llama3/tokenizer.json").string();
  r = ts::run_cli({"synth", "--preset", "tinyllama-1.1b", "--vocab", llama3, (dir / "x.gguf").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("more than"), std::string::npos) << r.err;
}

TEST(Bench, JsonHasOneEntryPerTestWithEveryRepetition) {
  auto r = ts::run_cli({"bench", "-m", tiny_model(), "-p", "16", "-n", "8", "-r", "2", "-t", "1", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["test"], "pp16");
  EXPECT_EQ(j[0]["n_prompt"], 16);
  EXPECT_EQ(j[1]["test"], "tg8");
  EXPECT_EQ(j[1]["n_gen"], 8);
  auto m = load_model(tiny_model());
  for (auto& e : j) {
    EXPECT_EQ(e["model_type"], "llama 4M F16");
    EXPECT_EQ(e["model_n_params"].get<uint64_t>(), m->n_params());
    EXPECT_EQ(e["n_threads"], 1);
    ASSERT_EQ(e["samples_ts"].size(), 2u);
    for (auto& s : e["samples_ts"]) EXPECT_GT(s.get<double>(), 0.0);
    EXPECT_GT(e["avg_ts"].get<double>(), 0.0);
  }
  // Decode reads every matrix once: both embedding-sized matrices are F16 (only one
  // row of token_embd), plus KV at the mean position.
  const double w = j[1]["weight_bytes_per_token"].get<double>();
  EXPECT_GT(w, 32000.0 * 64 * 2);
  EXPECT_LT(w, 32000.0 * 64 * 2 * 1.1);
  EXPECT_GT(j[1]["kv_bytes_per_token"].get<double>(), 0.0);
}

TEST(Bench, MarkdownTablesAreWellFormed) {
  auto r = ts::run_cli({"bench", "-m", tiny_model(), "-p", "16,8", "-n", "8", "-r", "2", "-t", "1,2", "--membw",
                        "--membw-bytes", std::to_string(16 << 20)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 2u + 6u + 1u + 2u + 2u) << r.out;
  EXPECT_EQ(lines[0],
            "| model                          |       size |     params | backend    | threads |          test |    "
            "              t/s |");
  EXPECT_EQ(lines[1],
            "| ------------------------------ | ---------: | ---------: | ---------- | ------: | ------------: | "
            "-------------------: |");
  const std::regex row(R"(\| llama 4M F16 +\| +[0-9.]+ MiB \| +4\.\d\d M \| CPU +\| +[12] \| +(pp16|pp8|tg8) \| +[0-9]+\.[0-9]{2} ± [0-9]+\.[0-9]{2} \|)");
  std::vector<std::string> tests;
  for (size_t i = 2; i < 8; ++i) {
    EXPECT_TRUE(std::regex_match(lines[i], row)) << lines[i];
    EXPECT_EQ(columns(lines[i]), columns(lines[0])) << lines[i];
    std::smatch m;
    if (std::regex_search(lines[i], m, std::regex(R"((pp16|pp8|tg8))"))) tests.push_back(m[1]);
  }
  EXPECT_EQ(tests, (std::vector<std::string>{"pp16", "pp8", "tg8", "pp16", "pp8", "tg8"}));
  EXPECT_EQ(lines[8], "");
  // Roofline table: one row per tg test, bandwidth measured, % of ceiling given.
  EXPECT_NE(lines[9].find("read GB/s"), std::string::npos) << lines[9];
  const std::regex roof(R"(\| +[12] \| +tg8 \| +[0-9.]+ \| +[0-9.]+ \| +[0-9.]+ \| +[0-9.]+ \| +[0-9.]+ ± [0-9.]+ \| +[0-9.]+ \|)");
  for (size_t i = 11; i < 13; ++i) EXPECT_TRUE(std::regex_match(lines[i], roof)) << lines[i];
}

TEST(Bench, CsvAndArgumentErrors) {
  auto r = ts::run_cli({"bench", "-m", tiny_model(), "-p", "8", "-n", "0", "-r", "1", "-t", "1", "-o", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("model_type,model_size,model_n_params,", 0), 0u);
  EXPECT_EQ(std::count(lines[1].begin(), lines[1].end(), ','), std::count(lines[0].begin(), lines[0].end(), ','));
  EXPECT_NE(lines[1].find(",pp8,"), std::string::npos);
  EXPECT_NE(ts::run_cli({"bench", "-m", tiny_model(), "-t", "0"}).exit_code, 0);
  EXPECT_NE(ts::run_cli({"bench", "-m", tiny_model(), "-o", "xml"}).exit_code, 0);
  EXPECT_NE(ts::run_cli({"bench", "-m", "/nonexistent.gguf"}).exit_code, 0);
}

TEST(Bench, ReadBandwidthProbeMeasuresSomething) {
  bench::ReadBandwidthProbe p(8 << 20);
  EXPECT_EQ(p.bytes(), size_t{8} << 20);
  EXPECT_GT(p.measure(1), 1e7);  // any machine, however busy, reads > 10 MB/s
  EXPECT_DOUBLE_EQ(bench::median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(bench::median({4, 1, 2, 3}), 2.5);
}
