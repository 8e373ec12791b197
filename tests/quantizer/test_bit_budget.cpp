// quantize --bpw (quantizer/bit_budget.h) and --asym's calibrated K-quants
// (quant/calib/kquant.h): budgets are never exceeded, stored blocks dequantize
// to exactly the values the quantizer worked with, runs are reproducible.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/model.h"
#include "quant/calib/gptq.h"
#include "quant/calib/kquant.h"
#include "quant/quantize.h"
#include "quantizer/bit_budget.h"
#include "quantizer/quantize_model.h"
#include "quantizer/type_candidates.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {

std::vector<float> random_matrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::student_t_distribution<float> heavy(4.0f);  // some large weights, as real layers have
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& x : w) x = 0.02f * heavy(rng) + 0.004f;  // a small offset: what a per-group min is for
  return w;
}

// mean x xᵀ of inputs with correlated, unevenly scaled channels.
std::vector<float> correlated_hessian(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  const int64_t tokens = 2 * cols;
  std::vector<float> x(static_cast<size_t>(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t) {
    float common = n(rng);
    for (int64_t c = 0; c < cols; ++c) x[t * cols + c] = (0.7f * common + n(rng)) * (1.0f + static_cast<float>(c % 5));
  }
  std::vector<float> h(static_cast<size_t>(cols * cols), 0.0f);
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) h[i * cols + j] += x[t * cols + i] * x[t * cols + j] / static_cast<float>(tokens);
  return h;
}

double plain_error(const std::vector<float>& w, const std::vector<float>& q) {
  double e = 0;
  for (size_t i = 0; i < w.size(); ++i) e += (static_cast<double>(w[i]) - q[i]) * (static_cast<double>(w[i]) - q[i]);
  return e;
}

uint64_t total_bits(const std::vector<std::vector<BudgetOption>>& items, const std::vector<size_t>& pick) {
  uint64_t t = 0;
  for (size_t i = 0; i < items.size(); ++i) t += items[i][pick[i]].bits;
  return t;
}

}  // namespace

TEST(BitBudget, NeverExceedsTheBudgetAndLeavesNoSwitchThatFits) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + rng() % 12;
    std::vector<std::vector<BudgetOption>> items(n);
    uint64_t cheapest = 0, dearest = 0;
    for (auto& opts : items) {
      const size_t k = 1 + rng() % 6;
      for (size_t j = 0; j < k; ++j) opts.push_back({100 + rng() % 900, static_cast<double>(rng() % 1000) / 100.0});
      uint64_t lo = opts[0].bits, hi = opts[0].bits;
      for (auto& o : opts) lo = std::min(lo, o.bits), hi = std::max(hi, o.bits);
      cheapest += lo, dearest += hi;
    }
    for (uint64_t budget : {cheapest, cheapest + 1, (cheapest + dearest) / 2, dearest - 1, dearest, dearest + 50}) {
      if (budget < cheapest) continue;
      const std::vector<size_t> pick = solve_bit_budget(items, budget);
      ASSERT_EQ(pick.size(), n);
      const uint64_t total = total_bits(items, pick);
      ASSERT_LE(total, budget) << "trial " << trial;
      // Maximal: no single switch that still fits lowers an item's cost.
      for (size_t i = 0; i < n; ++i)
        for (const BudgetOption& o : items[i])
          EXPECT_FALSE(o.cost < items[i][pick[i]].cost && total - items[i][pick[i]].bits + o.bits <= budget)
              << "trial " << trial << " item " << i;
      if (budget >= dearest) {  // room for everything: each item at its least cost
        for (size_t i = 0; i < n; ++i)
          for (const BudgetOption& o : items[i]) EXPECT_GE(o.cost, items[i][pick[i]].cost);
      }
    }
    EXPECT_THROW(solve_bit_budget(items, cheapest - 1), Error);
  }
}

TEST(BitBudget, SpendsOnTheItemThatGainsMostPerBit) {
  // Item 0 saves 1.0 for 100 more bits, item 1 saves 3.0 for 100: only one upgrade fits.
  const std::vector<std::vector<BudgetOption>> items = {{{100, 2.0}, {200, 1.0}}, {{100, 5.0}, {200, 2.0}}};
  EXPECT_EQ(solve_bit_budget(items, 300), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(solve_bit_budget(items, 299), (std::vector<size_t>{0, 0}));
  EXPECT_EQ(solve_bit_budget(items, 400), (std::vector<size_t>{1, 1}));
}

TEST(AsymKQuant, StoredBlocksDequantizeToTheQuantizersValues) {
  ThreadPool pool(2);
  const int64_t rows = 6, cols = 512;
  const std::vector<float> w = random_matrix(rows, cols, 1);
  const std::vector<float> h = correlated_hessian(cols, 2);
  calib::CalibMethod clip, gptq_clip, best;
  clip.clip = true;
  gptq_clip.gptq = gptq_clip.clip = true;
  best.gptq = best.clip = best.refit = true;
  for (DType t : {DType::Q4_K, DType::Q5_K})
    for (const calib::CalibMethod* m : {&clip, &gptq_clip, &best}) {
      for (const auto& hh : {std::vector<float>{}, h}) {
        if ((m->gptq || m->refit) && hh.empty()) continue;
        const calib::KQuantWeights k = calib::quantize_kquant_calibrated(t, w.data(), rows, cols, hh, *m, &pool);
        ASSERT_EQ(k.bytes.size(), *dtype_row_bytes(t, cols) * rows);
        const std::vector<float> back = dequantize(t, k.bytes.data(), k.bytes.size(), rows, cols);
        ASSERT_EQ(back.size(), k.values.size());
        for (size_t i = 0; i < back.size(); ++i)
          ASSERT_EQ(back[i], k.values[i]) << dtype_name(t) << " weight " << i;  // bit for bit: the type's own dequantizer
      }
    }
  // Plain round to nearest too, and 1 or 2 threads give the same bytes.
  ThreadPool one(1);
  const calib::KQuantWeights a = calib::quantize_kquant_calibrated(DType::Q4_K, w.data(), rows, cols, h, best, &pool);
  const calib::KQuantWeights b = calib::quantize_kquant_calibrated(DType::Q4_K, w.data(), rows, cols, h, best, &one);
  EXPECT_EQ(a.bytes, b.bytes);
}

TEST(AsymKQuant, SearchAndGptqLowerTheirObjectives) {
  ThreadPool pool(2);
  const int64_t rows = 16, cols = 256;
  const std::vector<float> w = random_matrix(rows, cols, 3);
  const std::vector<float> h = correlated_hessian(cols, 4);
  calib::CalibMethod clip, gptq;
  clip.clip = true;
  gptq.gptq = gptq.clip = true;
  for (DType t : {DType::Q4_K, DType::Q5_K}) {
    const auto rtn = calib::quantize_kquant_calibrated(t, w.data(), rows, cols, {}, {}, &pool);
    const auto searched = calib::quantize_kquant_calibrated(t, w.data(), rows, cols, {}, clip, &pool);
    EXPECT_LT(plain_error(w, searched.values), 0.9 * plain_error(w, rtn.values)) << dtype_name(t);
    const auto g = calib::quantize_kquant_calibrated(t, w.data(), rows, cols, h, gptq, &pool);
    const double e_search = calib::relative_output_error(w.data(), searched.values.data(), rows, cols, h);
    const double e_gptq = calib::relative_output_error(w.data(), g.values.data(), rows, cols, h);
    EXPECT_LT(e_gptq, e_search) << dtype_name(t);
    // The refit keeps the codes and never raises the H-weighted error, row by row.
    calib::CalibMethod refit = gptq;
    refit.refit = true;
    const auto f = calib::quantize_kquant_calibrated(t, w.data(), rows, cols, h, refit, &pool);
    int moved = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const size_t o = static_cast<size_t>(r * cols);
      const double before = calib::relative_output_error(w.data() + o, g.values.data() + o, 1, cols, h);
      const double after = calib::relative_output_error(w.data() + o, f.values.data() + o, 1, cols, h);
      EXPECT_LE(after, before) << dtype_name(t) << " row " << r;
      moved += after < before;
    }
    EXPECT_GT(moved, 0) << dtype_name(t) << ": the refit never moved a scale";
  }
  // An asymmetric 4-bit group beats the symmetric one on weights with an offset.
  Scheme s;
  s.bits = 4;
  s.group = 32;
  const QuantizedTensor sym = quantize_rtn(w.data(), rows, cols, s);
  const auto asym = calib::quantize_kquant_calibrated(DType::Q4_K, w.data(), rows, cols, {}, clip, &pool);
  EXPECT_LT(plain_error(w, asym.values), plain_error(w, dequantize(sym.type, sym.bytes.data(), sym.bytes.size(), rows, cols)));
  EXPECT_THROW(calib::quantize_kquant_calibrated(DType::Q4_K, w.data(), 2, 128, {}, {}, &pool), Error);
  EXPECT_THROW(calib::quantize_kquant_calibrated(DType::Q4_0, w.data(), rows, cols, {}, {}, &pool), Error);
  std::vector<float> bad = w;
  bad[7] = std::nanf("");
  EXPECT_THROW(calib::quantize_kquant_calibrated(DType::Q4_K, bad.data(), rows, cols, {}, {}, &pool), Error);
}

TEST(TypeCandidates, Q5_0IsTheCalibratedFiveBitGrid) {
  ThreadPool pool(2);
  const int64_t rows = 8, cols = 64;
  const std::vector<float> w = random_matrix(rows, cols, 9);
  TypeCandidate q5;
  for (const TypeCandidate& c : type_candidates(cols))
    if (c.type == DType::Q5_0) q5 = c;
  ASSERT_EQ(q5.type, DType::Q5_0);
  calib::CalibMethod clip;
  clip.clip = true;
  const QuantizedResult r = quantize_to_candidate(q5, "blk.0.ffn_up.weight", rows, cols, w.data(), {}, clip, pool, false);
  const calib::CalibratedWeights cw = calib::quantize_calibrated(w.data(), rows, cols, 5, 32, {}, clip);
  EXPECT_EQ(dequantize(DType::Q5_0, r.tensor.bytes.data(), r.tensor.bytes.size(), rows, cols), cw.values);
  // Candidates come cheapest first, and rows of 172 get no 32- or 256-block types.
  for (int64_t c : {64, 172, 512}) {
    const auto cands = type_candidates(c);
    for (size_t i = 1; i < cands.size(); ++i) EXPECT_LE(cands[i - 1].bits(1, c), cands[i].bits(1, c));
    for (const auto& k : cands) EXPECT_TRUE(dtype_row_bytes(k.type, static_cast<uint64_t>(c)).has_value()) << k.name;
  }
  for (const auto& k : type_candidates(172)) EXPECT_TRUE(k.type != DType::Q5_0 && k.type != DType::Q4_K) << k.name;
}

TEST(QuantizerPipeline, BpwKeepsTheBudgetAndTheSameBytes) {
  const auto dir = ts::temp_dir("quantizer_bpw");
  const std::string stories = (ts::shared_data() / "models/stories260K/stories260K.bin").string();
  const std::string tok = (ts::shared_data() / "models/stories260K/tok512.bin").string();
  const auto options = [&](const std::string& out, double bpw, int threads) {
    QuantizeOptions o;
    o.in = stories;
    o.tokenizer = tok;
    o.out = (dir / out).string();
    o.plan.head = "f16";
    o.methods.calib_file = (ts::shared_data() / "text/calib.txt").string();
    o.methods.calib_tokens = 256;
    o.methods.calib_ctx = 64;
    o.methods.calib_samples = 16;
    o.methods.threads = threads;
    o.preset = "best";
    o.bpw = bpw;
    o.bpw_tokens = 64;
    return o;
  };
  for (double bpw : {4.6, 5.0}) {
    std::string bytes[2];
    for (int i = 0; i < 2; ++i) {
      const QuantizeOptions o = options("bpw" + std::to_string(i) + ".gguf", bpw, i + 1);
      const QuantizeResult r = quantize_model(o);
      EXPECT_LE(r.bpw, bpw);
      EXPECT_GT(r.bpw, bpw - 0.25);  // the budget is used, not just kept
      bytes[i] = ts::read_file(o.out);
      // Counted again from the file itself: every block linear's stored bytes.
      const auto m = load_model(o.out, LoadOptions{});
      uint64_t bits = 0, weights = 0;
      for (auto& [name, t] : m->tensors)
        if (!calib::stats_key(name).empty() && t.ne.size() == 2) bits += t.nbytes * 8, weights += t.ne[0] * t.ne[1];
      EXPECT_EQ(weights, 226560u);
      EXPECT_LE(static_cast<double>(bits), bpw * static_cast<double>(weights));
      EXPECT_DOUBLE_EQ(static_cast<double>(bits) / static_cast<double>(weights), r.bpw);
      const auto report = nlohmann::json::parse(ts::read_file(r.report_path));
      ASSERT_EQ(report["bpw"]["tensors"].size(), 35u);
      for (auto& t : report["bpw"]["tensors"]) {
        EXPECT_TRUE(t["sensitivity_kl"].is_number());
        EXPECT_FALSE(t["type"].get<std::string>().empty());
      }
    }
    EXPECT_TRUE(bytes[0] == bytes[1]) << "--bpw " << bpw << ": two runs wrote different files";
  }
  // A budget below the cheapest types is refused before any sensitivity run, with the floor in the message.
  try {
    quantize_model(options("low.gguf", 4.0, 1));
    FAIL() << "--bpw 4.0 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4.32"), std::string::npos) << e.what();
  }
  QuantizeOptions no_calib = options("x.gguf", 4.6, 1);
  no_calib.methods.calib_file.clear();
  no_calib.preset.clear();
  EXPECT_THROW(quantize_model(no_calib), Error);
}
