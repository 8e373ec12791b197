// The same model through every loader gives the same logits: llama2.c -> GGUF
// (interleaved Q/K) and -> Hugging Face folder (half-split Q/K, Neox RoPE).
#include <gtest/gtest.h>

#include <cmath>
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
using nlohmann::json;

namespace {
const std::string kStories = "models/stories260K/stories260K.bin";


std::vector<float> prefill_logits(const Model& m, const std::vector<int32_t>& ids) {
  ContextParams p;
  p.n_threads = 1;
  Context ctx(m, p);
  const float* l = ctx.eval(ids.data(), static_cast<int64_t>(ids.size()), true);
  return std::vector<float>(l, l + ids.size() * m.cfg.n_vocab);
}


std::vector<int32_t> greedy_until_eos(const Model& m, const std::vector<int32_t>& prompt, int64_t n) {
  return ts::greedy_ids(m, prompt, n, {}, [](int32_t id) { return id == 1; });
}

const std::vector<int32_t> kStoriesIds = {1, 403, 407, 261, 378, 383, 286, 261, 376, 298, 315, 421};
}  // namespace

TEST(FormatEquivalence, GgufF32AndHfFolderGiveSameLogits) {
  auto orig = ts::load_weights((ts::shared_data() / kStories).string());
  auto dir = ts::temp_dir("equiv");
  const auto ref = prefill_logits(*orig, kStoriesIds);

  ExportOptions eo;
  eo.progress = false;
  export_gguf(*orig, (dir / "s.gguf").string(), eo);
  auto g = ts::load_weights((dir / "s.gguf").string());
  EXPECT_EQ(g->cfg.rope_style, RopeStyle::Interleaved);
  EXPECT_LT(ts::max_abs_diff(prefill_logits(*g, kStoriesIds), ref), 1e-4);

  export_hf(*orig, (dir / "hf").string());
  auto h = ts::load_weights((dir / "hf").string());
  EXPECT_EQ(h->format, ModelFormat::HuggingFace);
  EXPECT_EQ(h->cfg.rope_style, RopeStyle::Neox);
  EXPECT_LT(ts::max_abs_diff(prefill_logits(*h, kStoriesIds), ref), 1e-4);

  // HF -> GGUF permutes Q/K back to the interleaved order llama.cpp expects.
  export_gguf(*h, (dir / "from_hf.gguf").string(), eo);
  auto hg = ts::load_weights((dir / "from_hf.gguf").string());
  EXPECT_LT(ts::max_abs_diff(prefill_logits(*hg, kStoriesIds), ref), 1e-4);
}

TEST(FormatEquivalence, HalfPrecisionGgufKeepsGoldenGreedyIds) {
  auto orig = ts::load_weights((ts::shared_data() / kStories).string());
  const json g = json::parse(ts::read_file(ts::shared_data() / "models/stories260K/golden.json"));
  auto dir = ts::temp_dir("half");
  for (DType t : {DType::F16, DType::BF16}) {
    ExportOptions eo;
    eo.progress = false;
    eo.type = t;
    auto path = (dir / (dtype_name(t) + ".gguf")).string();
    export_gguf(*orig, path, eo);
    auto m = ts::load_weights(path);
    EXPECT_EQ(m->tensors.at("blk.0.attn_q.weight").type, t);
    for (auto& c : g["cases"]) {
      auto want = c["generated_ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(greedy_until_eos(*m, c["prompt_ids"].get<std::vector<int32_t>>(), static_cast<int64_t>(want.size())), want)
          << dtype_name(t) << " prompt: " << c["prompt"];
    }
  }
}

namespace {
void expect_load_error(const std::string& path, const std::string& needle) {
  try {
    ts::load_weights(path);
    FAIL() << "no error, expected: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(ModelErrors, MissingTensorShapeMismatchAndBadConfig) {
  auto orig = ts::load_weights((ts::shared_data() / kStories).string());
  auto dir = ts::temp_dir("errs");
  export_hf(*orig, (dir / "hf").string());
  auto cfg = json::parse(ts::read_file(dir / "hf/config.json"));

  // Shape mismatch: config says a wider FFN than the tensors hold.
  auto bad = cfg;
  bad["intermediate_size"] = 200;
  ts::write_file(dir / "hf/config.json", bad.dump());
  expect_load_error((dir / "hf").string(), "has shape");
  // More layers than tensors: missing tensor.
  bad = cfg;
  bad["num_hidden_layers"] = 6;
  ts::write_file(dir / "hf/config.json", bad.dump());
  expect_load_error((dir / "hf").string(), "missing tensor 'blk.5.attn_norm.weight'");
  // Unknown architecture is named, with the supported list.
  bad = cfg;
  bad["model_type"] = "mamba";
  ts::write_file(dir / "hf/config.json", bad.dump());
  expect_load_error((dir / "hf").string(), "unsupported architecture 'mamba' (supported: llama");
  // Keys of the wrong JSON type name the key (found by fuzz_hf_config: they used to
  // surface as nlohmann's own type_error, without the file).
  bad = cfg;
  bad["model_type"] = 2;
  ts::write_file(dir / "hf/config.json", bad.dump());
  expect_load_error((dir / "hf").string(), "config.json: 'model_type' should be a string");
  bad = cfg;
  bad["tie_word_embeddings"] = "yes";
  ts::write_file(dir / "hf/config.json", bad.dump());
  expect_load_error((dir / "hf").string(), "'tie_word_embeddings' should be true or false");
  ts::write_file(dir / "hf/config.json", "{broken");
  expect_load_error((dir / "hf").string(), "invalid JSON");
  // Not a model at all.
  ts::write_file(dir / "junk.bin", std::string(100, 'x'));
  expect_load_error((dir / "junk.bin").string(), "unknown model format");
  expect_load_error((dir / "nope.gguf").string(), "no such file");
}
