// `pocketllm synth` presets of every family at their real sizes. Each preset is
// written with its first layers only and an unpadded 512-token vocabulary (small
// files), loaded back, described by `info`, and run for one decode step. The full
// sizes are checked against the parameter counts the model publishers state.
#include <gtest/gtest.h>

#include <cmath>

#include "model/arch/family.h"
#include "model/context.h"
#include "quantizer/synth_model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {

// The stories260K SPM vocabulary (512 tokens) that the tiny family GGUFs carry.
std::string small_vocab() { return (ts::shared_data() / "families/llama-tied.gguf").string(); }

struct PresetCase {
  const char* preset;
  const char* arch;
  int layers;                   // written layers (a small file)
  uint64_t published_params;    // the publisher's count for the full model
  const char* info_features;    // expected in info's family line
};

void PrintTo(const PresetCase& c, std::ostream* os) { *os << c.preset; }

const PresetCase kCases[] = {
    {"llama-3.2-1b", "llama", 1, 1235814400ull, "llama: llama3 rope scaling, tied embeddings"},
    {"smollm2-360m", "llama", 1, 361821120ull, "llama: tied embeddings"},
    {"qwen2.5-0.5b", "qwen2", 1, 494032768ull, "qwen2: Q/K/V biases, tied embeddings"},
    {"qwen2.5-1.5b", "qwen2", 1, 1543714304ull, "qwen2: Q/K/V biases, tied embeddings"},
    {"qwen3-0.6b", "qwen3", 1, 596049920ull, "qwen3: Q/K RMSNorm, tied embeddings"},
    {"gemma-2-2b", "gemma2", 2, 2614341888ull,
     "gemma2: GeGLU (tanh GELU), embeddings x 48, post-norms, query_pre_attn_scalar 256, attention soft-cap 50, "
     "final soft-cap 30, sliding window 4096 on 1 of 2 layers, tied embeddings"},
    {"gemma-3-1b", "gemma3", 1, 999885952ull,
     "gemma3: Q/K RMSNorm, GeGLU (tanh GELU), embeddings x 33.94, post-norms, query_pre_attn_scalar 256, "
     "sliding window 512 on 1 of 1 layers, local rope base 10000, tied embeddings"},
    {"phi-3-mini", "phi3", 1, 3821079552ull, "phi3: fused QKV, fused gate/up, sliding window 2047 on 1 of 1 layers"},
};

std::string write_preset(const PresetCase& pc, const std::filesystem::path& dir) {
  const std::string out = (dir / (std::string(pc.preset) + ".gguf")).string();
  auto r = ts::run_cli({"synth", "--preset", pc.preset, "--vocab", small_vocab(), out, "--layers",
                        std::to_string(pc.layers), "--unpadded-vocab", "-t", "2", "--seed", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return out;
}

// Logits of one decode step after BOS: finite, not all equal.
void expect_one_decode_step(const Model& m) {
  ContextParams p;
  p.n_ctx = 16;
  p.n_threads = 2;
  Context ctx(m, p);
  const int32_t tok = 1;
  const float* l = ctx.eval(&tok, 1);
  float lo = l[0], hi = l[0];
  for (int64_t i = 0; i < m.cfg.n_vocab; ++i) {
    ASSERT_TRUE(std::isfinite(l[i])) << "logit " << i;
    lo = std::min(lo, l[i]), hi = std::max(hi, l[i]);
  }
  EXPECT_LT(lo, hi);
  EXPECT_EQ(ctx.n_past(), 1);
}
}  // namespace

class SynthPreset : public ::testing::TestWithParam<PresetCase> {};

TEST_P(SynthPreset, SmallFileLoadsWithFamilyHyperparametersAndDecodes) {
  const PresetCase& pc = GetParam();
  const ModelConfig& want = bench::find_synth_preset(pc.preset).cfg;
  const auto dir = ts::temp_dir("synth-fam");
  const std::string path = write_preset(pc, dir);
  if (HasFailure()) return;
  auto m = load_model(path);
  const ModelConfig& c = m->cfg;
  EXPECT_EQ(c.arch, pc.arch);
  EXPECT_EQ(c.n_layers, pc.layers);
  EXPECT_EQ(c.n_vocab, 512);  // unpadded
  // Everything else round-trips through the GGUF metadata as the preset has it.
  EXPECT_EQ(c.dim, want.dim);
  EXPECT_EQ(c.hidden_dim, want.hidden_dim);
  EXPECT_EQ(c.n_heads, want.n_heads);
  EXPECT_EQ(c.n_kv_heads, want.n_kv_heads);
  EXPECT_EQ(c.head_dim, want.head_dim);
  EXPECT_EQ(c.context_length, want.context_length);
  EXPECT_EQ(c.rope_theta, want.rope_theta);
  EXPECT_EQ(c.norm_eps, want.norm_eps);
  EXPECT_EQ(c.tied_embeddings, want.tied_embeddings);
  EXPECT_EQ(c.qk_norm, want.qk_norm);
  EXPECT_EQ(c.post_norms, want.post_norms);
  EXPECT_EQ(c.act, want.act);
  EXPECT_FLOAT_EQ(c.embed_scale, want.embed_scale);
  EXPECT_EQ(c.attn_softcap, want.attn_softcap);
  EXPECT_EQ(c.final_softcap, want.final_softcap);
  EXPECT_EQ(c.sliding_window, want.sliding_window);
  for (int64_t i = 0; i < c.n_layers; ++i) EXPECT_EQ(c.is_sliding(i), want.is_sliding(i)) << "layer " << i;
  if (want.attn_scale > 0) {
    EXPECT_FLOAT_EQ(c.attn_scale, want.attn_scale);
  }
  if (want.rope_theta_local > 0) {
    EXPECT_EQ(c.rope_theta_local, want.rope_theta_local);
  }
  EXPECT_EQ(!m->w.rope_freq_factors.empty(), want.rope_llama3.enabled);  // Llama 3 scaling as rope_freqs
  EXPECT_EQ(describe_family(*m), pc.info_features);

  // The full model's size: this file's per-layer parameters times the preset's layers,
  // plus the embedding (and head) at the preset's vocabulary size and the final norm.
  uint64_t block_params = 0;
  for (auto& [name, t] : m->tensors) {
    uint64_t k = 1;
    for (auto d : t.ne) k *= d;
    if (name.starts_with("blk.")) block_params += k;
  }
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  const uint64_t full = u(want.n_vocab) * u(c.dim) * (c.tied_embeddings ? 1 : 2) +
                        block_params / u(pc.layers) * u(want.n_layers) + u(c.dim);
  EXPECT_EQ(full, pc.published_params);

  auto r = ts::run_cli({"info", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(std::string("architecture:    ") + pc.arch + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::string("family:          ") + pc.info_features + "\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("first " + std::to_string(pc.layers) + " of " + std::to_string(want.n_layers) + " layers"),
            std::string::npos)
      << r.out;
  expect_one_decode_step(*m);
}

INSTANTIATE_TEST_SUITE_P(Families, SynthPreset, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string n = info.param.preset;
  for (auto& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

TEST(SynthPresetVocab, EmbeddingPaddedToThePresetsVocabulary) {
  // SmolLM2's 49152-row embedding with the 32000-token Llama 2 vocabulary: padded rows stay
  // addressable, the tokenizer keeps its own size.
  const auto dir = ts::temp_dir("synth-pad");
  const std::string out = (dir / "smol.gguf").string();
  const std::string vocab = (ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string();
  auto r = ts::run_cli({"synth", "--preset", "smollm2-360m", "--vocab", vocab, out, "--layers", "1", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = load_model(out);
  EXPECT_EQ(m->cfg.n_vocab, 49152);
  ASSERT_TRUE(m->tokenizer);
  EXPECT_EQ(m->tokenizer->n_vocab(), 32000);
  EXPECT_EQ(m->tensors.at("token_embd.weight").ne, (std::vector<uint64_t>{960, 49152}));
  expect_one_decode_step(*m);
  // More layers than the preset has, and a vocabulary larger than its embedding, are refused.
  r = ts::run_cli({"synth", "--preset", "smollm2-360m", "--vocab", vocab, out, "--layers", "33"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--layers 33"), std::string::npos) << r.err;
  const std::string llama3 = (ts::shared_data() / "tokenizers/hf/llama3/tokenizer.json").string();
  r = ts::run_cli({"synth", "--preset", "smollm2-360m", "--vocab", llama3, out, "--layers", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("more than preset smollm2-360m's 49152"), std::string::npos) << r.err;
}
