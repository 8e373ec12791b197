// W4A8 for every family: the tiny random model of tests/reference (HF folder) is
// quantized by `pocketllm quantize`, then generates greedily and is scored
// against the FP32 model (KL divergence over 4 chunks of 64 random ids). Random
// weights say little about quality, so KL has no threshold here; it must be
// finite and non-zero, and the figures are printed (docs/FAMILIES.md lists them).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "formats/gguf.h"
#include "kernels/int_weights.h"
#include "model/arch/family.h"
#include "model/context.h"
#include "quant/calib/stats.h"
#include "runtime/perplexity.h"
#include "support/greedy.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;
namespace fs = std::filesystem;

namespace {
const std::vector<int32_t> kPrompt = {1, 5, 9, 33, 2, 70};

fs::path source_dir() { return fs::path(POCKETLLM_SOURCE_DIR) / "tests"; }

std::string quoted(const fs::path& p) {
  std::string s(1, '\'');  // built by appending: "'" + string trips GCC 12's -Wrestrict false positive
  s += p.string();
  s += '\'';
  return s;
}

void python(const std::string& script, const std::string& args, const fs::path& log) {
  const std::string cmd = "/usr/bin/python3 '" + (source_dir() / script).string() + "' " + args + " > '" +
                          log.string() + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd << "\n" << ts::read_file(log);
}

std::unique_ptr<Model> load(const fs::path& p) {
  LoadOptions lo;
  lo.load_tokenizer = false;
  return load_model(p.string(), lo);
}

void quantize(const fs::path& in, const fs::path& out) {
  auto r = ts::run_cli({"quantize", in.string(), out.string(), "--scheme", "w4a8", "--group", "32", "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

ContextParams params(int64_t n_ctx) {
  ContextParams p;
  p.n_ctx = n_ctx;
  p.n_threads = 2;
  return p;
}

// Token ids drawn uniformly (fixed seed): the tiny models have no tokenizer, and on
// their own samples they are so confident that every KL would round to zero.
std::vector<int32_t> random_tokens(int64_t n_vocab, size_t n) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(n_vocab) - 1);
  std::vector<int32_t> out(n);
  for (auto& t : out) t = pick(rng);
  return out;
}

std::vector<float> all_logits(const Model& m, const std::vector<int32_t>& ids) {
  Context ctx(m, params(static_cast<int64_t>(ids.size())));
  const float* l = ctx.eval(ids.data(), static_cast<int64_t>(ids.size()), true);
  return std::vector<float>(l, l + ids.size() * static_cast<size_t>(m.cfg.n_vocab));
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, static_cast<double>(std::fabs(a[i] - b[i])));
  return d;
}
}  // namespace

class FamilyW4A8 : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyW4A8, QuantizedModelGeneratesAndKlVsFp32IsReported) {
  const std::string family = GetParam();
  const fs::path dir = ts::temp_dir("w4a8-" + family);
  python("reference/make_tiny_models.py", family + " " + quoted(dir), dir / "make.log");
  if (HasFatalFailure()) return;
  quantize(dir / "hf", dir / "q.gguf");
  if (HasFatalFailure()) return;

  // Norms, biases and rope factors stay F32; every block matrix is an integer type.
  auto f = gguf::File::open((dir / "q.gguf").string());
  int quantized = 0;
  for (auto& t : f->tensors()) {
    if (t.ne.size() == 1) {
      EXPECT_EQ(t.type, DType::F32) << t.name;
    } else if (t.name.starts_with("blk.")) {
      EXPECT_TRUE(int_weight_format(t.type).has_value()) << t.name << " is " << dtype_name(t.type);
      ++quantized;
    }
  }
  EXPECT_GE(quantized, 3 * (family == "phi3" ? 4 : 7));

  auto base = load(dir / "hf");
  auto q = load(dir / "q.gguf");
  EXPECT_EQ(q->cfg.arch, base->cfg.arch);
  ASSERT_EQ(q->cfg.n_vocab, base->cfg.n_vocab);

  // Quantization changed the logits (a model that was not quantized would pass the rest).
  const std::vector<int32_t> text = random_tokens(base->cfg.n_vocab, 256);
  const std::vector<int32_t> head(text.begin(), text.begin() + 32);
  const double diff = max_abs_diff(all_logits(*q, head), all_logits(*base, head));
  EXPECT_GT(diff, 1e-3) << "W4A8 logits identical to FP32";

  PerplexityOptions po;
  po.n_ctx = 64;
  po.add_bos = false;
  Context cq(*q, params(64)), cb(*base, params(64));
  const PerplexityResult r = perplexity(cq, text, po, &cb);
  ASSERT_TRUE(r.has_kl);
  EXPECT_TRUE(std::isfinite(r.kld_mean) && std::isfinite(r.kld_max) && std::isfinite(r.ppl)) << r.kld_mean;
  EXPECT_GT(r.kld_mean, 0.0);
  EXPECT_GE(r.kld_min, -1e-6);
  EXPECT_EQ(r.n_scored, 4 * 31);  // 4 chunks of 64, the second half of each scored

  // Greedy generation with the quantized model: valid ids.
  const auto ids = ts::greedy_ids(*q, kPrompt, 16, params(64));
  ASSERT_EQ(ids.size(), 16u);
  for (auto id : ids) EXPECT_TRUE(id >= 0 && id < q->cfg.n_vocab) << id;

  RecordProperty("kl_mean", std::to_string(r.kld_mean));
  RecordProperty("kl_p99", std::to_string(r.kld_p99));
  RecordProperty("same_top", std::to_string(r.same_top));
  RecordProperty("max_abs_logit_diff", std::to_string(diff));
  std::printf("| %-6s | %.3e ± %.1e | %.3e | %.3e | %5.1f%% | %.3f |\n", family.c_str(), r.kld_mean, r.kld_err,
              r.kld_p99, r.kld_max, 100.0 * r.same_top, diff);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyW4A8,
                         ::testing::Values("llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3"),
                         [](const auto& info) { return info.param; });

TEST(FamilyW4A8Phi3, FusedProjectionsAreQuantizedPerOutputBlock) {
  // phi3 stores Q, K and V as one attn_qkv and gate/up as one ffn_up. Quantized fused,
  // each output block must come out exactly as if it had been quantized on its own:
  // the same model split into q/k/v and gate/up gives the same W4A8 logits.
  const fs::path dir = ts::temp_dir("w4a8-phi3-fused");
  python("reference/make_tiny_models.py", "phi3 " + quoted(dir), dir / "make.log");
  const std::string split_args = quoted(dir / "hf") + " " + quoted(dir / "split");
  python("families/unfuse_phi3.py", split_args, dir / "split.log");
  if (HasFatalFailure()) return;
  auto fused_fp = load(dir / "hf"), split_fp = load(dir / "split");
  ASSERT_TRUE(fused_fp->tensors.count("blk.0.attn_qkv.weight"));
  ASSERT_TRUE(split_fp->tensors.count("blk.0.attn_q.weight"));
  const std::vector<int32_t> ids = {1, 5, 9, 33, 2, 70, 12, 8, 3, 44, 60, 7, 19, 4, 88, 21};
  ASSERT_LT(max_abs_diff(all_logits(*fused_fp, ids), all_logits(*split_fp, ids)), 1e-5) << "split script";

  quantize(dir / "hf", dir / "fused.gguf");
  quantize(dir / "split", dir / "split.gguf");
  quantize(dir / "model.gguf", dir / "fused_from_gguf.gguf");  // llama.cpp's layout as input
  if (HasFatalFailure()) return;
  auto fused_q = load(dir / "fused.gguf"), split_q = load(dir / "split.gguf");
  ASSERT_TRUE(fused_q->tensors.count("blk.0.attn_qkv.weight"));
  EXPECT_FALSE(fused_q->tensors.count("blk.0.ffn_gate.weight"));
  EXPECT_EQ(fused_q->tensors.at("blk.0.ffn_up.weight").ne[1], static_cast<uint64_t>(2 * fused_q->cfg.hidden_dim));
  const auto a = all_logits(*fused_q, ids), b = all_logits(*split_q, ids);
  EXPECT_EQ(max_abs_diff(a, b), 0.0);
  EXPECT_EQ(max_abs_diff(a, all_logits(*load(dir / "fused_from_gguf.gguf"), ids)), 0.0);
  EXPECT_GT(max_abs_diff(a, all_logits(*fused_fp, ids)), 1e-3);  // and it was quantized

  // The blocks quantizers must keep apart, and calibration statistics shared with the split form.
  const ModelConfig& c = fused_q->cfg;
  EXPECT_EQ(fused_row_blocks(c, "blk.0.attn_qkv.weight", c.q_dim() + 2 * c.kv_dim()),
            (std::vector<int64_t>{c.q_dim(), c.kv_dim(), c.kv_dim()}));
  EXPECT_EQ(fused_row_blocks(c, "blk.2.ffn_up.weight", 2 * c.hidden_dim),
            (std::vector<int64_t>{c.hidden_dim, c.hidden_dim}));
  EXPECT_TRUE(fused_row_blocks(c, "blk.0.attn_output.weight", c.dim).empty());
  EXPECT_TRUE(fused_row_blocks(split_q->cfg, "blk.0.ffn_up.weight", c.hidden_dim).empty());
  EXPECT_EQ(calib::stats_key("blk.3.attn_qkv.weight"), calib::stats_key("blk.3.attn_q.weight"));
  EXPECT_EQ(calib::stats_key("blk.3.ffn_up.weight"), calib::stats_key("blk.3.ffn_gate.weight"));
}
