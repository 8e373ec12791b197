// Every row codec's dequantizer against an independent one: the PyPI gguf
// package's (gguf.quants.dequantize, pinned in scripts/requirements.txt), on
// seeded random blocks plus blocks with zero, tiny, huge, negative, inf and
// NaN scales and all-zero / all-ones codes. Results must be bit-identical,
// except that any NaN equals any NaN (payloads are not part of the contract:
// numpy may quiet them when it widens halves).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "core/fp16.h"
#include "support/test_support.h"
#include "weights/dtype.h"
#include "weights/row_codec.h"

using namespace pocketllm;
namespace fs = std::filesystem;

namespace {

// Where each type keeps its f16 scales (byte offsets in a block): the fields the
// extreme cases overwrite. Every other byte is codes or packed sub-block scales.
struct OracleType {
  DType type;
  std::vector<int> f16_fields;
};
const std::vector<OracleType>& oracle_types() {
  static const std::vector<OracleType> t = {
      {DType::F32, {}},          {DType::F16, {0}},         {DType::BF16, {}},        {DType::Q4_0, {0}},
      {DType::Q4_1, {0, 2}},     {DType::Q5_0, {0}},        {DType::Q5_1, {0, 2}},    {DType::Q8_0, {0}},
      {DType::Q2_K, {80, 82}},   {DType::Q3_K, {108}},      {DType::Q4_K, {0, 2}},    {DType::Q5_K, {0, 2}},
      {DType::Q6_K, {208}},      {DType::IQ4_NL, {0}},      {DType::IQ4_XS, {0}},
  };
  return t;
}

// f16 scales worth checking by hand: zero (both signs), smallest and largest
// subnormal, smallest normal, one, largest finite, negatives, inf, NaN.
constexpr uint16_t kScales[] = {0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF,
                                0xFBFF, 0xBC00, 0x7C00, 0xFC00, 0x7E00, 0x7C01};

// Blocks of type t: random bytes with finite random-ish scales, then every
// special scale (in every f16 field at once and in the first alone) with random,
// all-zero and all-one codes.
std::vector<uint8_t> make_blocks(const OracleType& ot, size_t block_bytes, int n_random, std::mt19937& rng) {
  std::vector<uint8_t> out;
  std::uniform_int_distribution<int> byte(0, 255);
  auto block = [&](int codes, const std::vector<int>& fields, int scale) {  // codes: 0 random, 1 zeros, 2 ones
    std::vector<uint8_t> b(block_bytes);
    for (auto& v : b) v = codes == 0 ? static_cast<uint8_t>(byte(rng)) : codes == 1 ? 0 : 0xFF;
    for (int off : ot.f16_fields) {  // finite scales of moderate size unless overridden
      const uint16_t h = static_cast<uint16_t>(byte(rng) % 0x60 + 0x10) << 8 | static_cast<uint16_t>(byte(rng));
      std::memcpy(&b[off], &h, 2);
    }
    for (int off : fields) {
      const uint16_t h = kScales[scale];
      std::memcpy(&b[off], &h, 2);
    }
    out.insert(out.end(), b.begin(), b.end());
  };
  for (int i = 0; i < n_random; ++i) block(0, {}, 0);
  if (ot.f16_fields.empty()) {  // float types: random bits already cover every class; add the specials
    for (int codes = 1; codes <= 2; ++codes) block(codes, {}, 0);
    return out;
  }
  for (int s = 0; s < static_cast<int>(std::size(kScales)); ++s)
    for (int codes = 0; codes <= 2; ++codes) {
      block(codes, ot.f16_fields, s);
      block(codes, {ot.f16_fields[0]}, s);
    }
  return out;
}

bool same_value(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return bits_from_f32(a) == bits_from_f32(b);
}

}  // namespace

TEST(GgufOracle, DequantizedRowsAreBitIdenticalToGgufPy) {
  const std::string py = testsupport::venv_python();
  if (py.empty()) GTEST_SKIP() << "no project venv: run `bash scripts/venv.sh` (installs the pinned gguf package)";
  const fs::path dir = testsupport::temp_dir("gguf-oracle");
  std::mt19937 rng(24);
  std::string manifest = "[";
  struct Case {
    DType type;
    std::vector<uint8_t> bytes;
    int64_t n;
    fs::path out;
  };
  std::vector<Case> cases;
  for (const auto& ot : oracle_types()) {
    const DTypeTraits tr = *dtype_traits(ot.type);
    // Float types: one "block" is a run of 64 elements, so whole runs stay aligned.
    const size_t block_bytes = tr.block_size == 1 ? 64 * tr.type_size : tr.type_size;
    const int64_t block_n = tr.block_size == 1 ? 64 : tr.block_size;
    Case c{ot.type, make_blocks(ot, block_bytes, 200, rng), 0, dir / (dtype_name(ot.type) + ".f32")};
    c.n = static_cast<int64_t>(c.bytes.size() / block_bytes) * block_n;
    const fs::path in = dir / (dtype_name(ot.type) + ".raw");
    testsupport::write_file(in, std::string(c.bytes.begin(), c.bytes.end()));
    manifest += fmt::format("{}{{\"type\": \"{}\", \"n\": {}, \"in\": \"{}\", \"out\": \"{}\"}}", cases.empty() ? "" : ",",
                            dtype_name(ot.type), c.n, in.string(), c.out.string());
    cases.push_back(std::move(c));
  }
  testsupport::write_file(dir / "manifest.json", manifest + "]");
  const std::string cmd = fmt::format("'{}' '{}/tests/weights/gguf_dequantize.py' '{}'", py, POCKETLLM_SOURCE_DIR,
                                      (dir / "manifest.json").string());
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  for (const Case& c : cases) {
    SCOPED_TRACE(dtype_name(c.type));
    const std::string ref_bytes = testsupport::read_file(c.out);
    ASSERT_EQ(ref_bytes.size(), static_cast<size_t>(c.n) * 4);
    std::vector<float> ref(static_cast<size_t>(c.n)), ours(static_cast<size_t>(c.n));
    std::memcpy(ref.data(), ref_bytes.data(), ref_bytes.size());
    ggml_row_to_f32(c.type, c.bytes.data(), ours.data(), c.n);
    int64_t bad = 0, nans = 0;
    for (int64_t i = 0; i < c.n; ++i) {
      nans += std::isnan(ref[i]);
      if (!same_value(ours[i], ref[i]) && bad++ < 5)
        ADD_FAILURE() << "element " << i << ": pocketllm " << ours[i] << " (0x" << std::hex << bits_from_f32(ours[i])
                      << "), gguf " << ref[i] << " (0x" << bits_from_f32(ref[i]) << std::dec << ")";
    }
    EXPECT_EQ(bad, 0) << "of " << c.n << " values";
    EXPECT_GT(nans, 0) << "the special scales should have produced NaNs";
  }
}
