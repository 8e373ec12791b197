// llama-quantize's presets as `quantize --type` applies them (quant/ggml_mix.h).
#include <gtest/gtest.h>

#include "core/error.h"
#include "quant/ggml_mix.h"
#include "quant/plan.h"

using namespace pocketllm;

namespace {
std::optional<DType> type_of(const std::string& mix, const std::string& name, int64_t cols = 256, bool tied = false,
                             bool pure = false, int64_t rows = 512) {
  return ggml_mix_tensor_type(find_ggml_mix(mix), pure, name, rows, cols, MixModelShape{4, 4, tied});
}
}  // namespace

TEST(GgmlMix, NamesAndFileTypes) {
  EXPECT_EQ(find_ggml_mix("q4_k").name, "Q4_K_M");  // as llama-quantize: Q4_K means Q4_K_M
  EXPECT_EQ(find_ggml_mix("Q4_K_M").file_type, 15u);
  EXPECT_EQ(find_ggml_mix("iq4_xs").base, DType::IQ4_XS);
  EXPECT_EQ(find_ggml_mix("Q3_K_S").base, DType::Q3_K);
  EXPECT_EQ(find_ggml_mix("BF16").file_type, 32u);
  EXPECT_THROW(find_ggml_mix("Q9_K"), Error);
  EXPECT_THROW(find_ggml_mix("IQ2_XXS"), Error);  // a preset pocketllm cannot write
}

TEST(GgmlMix, Q4_K_MKeepsTheHeadInQ6_KAndGivesSomeLayersMoreBits) {
  EXPECT_EQ(type_of("Q4_K_M", "output.weight"), DType::Q6_K);
  EXPECT_EQ(type_of("Q4_K_M", "token_embd.weight"), DType::Q4_K);
  EXPECT_EQ(type_of("Q4_K_M", "token_embd.weight", 256, true), DType::Q6_K);  // tied: the embedding is the head
  EXPECT_EQ(type_of("Q4_K_M", "blk.0.attn_q.weight"), DType::Q4_K);
  // 4 layers: llama-quantize's "more bits" layers are 2 and 3.
  EXPECT_EQ(type_of("Q4_K_M", "blk.0.attn_v.weight"), DType::Q4_K);
  EXPECT_EQ(type_of("Q4_K_M", "blk.2.attn_v.weight"), DType::Q6_K);
  EXPECT_EQ(type_of("Q4_K_M", "blk.3.ffn_down.weight"), DType::Q6_K);
  EXPECT_EQ(type_of("Q4_K_M", "blk.1.ffn_down.weight"), DType::Q4_K);
  EXPECT_EQ(type_of("Q4_K_M", "blk.0.attn_norm.weight", 256, false, false, 1), std::nullopt);  // 1-D stays as is
  EXPECT_EQ(type_of("Q4_K_M", "rope_freqs.weight"), std::nullopt);
}

TEST(GgmlMix, OtherPresets) {
  EXPECT_EQ(type_of("Q4_0", "output.weight"), DType::Q6_K);  // even a "Q4_0" file
  EXPECT_EQ(type_of("Q4_0", "blk.1.ffn_up.weight"), DType::Q4_0);
  EXPECT_EQ(type_of("Q8_0", "output.weight"), DType::Q8_0);
  EXPECT_EQ(type_of("Q2_K", "blk.0.attn_v.weight"), DType::Q4_K);  // GQA 4
  EXPECT_EQ(type_of("Q2_K", "blk.0.ffn_down.weight"), DType::Q3_K);
  EXPECT_EQ(type_of("Q2_K", "blk.0.attn_output.weight"), DType::Q3_K);
  EXPECT_EQ(type_of("Q3_K_M", "blk.1.attn_v.weight"), DType::Q5_K);
  EXPECT_EQ(type_of("Q3_K_M", "blk.2.attn_v.weight"), DType::Q4_K);
  EXPECT_EQ(type_of("Q4_K_S", "blk.3.attn_v.weight"), DType::Q5_K);
  EXPECT_EQ(type_of("IQ4_XS", "blk.0.attn_v.weight"), DType::Q5_K);
  EXPECT_EQ(type_of("IQ4_XS", "blk.0.attn_q.weight"), DType::IQ4_XS);
  EXPECT_EQ(type_of("F16", "output.weight"), DType::F16);
  EXPECT_EQ(type_of("BF16", "blk.0.attn_q.weight"), DType::BF16);
}

TEST(GgmlMix, PureAndRowFallbacks) {
  EXPECT_EQ(type_of("Q4_K_M", "output.weight", 256, false, true), DType::Q4_K);
  EXPECT_EQ(type_of("Q4_K_M", "blk.2.attn_v.weight", 256, false, true), DType::Q4_K);
  // Rows that are not whole 256-blocks (Gemma 3 270M's 640): llama-quantize's 32-block stand-ins.
  EXPECT_EQ(type_of("Q4_K_M", "blk.0.attn_q.weight", 640), DType::Q5_0);
  EXPECT_EQ(type_of("Q4_K_M", "blk.2.attn_v.weight", 640), DType::Q8_0);
  EXPECT_EQ(type_of("Q4_K_M", "output.weight", 640), DType::Q8_0);
  EXPECT_EQ(type_of("Q5_K_M", "blk.0.attn_q.weight", 640), DType::Q5_1);
  EXPECT_EQ(type_of("IQ4_XS", "blk.0.attn_q.weight", 640), DType::IQ4_NL);
  EXPECT_EQ(type_of("Q2_K", "blk.1.ffn_up.weight", 640), DType::Q4_0);
  EXPECT_EQ(type_of("Q4_K_M", "blk.0.attn_q.weight", 100), DType::F16);  // not even 32-blocks
}

TEST(GgmlMix, PlanValidation) {
  QuantPlanOptions o;
  o.ggml_type = "Q4_K_M";
  EXPECT_NO_THROW(validate_plan(o));
  o.ggml_type = "nope";
  EXPECT_THROW(validate_plan(o), Error);
  o.ggml_type.clear();
  o.pure = true;
  EXPECT_THROW(validate_plan(o), Error);
  o.pure = false;
  o.ggml_type = "Q6_K";
  o.shape = {4, 4, false};
  const TensorPlan p = plan_tensor(o, "blk.0.attn_q.weight", 512, 256);
  EXPECT_FALSE(p.quantize);
  EXPECT_EQ(p.ggml_type, DType::Q6_K);
  o.ggml_type = "F16";
  const TensorPlan f = plan_tensor(o, "blk.0.attn_q.weight", 512, 256);
  EXPECT_FALSE(f.ggml_type);
  EXPECT_EQ(f.float_type, DType::F16);
}
