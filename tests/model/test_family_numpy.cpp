// Every family against an independent numpy reference (tests/reference/): a tiny
// random model is written as a Hugging Face folder and as a llama.cpp-style GGUF
// by make_tiny_models.py; pocketllm's logits from both (and from its own GGUF/HF
// exports) must match reference_model.py's float64 forward pass within 1e-4, and
// greedy generation must pick the same ids. ablation_check.py first shows that
// each family feature (soft-capping, sliding window, Q/K norms, ...) changes the
// tiny model's logits far beyond that tolerance.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "support/model_helpers.h"
#include "model/context.h"
#include "quantizer/export_gguf.h"
#include "quantizer/export_hf.h"
#include "runtime/generate.h"
#include "support/greedy.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
const std::vector<int32_t> kIds = {1, 5, 9, 33, 2, 70, 12, 8, 3, 44, 60, 7};
constexpr int kGreedy = 6;

fs::path reference_dir() { return fs::path(POCKETLLM_SOURCE_DIR) / "tests" / "reference"; }

void python(const std::string& args, const fs::path& out) {
  const std::string cmd = "cd '" + reference_dir().string() + "' && /usr/bin/python3 " + args + " > '" +
                          out.string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ts::read_file(out);
}


// Logits of every position, fed in batches of n_batch (several batches exercise the KV cache).
std::vector<float> family_logits(const Model& m, int64_t n_batch, int64_t n_ctx = 64) {
  ContextParams p;
  p.n_threads = 2;
  p.n_ctx = n_ctx;
  p.n_batch = n_batch;
  Context ctx(m, p);
  const float* l = ctx.eval(kIds.data(), static_cast<int64_t>(kIds.size()), true);
  return std::vector<float>(l, l + kIds.size() * m.cfg.n_vocab);
}

std::vector<int32_t> greedy_family(const Model& m) {
  ContextParams p;
  p.n_threads = 2;
  p.n_ctx = 64;
  return testsupport::greedy_ids(m, kIds, kGreedy, p);
}

struct Reference {
  std::vector<float> logits;
  std::vector<int32_t> greedy;
};

std::vector<float> flat_logits(const json& j) {
  std::vector<float> out;
  for (auto& row : j["logits"])
    for (auto& v : row) out.push_back(v.get<float>());
  return out;
}


void expect_matches(const Model& m, const Reference& ref, const std::string& what, int64_t n_batch = 512) {
  const double d = ts::max_abs_diff(family_logits(m, n_batch), ref.logits);
  EXPECT_LT(d, 1e-4) << what;
  EXPECT_EQ(greedy_family(m), ref.greedy) << what;
  std::printf("[ %s ] max |logit - reference| = %.2e\n", what.c_str(), d);
}
}  // namespace

class FamilyNumpy : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyNumpy, LogitsAndGreedyMatchReferenceFromHfAndGguf) {
  const std::string family = GetParam();
  const fs::path dir = ts::temp_dir("fam-" + family);
  python("make_tiny_models.py " + family + " '" + dir.string() + "'", dir / "make.log");
  std::string ids;
  for (auto id : kIds) {
    if (!ids.empty()) ids += ',';
    ids += std::to_string(id);
  }
  python("reference_model.py '" + (dir / "hf").string() + "' " + ids + " " + std::to_string(kGreedy), dir / "ref.json");
  // Each family feature must move the tiny model's logits far beyond the tolerance.
  python("ablation_check.py " + family + " '" + (dir / "hf").string() + "'", dir / "ablation.log");
  if (HasFatalFailure()) return;
  const json j = json::parse(ts::read_file(dir / "ref.json"));
  Reference ref;
  ref.logits = flat_logits(j);
  ref.greedy = j["greedy"].get<std::vector<int32_t>>();
  ASSERT_EQ(ref.greedy.size(), static_cast<size_t>(kGreedy));

  auto hf = ts::load_weights(dir / "hf");
  const std::string arch = family;
  EXPECT_EQ(hf->cfg.arch, arch);
  expect_matches(*hf, ref, family + " HF");

  auto gg = ts::load_weights(dir / "model.gguf");
  EXPECT_EQ(gg->cfg.arch, arch);
  expect_matches(*gg, ref, family + " GGUF (llama.cpp layout)", 5);

  // pocketllm's own conversions: HF -> GGUF (what `convert` writes) and GGUF -> HF.
  ExportOptions eo;
  eo.progress = false;
  export_gguf(*hf, (dir / "converted.gguf").string(), eo);
  expect_matches(*ts::load_weights(dir / "converted.gguf"), ref, family + " HF -> GGUF", 3);
  if (family == "phi3") {
    // LongRoPE: a context beyond original_max_position_embeddings (64) uses the long factors.
    python("reference_model.py '" + (dir / "hf").string() + "' " + ids + " 0 '{\"_long_factors\": true}'",
           dir / "ref_long.json");
    if (HasFatalFailure()) return;
    const auto want = flat_logits(json::parse(ts::read_file(dir / "ref_long.json")));
    EXPECT_GT(ts::max_abs_diff(want, ref.logits), 1e-2);
    EXPECT_LT(ts::max_abs_diff(family_logits(*hf, 512, 128), want), 1e-4) << "phi3 HF, long context";
    EXPECT_LT(ts::max_abs_diff(family_logits(*gg, 512, 128), want), 1e-4) << "phi3 GGUF, long context";
  }
  if (gg->w.rope_freq_factors.empty()) {  // Llama 3 GGUF factors have no config.json form
    export_hf(*gg, (dir / "exported_hf").string());
    expect_matches(*ts::load_weights(dir / "exported_hf"), ref, family + " GGUF -> HF");
  }
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyNumpy,
                         ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"),
                         [](const auto& info) { return info.param; });

TEST(FamilyNumpy, UnsupportedArchitectureListsTheSupportedOnes) {
  const fs::path dir = ts::temp_dir("fam-unsupported");
  python("make_tiny_models.py qwen3 '" + dir.string() + "'", dir / "make.log");
  auto cfg = json::parse(ts::read_file(dir / "hf/config.json"));
  cfg["model_type"] = "mamba";
  ts::write_file(dir / "hf/config.json", cfg.dump());
  try {
    ts::load_weights(dir / "hf");
    FAIL() << "mamba loaded";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unsupported architecture 'mamba'"), std::string::npos) << msg;
    for (const char* name : {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"})
      EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
}
