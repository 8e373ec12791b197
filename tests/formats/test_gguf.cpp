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

// Arrays keep their elements compactly by kind (strings, 8-byte numbers, nested
// arrays): every element type reads back as written, extremes included, and a
// written file is byte-identical when written again from what was read.
TEST(Gguf, ArraysOfEveryElementTypeRoundTrip) {
  namespace g = gguf;
  auto dir = ts::temp_dir("gguf-arrays");
  auto num = [](g::ValueType t, uint64_t u, int64_t i, double f) {
    g::Value v;
    v.type = t;
    v.u = u;
    v.i = i;
    v.f = f;
    return v;
  };
  g::Writer w;
  w.set("a.u8", g::Value::array(g::ValueType::UINT8, {num(g::ValueType::UINT8, 0, 0, 0), num(g::ValueType::UINT8, 255, 0, 0)}));
  w.set("a.i8", g::Value::array(g::ValueType::INT8, {num(g::ValueType::INT8, 0, -128, 0), num(g::ValueType::INT8, 0, 127, 0)}));
  w.set("a.u16", g::Value::array(g::ValueType::UINT16, {num(g::ValueType::UINT16, 65535, 0, 0)}));
  w.set("a.i16", g::Value::array(g::ValueType::INT16, {num(g::ValueType::INT16, 0, -32768, 0)}));
  w.set("a.u32", g::Value::array(g::ValueType::UINT32, {num(g::ValueType::UINT32, 4294967295u, 0, 0)}));
  w.set("a.i32", g::Value::i32_array({-2147483647 - 1, 0, 2147483647}));
  w.set("a.u64", g::Value::array(g::ValueType::UINT64, {num(g::ValueType::UINT64, 1ull << 62, 0, 0)}));
  w.set("a.i64", g::Value::array(g::ValueType::INT64, {num(g::ValueType::INT64, 0, -(1ll << 62), 0)}));
  w.set("a.f32", g::Value::f32_array({-1.5f, 0.0f, 3.25e38f}));
  w.set("a.f64", g::Value::array(g::ValueType::FLOAT64, {num(g::ValueType::FLOAT64, 0, 0, -0.125)}));
  w.set("a.bool", g::Value::array(g::ValueType::BOOL, {g::Value::boolean(true), g::Value::boolean(false)}));
  w.set("a.str", g::Value::str_array({"", "\xe2\x96\x81the", std::string(100, 'x')}));
  w.set("a.nested", g::Value::array(g::ValueType::ARRAY, {g::Value::i32_array({1, 2}), g::Value::str_array({"z"})}));
  const auto p = (dir / "arrays.gguf").string();
  w.write(p);
  auto f = g::File::open(p);
  EXPECT_EQ(f->get_int_array("a.u8"), (std::vector<int64_t>{0, 255}));
  EXPECT_EQ(f->get_int_array("a.i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(f->get_int_array("a.u16"), (std::vector<int64_t>{65535}));
  EXPECT_EQ(f->get_int_array("a.i16"), (std::vector<int64_t>{-32768}));
  EXPECT_EQ(f->get_int_array("a.u32"), (std::vector<int64_t>{4294967295ll}));
  EXPECT_EQ(f->get_int_array("a.i32"), (std::vector<int64_t>{-2147483648ll, 0, 2147483647}));
  EXPECT_EQ(f->get_int_array("a.u64"), (std::vector<int64_t>{1ll << 62}));
  EXPECT_EQ(f->get_int_array("a.i64"), (std::vector<int64_t>{-(1ll << 62)}));
  EXPECT_EQ(f->get_float_array("a.f32"), (std::vector<float>{-1.5f, 0.0f, 3.25e38f}));
  EXPECT_EQ(f->get_float_array("a.f64"), (std::vector<float>{-0.125f}));
  EXPECT_EQ(f->get_int_array("a.bool"), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(f->get_string_array("a.str"), (std::vector<std::string>{"", "\xe2\x96\x81the", std::string(100, 'x')}));
  EXPECT_THROW(f->get_float_array("a.str"), Error);
  EXPECT_THROW(f->get_string_array("a.i32"), Error);
  const g::Value* nested = f->find("a.nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->arr_size(), 2u);
  EXPECT_EQ(nested->arr_at(0).arr_at(1).as_int(), 2);
  EXPECT_EQ(nested->arr_at(1).arr_at(0).s, "z");
  EXPECT_EQ(f->find("a.i8")->to_display(), "[2 x i8] [-128, 127]");
  // Written again from what was read: the same bytes.
  g::Writer again;
  for (const auto& [k, v] : f->metadata()) again.set(k, v);
  const auto p2 = (dir / "again.gguf").string();
  again.write(p2);
  EXPECT_EQ(ts::read_file(p), ts::read_file(p2));
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
