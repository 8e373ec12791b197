// --sequential (quantizer/sequential.h) on stories260K (../shared): block l's statistics
// come from the model whose blocks 0..l-1 hold their quantized weights, and --compensate's
// target is the float weights exactly when the earlier blocks are unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "quant/float_tensors.h"
#include "quant/quantize.h"
#include "quantizer/calibrate.h"
#include "quantizer/quantize_model.h"
#include "quantizer/sequential.h"
#include "support/model_helpers.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {

MethodOptions seq_options() {
  MethodOptions o;
  o.calib_file = (ts::shared_data() / "text/calib.txt").string();
  o.calib_tokens = 128;
  o.calib_ctx = 64;
  o.calib_samples = 16;
  o.threads = 1;
  return o;
}

// Largest |a − b| over the largest |a|: 0 when the second moments are the same.
double relative_gap(const calib::LinearStats& a, const calib::LinearStats& b) {
  double gap = 0, scale = 0;
  for (size_t i = 0; i < a.xtx.size(); ++i) {
    gap = std::max(gap, std::fabs(a.xtx[i] - b.xtx[i]));
    scale = std::max(scale, std::fabs(a.xtx[i]));
  }
  return scale > 0 ? gap / scale : gap;
}

QuantizedResult stored_f32(const float* data, int64_t rows, int64_t cols) {
  QuantizedResult q;
  q.tensor.type = DType::F32;
  q.tensor.bytes.resize(static_cast<size_t>(rows * cols) * sizeof(float));
  std::memcpy(q.tensor.bytes.data(), data, q.tensor.bytes.size());
  return q;
}

}  // namespace

TEST(QuantizerSequential, EachBlockSeesTheInputsOfTheQuantizedBlocksBeforeIt) {
  auto m = ts::stories_model();
  ThreadPool pool(1);
  const MethodOptions o = seq_options();
  const calib::CalibStats first = collect_calib_stats(*m, o, true, "test");
  const auto all = [](const std::string&, int64_t, int64_t) { return true; };

  // Weights kept as they are: every block's statistics are the float model's.
  int calls = 0;
  const SequentialResult same = quantize_sequential(
      *m, first, o, true, all,
      [&](const std::string&, int64_t rows, int64_t cols, const float* data, const calib::CalibStats&) {
        ++calls;
        return stored_f32(data, rows, cols);
      },
      pool);
  EXPECT_EQ(calls, 7 * m->cfg.n_layers);
  ASSERT_EQ(same.stats.size(), first.size());
  for (const auto& [key, st] : first) EXPECT_LT(relative_gap(st, same.stats.at(key)), 1e-6) << key;

  // Round to nearest, 4 bits per channel: block 0 still sees the float inputs, every later one the
  // quantized model's; and each tensor is quantized with its own block's statistics.
  const SequentialResult rtn = quantize_sequential(
      *m, first, o, true, all,
      [&](const std::string& name, int64_t rows, int64_t cols, const float* data, const calib::CalibStats& st) {
        const std::string key = calib::stats_key(name);
        EXPECT_TRUE(st.count(key)) << name;
        for (const auto& [k, s] : st) EXPECT_TRUE(k.starts_with(name.substr(0, name.find('.', 4) + 1))) << name << " got " << k;
        Scheme s;
        s.bits = 4;
        s.group = 0;
        QuantizedTensor q = quantize_rtn(data, rows, cols, s);
        QuantizedResult out;
        out.tensor = ExportedTensor{q.type, std::move(q.bytes)};
        return out;
      },
      pool);
  ASSERT_EQ(rtn.stats.size(), first.size());
  for (const auto& [key, st] : first) {
    const double gap = relative_gap(st, rtn.stats.at(key));
    if (key.starts_with("blk.0.")) EXPECT_LT(gap, 1e-6) << key;
    else EXPECT_GT(gap, 1e-4) << key << ": the quantized earlier blocks did not change this input";
  }
  EXPECT_EQ(rtn.tensors.size(), static_cast<size_t>(7 * m->cfg.n_layers));
}

TEST(QuantizerSequential, CompensationTargetsTheFloatWeightsWhenNothingChanged) {
  auto m = ts::stories_model();
  ThreadPool pool(2);
  MethodOptions o = seq_options();
  o.sequential = o.sequential_compensate = true;
  const calib::CalibStats first = collect_calib_stats(*m, o, true, "test");
  const FloatTensors orig = [&] {
    FloatTensors t;
    for (auto& [name, tensor] : m->tensors)
      if (tensor.ne.size() >= 2 && !calib::stats_key(name).empty()) {
        const std::vector<float> v = dequantize(tensor.type, tensor.data, tensor.nbytes, static_cast<int64_t>(tensor.ne[1]),
                                                static_cast<int64_t>(tensor.ne[0]));
        t[name] = FloatTensor{{tensor.ne[0], tensor.ne[1]}, v};
      }
    return t;
  }();
  double worst = 0;
  (void)quantize_sequential(
      *m, first, o, true, [](const std::string&, int64_t, int64_t) { return true; },
      [&](const std::string& name, int64_t rows, int64_t cols, const float* data, const calib::CalibStats&) {
        const FloatTensor& w = orig.at(name);
        double big = 0, gap = 0;
        for (size_t i = 0; i < w.data.size(); ++i) {
          big = std::max(big, static_cast<double>(std::fabs(w.data[i])));
          gap = std::max(gap, static_cast<double>(std::fabs(w.data[i] - data[i])));
        }
        worst = std::max(worst, gap / big);
        return stored_f32(w.data.data(), rows, cols);  // the float weights: the next block's inputs stay the same
      },
      pool);
  EXPECT_LT(worst, 1e-4);  // W' = W + W (C − H)ᵀ H⁻¹ with C = H
}

TEST(QuantizerSequential, OptionErrorsAreClear) {
  const auto message = [](void (*set)(QuantizeOptions&)) -> std::string {
    QuantizeOptions o;
    o.in = "/nonexistent/model.gguf";  // never read: the options fail first
    o.out = (ts::temp_dir("quantizer_seq_bad") / "x.gguf").string();
    o.methods = seq_options();
    o.methods.sequential = true;
    set(o);
    try {
      quantize_model(o);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message([](QuantizeOptions& o) { o.methods.calib_file.clear(); }).find("--sequential needs calibration"),
            std::string::npos);
  EXPECT_NE(message([](QuantizeOptions& o) { o.methods.sequential = false; o.methods.sequential_compensate = true; })
                .find("--compensate is for --sequential"),
            std::string::npos);
  EXPECT_NE(message([](QuantizeOptions& o) { o.methods.sequential = false; o.methods.mlp_aware = true; o.methods.calib_file.clear(); })
                .find("--mlp-aware weights the calibration samples"),
            std::string::npos);
}
