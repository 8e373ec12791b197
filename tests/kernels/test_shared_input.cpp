// linear_shared_input() (Q/K/V, gate/up) and weights kept in a huge-page arena
// give bit-identical products to one linear() per matrix, under every kernel
// table and thread count; matrices that cannot share an input fall back.
#include <gtest/gtest.h>

#include <cstring>

#include "core/huge_buffer.h"
#include "kernel_test_util.h"

using namespace pocketllm;

namespace {
struct Weights {
  QuantizedTensor q;
  Matrix m;
};

Weights make_weights(int64_t rows, int64_t cols, Scheme s, uint32_t seed) {
  const auto w = kt::random_floats(static_cast<size_t>(rows * cols), seed);
  Weights out{quantize_rtn(w.data(), rows, cols, s), {}};
  out.m = make_matrix(out.q.type, rows, cols, out.q.bytes.data());
  return out;
}
}  // namespace

TEST(SharedInput, SameBitsAsOneLinearPerMatrix) {
  const int64_t cols = 96;
  for (const Scheme& s : {Scheme{4, 32, {}}, Scheme{4, 0, {}}, Scheme{8, 32, {}}})
    for (const KernelTable* k : kt::tested_kernels())
      for (int threads : {1, 2})
        for (int64_t n_tokens : {1, 3, 17}) {
          // Rows not a multiple of the 16-row tile, as K/V of small models can be.
          std::vector<Weights> ws;
          for (int64_t rows : {40, 8, 24}) ws.push_back(make_weights(rows, cols, s, static_cast<uint32_t>(rows)));
          auto arena = std::make_shared<HugeArena>(size_t{1} << 20);
          for (auto& w : ws) prepare_matrix(w.m, *k, arena);
          const auto x = kt::random_floats(static_cast<size_t>(n_tokens * cols), 7);
          ThreadPool pool(std::min(threads, kt::max_test_threads()));
          std::vector<std::vector<float>> shared(3), single(3);
          std::vector<LinearOut> outs;
          for (size_t i = 0; i < ws.size(); ++i) {
            shared[i].assign(static_cast<size_t>(n_tokens * ws[i].m.rows), -1.0f);
            outs.push_back({&ws[i].m, shared[i].data(), ws[i].m.rows});
          }
          linear_shared_input(outs, x.data(), cols, n_tokens, pool);
          for (size_t i = 0; i < ws.size(); ++i) {
            // The reference: the matrix prepared the usual way, without the arena.
            single[i] = kt::run_linear(make_matrix(ws[i].q.type, ws[i].m.rows, cols, ws[i].q.bytes.data()), *k, x,
                                       n_tokens, threads);
            ASSERT_EQ(std::memcmp(shared[i].data(), single[i].data(), single[i].size() * 4), 0)
                << k->name << " bits " << s.bits << " group " << s.group << " matrix " << i << " tokens " << n_tokens;
          }
        }
}

TEST(SharedInput, MixedTypesFallBackToOneLinearEach) {
  const int64_t cols = 64, n_tokens = 5;
  Weights a = make_weights(32, cols, Scheme{4, 32, {}}, 1), b = make_weights(16, cols, Scheme{8, 32, {}}, 2);
  prepare_matrix(a.m);
  prepare_matrix(b.m);
  const auto x = kt::random_floats(static_cast<size_t>(n_tokens * cols), 3);
  ThreadPool pool(1);
  std::vector<float> ya(static_cast<size_t>(n_tokens * 32)), yb(static_cast<size_t>(n_tokens * 16));
  const LinearOut outs[] = {{&a.m, ya.data(), 32}, {&b.m, yb.data(), 16}};
  linear_shared_input(outs, x.data(), cols, n_tokens, pool);
  EXPECT_EQ(ya, kt::run_linear(a.m, active_kernels(), x, n_tokens));
  EXPECT_EQ(yb, kt::run_linear(b.m, active_kernels(), x, n_tokens));
}

TEST(HugeArena, AllocationsAreAlignedDistinctAndZero) {
  HugeArena arena(size_t{1} << 20);
  std::vector<uint8_t*> ps;
  for (size_t n : {size_t{1}, size_t{100}, size_t{3} << 20, size_t{64}, size_t{5000}}) {
    uint8_t* p = arena.alloc(n);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], 0) << "fresh anonymous memory";
    std::memset(p, 0xAB, n);
    ps.push_back(p);
  }
  for (size_t i = 1; i < ps.size(); ++i) EXPECT_NE(ps[i], ps[i - 1]);
  EXPECT_EQ(ps[0][0], 0xAB) << "later allocations do not overwrite earlier ones";
  EXPECT_GE(arena.used(), (size_t{3} << 20) + 5000);
}

TEST(HugeArena, CopyParallelCopiesEveryByte) {
  for (size_t n : {size_t{0}, size_t{7}, size_t{9} << 20, (size_t{9} << 20) + 13}) {
    std::vector<uint8_t> src(n), dst(n, 0);
    for (size_t i = 0; i < n; ++i) src[i] = static_cast<uint8_t>(i * 131 + 7);
    copy_parallel(dst.data(), src.data(), n, kt::max_test_threads());
    EXPECT_EQ(src, dst) << n;
  }
}
