// --rotate: the Walsh-Hadamard and Kronecker transforms are orthogonal, and a
// rotated FP32 model (norms folded, residual rotated, online ffn_down transform)
// gives the unrotated model's logits within 1e-4, in memory and through a GGUF file.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "model/context.h"
#include "quantizer/export_gguf.h"
#include "quantizer/export_hf.h"
#include "quantizer/float_model.h"
#include "kernels/hadamard.h"
#include "quant/rotate.h"
#include "support/model_helpers.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {
std::vector<float> random_vector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

double norm2(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return s;
}


std::vector<int32_t> prompt(const Model& m) {
  std::vector<int32_t> ids = m.tokenizer->encode("Once upon a time there was a little girl named Lily. She", false, false);
  ids.insert(ids.begin(), m.tokenizer->bos());
  return ids;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  float d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a[i] - b[i]));
  return d;
}
}  // namespace

TEST(Hadamard, FwhtOfUnitVectorAndInvolution) {
  std::vector<float> e(8, 0.0f);
  e[0] = 1;
  fwht(e.data(), 8);
  for (float x : e) EXPECT_FLOAT_EQ(x, 1.0f / std::sqrt(8.0f));
  std::vector<float> v = random_vector(64, 1), w = v;
  fwht(w.data(), 64);
  EXPECT_NEAR(norm2(w), norm2(v), 1e-3);
  fwht(w.data(), 64);  // normalized H is its own inverse
  for (size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(w[i], v[i], 1e-5);
  EXPECT_THROW(fwht(w.data(), 12), Error);
}

TEST(Hadamard, KroneckerTransformIsOrthogonalForAnySize) {
  for (int64_t n : {1, 3, 12, 64, 172, 5632}) {
    const OrthoTransform t = OrthoTransform::make(n, 7, true);
    EXPECT_EQ(t.p * t.m, n);
    EXPECT_EQ(t.m % 2, 1);
    std::vector<float> v = random_vector(n, 2), w = v;
    t.apply_transposed(w.data());
    EXPECT_NEAR(norm2(w), norm2(v), 1e-4 * norm2(v)) << n;
    t.apply(w.data());  // T Tᵀ = I
    for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(w[i], v[i], 1e-4) << n << " " << i;
  }
  // The odd block really is orthogonal, and the construction is deterministic.
  const std::vector<float> q = random_orthogonal(43, 5);
  for (int i = 0; i < 43; ++i)
    for (int j = 0; j < 43; ++j) {
      double d = 0;
      for (int k = 0; k < 43; ++k) d += static_cast<double>(q[i * 43 + k]) * q[j * 43 + k];
      ASSERT_NEAR(d, i == j ? 1.0 : 0.0, 1e-6);
    }
  EXPECT_EQ(q, random_orthogonal(43, 5));
  EXPECT_NE(q, random_orthogonal(43, 6));
  EXPECT_THROW(OrthoTransform::make(2 * 1031, 0, false), Error);  // odd factor too large to apply online
}

TEST(Rotate, Fp32LogitsUnchangedInMemory) {
  auto m = ts::stories_model();
  const auto ids = prompt(*m);
  const std::vector<float> base = ts::all_logits(*m, ids, 64);
  for (bool online : {false, true}) {
    FloatTensors t = model_float_tensors(*m);
    rotate_model(t, m->cfg.n_layers, RotateOptions{3, online});
    EXPECT_EQ(t.count(kDownRotationTensor), online ? 1u : 0u);
    for (float g : t.at("blk.0.attn_norm.weight").data) ASSERT_EQ(g, 1.0f);  // norms are weight-free
    // The rotation really changed the weights (not a no-op).
    EXPECT_GT(max_abs_diff(t.at("blk.0.attn_q.weight").data, model_float_tensors(*m).at("blk.0.attn_q.weight").data), 0.01f);
    auto r = model_over_float_tensors(*m, t, online);
    EXPECT_LE(max_abs_diff(ts::all_logits(*r, ids, 64), base), 1e-4f) << "online " << online;
  }
}

TEST(Rotate, WithoutTheOnlineTransformTheRotatedDownProjIsWrong) {
  // Guards the test above: dropping the runtime transform must change the logits.
  auto m = ts::stories_model();
  const auto ids = prompt(*m);
  FloatTensors t = model_float_tensors(*m);
  rotate_model(t, m->cfg.n_layers, RotateOptions{3, true});
  auto r = model_over_float_tensors(*m, t, false);
  EXPECT_GT(max_abs_diff(ts::all_logits(*r, ids, 64), ts::all_logits(*m, ids, 64)), 0.1f);
}

TEST(Rotate, GgufRoundTripKeepsTheOnlineTransform) {
  auto m = ts::stories_model();
  const auto ids = prompt(*m);
  FloatTensors t = model_float_tensors(*m);
  rotate_model(t, m->cfg.n_layers, RotateOptions{0, true});
  auto r = model_over_float_tensors(*m, t, true);
  const auto path = (ts::temp_dir("rotate") / "rot.gguf").string();
  ExportOptions eo;
  eo.progress = false;
  export_gguf(*r, path, eo);
  auto back = load_model(path);
  EXPECT_TRUE(back->cfg.online_down_rotation);
  EXPECT_LE(max_abs_diff(ts::all_logits(*back, ids, 64), ts::all_logits(*m, ids, 64)), 1e-4f);
}

TEST(Rotate, OnlineKeyWithoutItsBlockIsAClearError) {
  auto m = ts::stories_model();
  FloatTensors t = model_float_tensors(*m);
  rotate_model(t, m->cfg.n_layers, RotateOptions{0, true});
  t.erase(kDownRotationTensor);
  try {
    model_over_float_tensors(*m, t, true);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ffn_down_rotation.weight"), std::string::npos) << e.what();
  }
}

TEST(Rotate, HuggingFaceLlamaFolderRotatesExactlyToo) {
  // HF llama stores Q/K for half-split RoPE; the float tensors are in GGUF order, so the
  // in-memory model must switch to interleaved RoPE.
  auto m = ts::stories_model();
  const auto dir = ts::temp_dir("rotate-hf") / "hf";
  export_hf(*m, dir.string());
  auto hf = load_model(dir.string());
  ASSERT_EQ(hf->format, ModelFormat::HuggingFace);
  const auto ids = prompt(*m);
  const auto base = ts::all_logits(*m, ids, 64);
  FloatTensors t = model_float_tensors(*hf);
  auto same = model_over_float_tensors(*hf, t, false);
  EXPECT_LE(max_abs_diff(ts::all_logits(*same, ids, 64), base), 1e-4f);
  rotate_model(t, hf->cfg.n_layers, RotateOptions{1, true});
  auto rot = model_over_float_tensors(*hf, t, true);
  EXPECT_LE(max_abs_diff(ts::all_logits(*rot, ids, 64), base), 1e-4f);
}
