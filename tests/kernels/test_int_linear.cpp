// Every integer kernel available on this CPU against the scalar ref (the oracle),
// and the ref against plain float math.
#include <gtest/gtest.h>

#include <set>

#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernel_test_util.h"
#include "kernels/pack.h"
#include "kernels/table.h"
#include "weights/blocks_pocketllm.h"

using namespace pocketllm;

namespace {

struct Shape {
  int64_t rows, cols;
};
const Shape kShapes[] = {{1, 32}, {1, 33}, {17, 172}, {16, 64}, {33, 256}, {5, 1000}, {40, 128}};
const Scheme kSchemes[] = {{4, 32, {}}, {4, 64, {}}, {4, 128, {}}, {4, 0, {}}, {8, 32, {}}, {8, 0, {}}};

std::string describe(const Scheme& s, const Shape& sh, int64_t nt, const char* isa) {
  return fmt::format("W{} g{} {}x{} tokens {} isa {}", s.bits, s.group, sh.rows, sh.cols, nt, isa);
}

TEST(IntLinear, EveryIsaMatchesRefOnRandomInputs) {
  ASSERT_GE(available_kernels().size(), 1u);
  uint32_t seed = 1;
  for (const Scheme& s : kSchemes)
    for (const Shape& sh : kShapes) {
      const auto w = kt::random_floats(static_cast<size_t>(sh.rows * sh.cols), seed++, 0.05f);
      const QuantizedTensor q = quantize_rtn(w.data(), sh.rows, sh.cols, s);
      const Matrix m = make_matrix(q.type, sh.rows, sh.cols, q.bytes.data());
      const std::vector<float> wd = dequantize(q.type, q.bytes.data(), q.bytes.size(), sh.rows, sh.cols);
      for (int64_t nt : {1, 7, 70}) {
        const auto x = kt::random_floats(static_cast<size_t>(nt * sh.cols), seed++);
        const auto ref = kt::run_linear(m, *find_kernels("ref"), x, nt);
        const auto mag = kt::abs_sums(wd, x, sh.rows, sh.cols, nt);
        for (const KernelTable* k : kt::tested_kernels()) {
          const auto y = kt::run_linear(m, *k, x, nt, 1, /*drop_data=*/true);
          for (size_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y[i], ref[i], 2e-6 * mag[i] + 1e-6) << describe(s, sh, nt, k->name) << " at " << i;
        }
      }
    }
}

// Decode reads each thread's tiles as one or two streams (gemv_streams()): the same
// tiles computed by the same code, so bit-identical results, and both match ref.
TEST(IntLinear, GemvStreamPatternsGiveIdenticalResults) {
  const int saved = gemv_streams();
  uint32_t seed = 500;
  for (const Scheme& s : kSchemes)
    for (const Shape& sh : {Shape{33, 256}, Shape{160, 128}, Shape{5, 1000}}) {
      const auto w = kt::random_floats(static_cast<size_t>(sh.rows * sh.cols), seed++, 0.05f);
      const QuantizedTensor q = quantize_rtn(w.data(), sh.rows, sh.cols, s);
      const Matrix m = make_matrix(q.type, sh.rows, sh.cols, q.bytes.data());
      const std::vector<float> wd = dequantize(q.type, q.bytes.data(), q.bytes.size(), sh.rows, sh.cols);
      const auto x = kt::random_floats(static_cast<size_t>(sh.cols), seed++);
      const auto ref = kt::run_linear(m, *find_kernels("ref"), x, 1);
      const auto mag = kt::abs_sums(wd, x, sh.rows, sh.cols, 1);
      for (const KernelTable* k : kt::tested_kernels()) {
        set_gemv_streams(1);
        const auto one = kt::run_linear(m, *k, x, 1, 1);  // one thread: all tiles in one share
        set_gemv_streams(2);
        const auto two = kt::run_linear(m, *k, x, 1, 1);
        ASSERT_EQ(one, two) << describe(s, sh, 1, k->name);
        for (size_t i = 0; i < one.size(); ++i)
          ASSERT_NEAR(one[i], ref[i], 2e-6 * mag[i] + 1e-6) << describe(s, sh, 1, k->name) << " at " << i;
      }
    }
  set_gemv_streams(saved);
  set_gemv_streams(0);
  EXPECT_EQ(gemv_streams(), 1);
  set_gemv_streams(7);
  EXPECT_EQ(gemv_streams(), 2);
  set_gemv_streams(saved);
}

// 8-bit kernels of VNNI tables read activations offset by 128: made once in
// QuantActs::u8 by linear(), or per chunk by the kernel when absent. Same results.
TEST(IntLinear, OffsetActivationsMadeOnceOrPerChunkAgree) {
  const int64_t rows = 48, cols = 160;
  const auto w = kt::random_floats(static_cast<size_t>(rows * cols), 77, 0.05f);
  for (const Scheme& s : {Scheme{8, 32, {}}, Scheme{8, 0, {}}}) {
    const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, s);
    const auto f = *int_weight_format(q.type);
    for (const KernelTable* k : kt::tested_kernels()) {
      if (!k->gemm_w8 || !k->reads_wsum128) continue;
      PackedInt p;
      pack_int(q.type, q.bytes.data(), q.bytes.size() / rows, rows, cols, p, true);
      for (int64_t nt : {1, 9, 70}) {
        const auto x = kt::random_floats(static_cast<size_t>(nt * cols), 78 + nt);
        std::vector<float> y[2];
        for (int with_u8 = 0; with_u8 < 2; ++with_u8) {
          QuantActs a;
          quantize_acts_shape(nt, effective_group(f, cols), padded_cols(f, cols), a, 0, with_u8);
          quantize_acts_tokens(x.data(), cols, 0, nt, cols, a);
          ASSERT_EQ(a.u8.empty(), !with_u8);
          y[with_u8].assign(static_cast<size_t>(nt * rows), -1.0f);
          k->gemm_w8(p, a, 0, p.n_tiles, y[with_u8].data(), rows);
        }
        ASSERT_EQ(y[0], y[1]) << k->name << " W8 g" << s.group << " tokens " << nt;
      }
    }
  }
}

// Integer weights and activations at scale 1 make every float operation exact, so
// any ISA must reproduce the ref bit for bit: this checks the int32 sums themselves,
// including the extremes (-8 nibbles in Q4_0, -128 in Q8_0, activations of +-127).
void check_exact(DType type, int bits, int64_t rows, int64_t cols, uint32_t seed) {
  const auto f = *int_weight_format(type);
  const int64_t g = effective_group(f, cols);
  const size_t rb = *dtype_row_bytes(type, static_cast<uint64_t>(cols));
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(rb * static_cast<size_t>(rows));
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  // Every scale 1.0 (f16 0x3C00); 4-bit payload 0x00 / 0xFF bytes hit -8 and +7.
  const bool per_row = f.group == 0;
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* row = bytes.data() + r * rb;
    if (per_row) {
      row[0] = 0x00, row[1] = 0x3C;
      if (r == 0) std::memset(row + 2, bits == 4 ? 0x00 : 0x80, rb - 2);
    } else {
      const size_t blk = 2 + static_cast<size_t>(g) * bits / 8;
      for (size_t o = 0; o < rb; o += blk) {
        row[o] = 0x00, row[o + 1] = 0x3C;
        if (r == 0) std::memset(row + o + 2, bits == 4 ? 0x00 : 0x80, blk - 2);
      }
    }
  }
  // Padding weights would never meet a nonzero activation anyway (activations are zero-padded).
  const Matrix m = make_matrix(type, rows, cols, bytes.data());
  for (int64_t nt : {1, 5, 66}) {
    std::vector<float> x(static_cast<size_t>(nt * cols));
    std::uniform_int_distribution<int> d(-127, 127);
    for (auto& v : x) v = static_cast<float>(d(rng));
    for (int64_t t = 0; t < nt; ++t)
      for (int64_t c0 = 0; c0 < cols; c0 += g) x[t * cols + c0] = (t % 2) ? -127.0f : 127.0f;  // scale 1
    if (nt == 5)
      for (int64_t c = 0; c < cols; ++c) x[c] = (c % g == 0) ? 127.0f : -127.0f;  // extremes
    const auto ref = kt::run_linear(m, *find_kernels("ref"), x, nt);
    // Independent int64 check of the ref.
    std::vector<float> wd = dequantize(type, bytes.data(), bytes.size(), rows, cols);
    for (int64_t t = 0; t < nt; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t s = 0;
        for (int64_t c = 0; c < cols; ++c)
          s += static_cast<int64_t>(wd[r * cols + c]) * static_cast<int64_t>(x[t * cols + c]);
        ASSERT_EQ(ref[t * rows + r], static_cast<float>(s)) << dtype_name(type) << " row " << r << " token " << t;
      }
    for (const KernelTable* k : kt::tested_kernels()) {
      const auto y = kt::run_linear(m, *k, x, nt, 2);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_EQ(y[i], ref[i]) << dtype_name(type) << " " << rows << "x" << cols << " isa " << k->name << " at " << i;
    }
  }
}

TEST(IntLinear, IntegerSumsAreBitExactAcrossIsas) {
  check_exact(DType::Q4_0, 4, 19, 96, 1);
  check_exact(DType::Q8_0, 8, 19, 96, 2);
  check_exact(kW4G32, 4, 3, 172, 3);
  check_exact(kW4G64, 4, 17, 192, 4);
  check_exact(kW4G128, 4, 1, 256, 5);
  check_exact(kW4Row, 4, 33, 1000, 6);
  check_exact(kW8G32, 8, 16, 33, 7);
  check_exact(kW8Row, 8, 21, 2048, 8);
}

TEST(IntLinear, ZerosGiveZeros) {
  for (const Scheme& s : kSchemes) {
    const std::vector<float> w(17 * 172, 0.0f), x(3 * 172, 0.0f);
    const QuantizedTensor q = quantize_rtn(w.data(), 17, 172, s);
    const Matrix m = make_matrix(q.type, 17, 172, q.bytes.data());
    const auto xr = kt::random_floats(3 * 172, 5);
    for (const KernelTable* k : kt::tested_kernels()) {
      for (float v : kt::run_linear(m, *k, x, 3)) ASSERT_EQ(v, 0.0f) << k->name;
      for (float v : kt::run_linear(m, *k, xr, 3)) ASSERT_EQ(v, 0.0f) << k->name;
    }
  }
}

// The ref itself against float math: the only difference allowed is activation
// rounding, at most half an activation step per term.
TEST(IntLinear, RefMatchesFloatMathWithinActivationRounding) {
  const int64_t rows = 9, cols = 172, nt = 4;
  for (const Scheme& s : kSchemes) {
    const auto w = kt::random_floats(rows * cols, 11);
    const auto x = kt::random_floats(nt * cols, 12);
    const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, s);
    const auto wd = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
    const Matrix m = make_matrix(q.type, rows, cols, q.bytes.data());
    const auto y = kt::run_linear(m, *find_kernels("ref"), x, nt);
    const int64_t g = effective_group(*int_weight_format(q.type), cols);
    for (int64_t t = 0; t < nt; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double exact = 0, bound = 1e-5;
        for (int64_t c0 = 0; c0 < cols; c0 += g) {
          double amax = 0, wabs = 0;
          for (int64_t c = c0; c < std::min(cols, c0 + g); ++c) {
            exact += double(wd[r * cols + c]) * x[t * cols + c];
            amax = std::max(amax, std::fabs(double(x[t * cols + c])));
            wabs += std::fabs(double(wd[r * cols + c]));
          }
          bound += wabs * amax / 127.0 * 0.5 * 1.001 + 1e-6 * wabs * amax;
        }
        ASSERT_NEAR(y[t * rows + r], exact, bound) << "W" << s.bits << " g" << s.group;
        ASSERT_GT(std::fabs(y[t * rows + r] - exact), 0.0) << "activation rounding should show";
      }
  }
}

TEST(IntLinear, FloatActivationsDequantizeWeights) {
  const int64_t rows = 20, cols = 172, nt = 3;
  const auto w = kt::random_floats(rows * cols, 21);
  const auto x = kt::random_floats(nt * cols, 22);
  const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, Scheme{4, 32, {}});
  const auto wd = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
  Matrix m = make_matrix(q.type, rows, cols, q.bytes.data());
  m.act = ActPrecision::Float;
  const auto mag = kt::abs_sums(wd, x, rows, cols, nt);
  for (const KernelTable* k : kt::tested_kernels()) {
    const auto y = kt::run_linear(m, *k, x, nt, 1, true);
    for (int64_t t = 0; t < nt; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        double exact = 0;
        for (int64_t c = 0; c < cols; ++c) exact += double(wd[r * cols + c]) * x[t * cols + c];
        ASSERT_NEAR(y[t * rows + r], exact, 1e-6 * mag[t * rows + r] + 1e-7) << k->name;
      }
  }
}

TEST(IntLinear, ThreadsDoNotChangeResults) {
  if (kt::max_test_threads() < 2) GTEST_SKIP() << "POCKETLLM_TEST_MAX_THREADS < 2";
  const int64_t rows = 100, cols = 256, nt = 9;
  const auto w = kt::random_floats(rows * cols, 31);
  const auto x = kt::random_floats(nt * cols, 32);
  const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, Scheme{4, 32, {}});
  const Matrix m = make_matrix(q.type, rows, cols, q.bytes.data());
  for (const KernelTable* k : kt::tested_kernels())
    EXPECT_EQ(kt::run_linear(m, *k, x, nt, 1), kt::run_linear(m, *k, x, nt, 2)) << k->name;
}

TEST(IntLinear, MatrixRowReadsPackedWeights) {
  const int64_t rows = 18, cols = 172;
  const auto w = kt::random_floats(rows * cols, 41);
  for (const Scheme& s : kSchemes) {
    const QuantizedTensor q = quantize_rtn(w.data(), rows, cols, s);
    const auto wd = dequantize(q.type, q.bytes.data(), q.bytes.size(), rows, cols);
    for (const KernelTable* k : kt::tested_kernels()) {
      Matrix m = make_matrix(q.type, rows, cols, q.bytes.data());
      prepare_matrix(m, *k);
      m.data = nullptr;  // the model drops the stored pages after preparing
      std::vector<float> row(cols);
      for (int64_t r : {int64_t{0}, int64_t{15}, int64_t{17}}) {
        matrix_row(m, r, row.data());
        for (int64_t c = 0; c < cols; ++c) ASSERT_EQ(row[c], wd[r * cols + c]) << k->name;
      }
      EXPECT_THROW(matrix_row(m, rows, row.data()), Error);
    }
  }
}

TEST(Dispatch, IsaSelection) {
  EXPECT_STREQ(select_kernels("ref").name, "ref");
  EXPECT_THROW(select_kernels("sse9000"), Error);
  for (const std::string& name : compiled_isa_names()) {
    if (find_kernels(name))
      EXPECT_STREQ(select_kernels(name.c_str()).name, name.c_str());
    else
      EXPECT_THROW(select_kernels(name.c_str()), Error) << name;
  }
  EXPECT_EQ(available_kernels().back()->name, std::string(select_kernels(nullptr).name));
  if (const char* isa = std::getenv("POCKETLLM_ISA"); isa && *isa) {
    EXPECT_STREQ(active_kernels().name, isa);
  }
  std::printf("kernels available here:");
  for (const KernelTable* k : available_kernels()) std::printf(" %s", k->name);
  std::printf("\n");
}

}  // namespace

// Tables are filled by name (designated initializers; an entry left out does not
// compile): here, the entries only ref may leave empty are set in every other table.
TEST(Dispatch, EveryTableSetsItsRequiredEntries) {
  std::set<std::string> names;
  for (const KernelTable* k : available_kernels()) {
    ASSERT_NE(k->name, nullptr);
    EXPECT_TRUE(names.insert(k->name).second) << "two tables named " << k->name;
    EXPECT_NE(k->dot_f32, nullptr) << k->name;
    EXPECT_NE(k->f16_to_f32_row, nullptr) << k->name;
    EXPECT_NE(k->round_f16, nullptr) << k->name;
    EXPECT_NE(k->axpy_rows, nullptr) << k->name;
    EXPECT_NE(k->softmax, nullptr) << k->name;
    EXPECT_NE(k->quantize_act_row, nullptr) << k->name;
    EXPECT_NE(k->silu_mul, nullptr) << k->name;
    const bool reads_stored = std::string(k->name) == "ref";  // multiplies weights as stored, no tiles
    EXPECT_EQ(k->gemm_w4 == nullptr, reads_stored) << k->name;
    EXPECT_EQ(k->gemm_w8 == nullptr, reads_stored) << k->name;
  }
}
