#include <gtest/gtest.h>

#include "core/error.h"
#include "formats/gguf.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;

TEST(Gguf, ReadsRealVocabFile) {
  auto f = gguf::File::open((ts::shared_data() / "tokenizers/llamacpp/ggml-vocab-llama-spm.gguf").string());
  EXPECT_EQ(f->get_string("tokenizer.ggml.model").value(), "llama");
  auto toks = f->get_string_array("tokenizer.ggml.tokens").value();
  ASSERT_EQ(toks.size(), 32000u);
  EXPECT_EQ(toks[1], "<s>");
  EXPECT_EQ(f->get_float_array("tokenizer.ggml.scores")->size(), 32000u);
}

TEST(Gguf, WriteThenReadRoundTrip) {
  auto dir = ts::temp_dir("gguf");
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::str("llama"));
  w.set("llama.block_count", gguf::Value::u32(5));
  w.set("x.f", gguf::Value::f32(1.5f));
  w.set("x.arr", gguf::Value::str_array({"a", "bb", ""}));
  std::vector<float> data(64 * 3);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<float>(i) * 0.5f;
  w.add_tensor("t", DType::F32, {64, 3}, data.data(), data.size() * 4);
  w.add_tensor_owned("u", DType::F32, {2}, std::vector<uint8_t>(8, 0));
  auto p = (dir / "x.gguf").string();
  w.write(p);
  auto f = gguf::File::open(p);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->get_string("general.architecture").value(), "llama");
  EXPECT_EQ(f->get_int("llama.block_count").value(), 5);
  EXPECT_FLOAT_EQ(static_cast<float>(f->get_float("x.f").value()), 1.5f);
  EXPECT_EQ(f->get_string_array("x.arr")->at(1), "bb");
  const auto* t = f->tensor("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->ne[0], 64u);
  EXPECT_EQ(t->nbytes, data.size() * 4);
  EXPECT_EQ(std::memcmp(t->data, data.data(), t->nbytes), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data) % 32, 0u);
}

TEST(Gguf, FloatKeysOutsideFloatRangeAreErrors) {
  // Readers keep these keys as float; casting 1e300 to float is undefined behaviour.
  auto dir = ts::temp_dir("gguf-f64");
  gguf::Writer w;
  gguf::Value big;
  big.type = gguf::ValueType::FLOAT64;
  big.f = 1e300;
  w.set("x.big", big);
  w.set("x.arr", gguf::Value::array(gguf::ValueType::FLOAT64, {big}));
  gguf::Value fine = big;
  fine.f = 2.5e38;
  w.set("x.fine", fine);
  auto p = (dir / "f64.gguf").string();
  w.write(p);
  auto f = gguf::File::open(p);
  EXPECT_DOUBLE_EQ(f->get_float("x.fine").value(), 2.5e38);
  EXPECT_THROW(f->get_float("x.big"), Error);
  EXPECT_THROW(f->get_float_array("x.arr"), Error);
}

namespace {
std::string build_header(uint64_t n_tensors, uint64_t n_kv) {
  std::string s = "GGUF";
  uint32_t v = 3;
  s.append(reinterpret_cast<char*>(&v), 4);
  s.append(reinterpret_cast<char*>(&n_tensors), 8);
  s.append(reinterpret_cast<char*>(&n_kv), 8);
  return s;
}
void expect_gguf_error(const std::string& bytes, const std::string& needle) {
  auto dir = ts::temp_dir("gguf-bad");
  auto p = (dir / "bad.gguf").string();
  ts::write_file(p, bytes);
  try {
    gguf::File::open(p);
    FAIL() << "no error for case expecting: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "message must name the file";
  }
}
}  // namespace

TEST(Gguf, RejectsBadMagic) { expect_gguf_error("GGML0000000000000000000000", "bad magic"); }
TEST(Gguf, RejectsEmpty) { expect_gguf_error("", "bad magic"); }
TEST(Gguf, RejectsTruncatedHeader) { expect_gguf_error("GGUF\x03\x00", "truncated"); }
TEST(Gguf, RejectsHugeCounts) {
  expect_gguf_error(build_header(0, uint64_t{1} << 60), "metadata count");
  expect_gguf_error(build_header(uint64_t{1} << 60, 0), "tensor count");
}
TEST(Gguf, RejectsHugeString) {
  std::string s = build_header(0, 1);
  uint64_t len = uint64_t{1} << 40;
  s.append(reinterpret_cast<char*>(&len), 8);
  s += std::string(64, 'a');
  expect_gguf_error(s, "length");
}
TEST(Gguf, RejectsTensorPastEnd) {
  auto dir = ts::temp_dir("gguf-trunc");
  gguf::Writer w;
  std::vector<float> data(1024, 1.0f);
  w.add_tensor("t", DType::F32, {1024}, data.data(), data.size() * 4);
  auto p = (dir / "x.gguf").string();
  w.write(p);
  std::string bytes = ts::read_file(p);
  expect_gguf_error(bytes.substr(0, bytes.size() - 100), "past the end");
}
TEST(Gguf, RejectsOverflowingDims) {
  std::string s = build_header(1, 0);
  uint64_t len = 1;
  s.append(reinterpret_cast<char*>(&len), 8);
  s += "t";
  uint32_t nd = 4;
  s.append(reinterpret_cast<char*>(&nd), 4);
  for (int i = 0; i < 4; ++i) {
    uint64_t d = uint64_t{1} << 20;
    s.append(reinterpret_cast<char*>(&d), 8);
  }
  s += std::string(16, '\0');
  expect_gguf_error(s, "overflowing shape");
}
TEST(Gguf, RejectsUnknownTensorType) {
  std::string s = build_header(1, 0);
  uint64_t len = 1;
  s.append(reinterpret_cast<char*>(&len), 8);
  s += "t";
  uint32_t nd = 1;
  s.append(reinterpret_cast<char*>(&nd), 4);
  uint64_t d = 32;
  s.append(reinterpret_cast<char*>(&d), 8);
  uint32_t type = 999;
  s.append(reinterpret_cast<char*>(&type), 4);
  s += std::string(40, '\0');
  expect_gguf_error(s, "unknown type id 999");
}
