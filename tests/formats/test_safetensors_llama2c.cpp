#include <gtest/gtest.h>

#include <cstring>

#include "core/error.h"
#include "formats/llama2c.h"
#include "formats/safetensors.h"
#include "support/test_support.h"

using namespace pocketllm;
namespace ts = testsupport;

namespace {
template <class F>
void expect_load_error(F&& f, const std::string& needle) {
  try {
    f();
    FAIL() << "no error, expected: " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}
std::string st_file(const std::string& header, size_t data_bytes) {
  std::string s;
  uint64_t n = header.size();
  s.append(reinterpret_cast<char*>(&n), 8);
  s += header;
  s += std::string(data_bytes, '\0');
  return s;
}
}  // namespace

TEST(Safetensors, RoundTrip) {
  auto dir = ts::temp_dir("st");
  std::vector<float> a = {1, 2, 3, 4, 5, 6};
  std::vector<uint16_t> b = {0x3c00, 0x4000};
  safetensors::write((dir / "model.safetensors").string(),
                     {{"a", "F32", {2, 3}, a.data(), 24}, {"b", "F16", {2}, b.data(), 4}}, {{"format", "pt"}});
  auto ar = safetensors::Archive::open(dir.string());
  ASSERT_EQ(ar.tensors().size(), 2u);
  const auto* t = ar.find("a");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(t->data, a.data(), 24), 0);
  EXPECT_EQ(ar.metadata.at("format"), "pt");
}

TEST(Safetensors, ShardedIndex) {
  auto dir = ts::temp_dir("st-shard");
  std::vector<float> a = {1, 2}, b = {3, 4, 5};
  safetensors::write((dir / "s1.safetensors").string(), {{"a", "F32", {2}, a.data(), 8}});
  safetensors::write((dir / "s2.safetensors").string(), {{"b", "F32", {3}, b.data(), 12}});
  ts::write_file(dir / "model.safetensors.index.json",
                 R"({"metadata":{},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})");
  auto ar = safetensors::Archive::open(dir.string());
  EXPECT_EQ(ar.tensors().size(), 2u);
  EXPECT_EQ(ar.find("b")->shape[0], 3u);
}

TEST(Safetensors, RejectsMalformedFiles) {
  auto dir = ts::temp_dir("st-bad");
  auto p = (dir / "x.safetensors").string();
  ts::write_file(p, "abc");
  expect_load_error([&] { safetensors::Archive::open(p); }, "too short");
  std::string huge(8, '\xff');
  ts::write_file(p, huge + "{}");
  expect_load_error([&] { safetensors::Archive::open(p); }, "header length");
  ts::write_file(p, st_file("{not json", 0));
  expect_load_error([&] { safetensors::Archive::open(p); }, "corrupt safetensors header");
  ts::write_file(p, st_file(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
  expect_load_error([&] { safetensors::Archive::open(p); }, "past the end");
  ts::write_file(p, st_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16));
  expect_load_error([&] { safetensors::Archive::open(p); }, "shape needs");
  ts::write_file(p, st_file(R"({"a":{"dtype":"Q9","shape":[3],"data_offsets":[0,12]}})", 16));
  expect_load_error([&] { safetensors::Archive::open(p); }, "unknown dtype");
  ts::write_file(p, st_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,12]}})", 16));
  expect_load_error([&] { safetensors::Archive::open(p); }, "overflowing shape");
}

TEST(Llama2c, ReadsStoriesHeader) {
  auto ck = llama2c::open((ts::shared_data() / "models/stories260K/stories260K.bin").string());
  EXPECT_EQ(ck.h.dim, 64);
  EXPECT_EQ(ck.h.hidden_dim, 172);
  EXPECT_EQ(ck.h.n_layers, 5);
  EXPECT_EQ(ck.h.n_kv_heads, 4);
  EXPECT_TRUE(ck.shared_classifier);
  EXPECT_EQ(ck.kv_dim(), 32);
}

TEST(Llama2c, RejectsTruncatedAndBogusFiles) {
  auto dir = ts::temp_dir("l2c");
  std::string full = ts::read_file(ts::shared_data() / "models/stories260K/stories260K.bin");
  auto p = (dir / "t.bin").string();
  ts::write_file(p, full.substr(0, full.size() / 2));
  expect_load_error([&] { llama2c::open(p); }, "truncated llama2.c checkpoint");
  ts::write_file(p, full.substr(0, 10));
  expect_load_error([&] { llama2c::open(p); }, "no header");
  std::string bogus = full.substr(0, 28);
  int32_t neg = -5;
  std::memcpy(bogus.data(), &neg, 4);
  ts::write_file(p, bogus + std::string(100, '\0'));
  expect_load_error([&] { llama2c::open(p); }, "implausible header");
}
