#include "support/peaked_model.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "core/splitmix.h"
#include "quantizer/export_gguf.h"
#include "model/model.h"
#include "support/test_support.h"
#include "tokenizer/tokenizer.h"

using namespace pocketllm;

namespace testsupport {

namespace {
constexpr int64_t kDim = 256, kFfn = 512, kLayers = 4, kHeads = 8, kKvHeads = 2, kHeadDim = 32;

// Roughly normal(0, 1): the sum of four uniforms on [-1, 1) (24-bit, exact) times
// sqrt(3) / 2. Every step is an exactly rounded IEEE operation.
class Noise {
 public:
  explicit Noise(uint64_t seed) : s_(seed) {}
  float next() {
    float sum = 0;
    for (int i = 0; i < 4; ++i) sum += static_cast<float>(static_cast<int32_t>(splitmix64(s_) >> 40) - (1 << 23)) * 0x1p-23f;
    return sum * 0.8660254f;
  }

 private:
  uint64_t s_;
};

// A [rows][cols] matrix of noise times `scale`, as F32 bytes.
std::vector<float> noise_matrix(uint64_t seed, int64_t rows, int64_t cols, float scale) {
  Noise n(seed);
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (auto& v : w) v = n.next() * scale;
  return w;
}

// log2(c + 1) by its exponent plus a linear mantissa (exact for the counts here).
float approx_log2(uint64_t c) {
  const uint64_t x = c + 1;
  const int e = std::bit_width(x) - 1;
  return static_cast<float>(e) + (static_cast<float>(x) / static_cast<float>(uint64_t{1} << e) - 1.0f);
}
}  // namespace

void write_peaked_model(const std::filesystem::path& out) {
  auto m = std::make_unique<Model>();
  m->tokenizer = Tokenizer::load((shared_data() / "families" / "llama-tied.gguf").string());
  ModelConfig& c = m->cfg;
  c.arch = "llama";
  c.name = "pocketllm peaked test model";
  c.n_vocab = m->tokenizer->n_vocab();
  c.dim = kDim;
  c.hidden_dim = kFfn;
  c.n_layers = kLayers;
  c.n_heads = kHeads;
  c.n_kv_heads = kKvHeads;
  c.head_dim = kHeadDim;
  c.context_length = 512;
  c.rope_theta = 10000.0f;
  m->format = ModelFormat::GGUF;
  m->path = "peaked-test-model";

  // Unigram prior: token counts in the calibration text (not the evaluation text).
  const std::vector<int32_t> calib = m->tokenizer->encode(read_file(shared_data() / "text" / "calib.txt"), false, false);
  std::vector<uint64_t> counts(static_cast<size_t>(c.n_vocab), 0);
  for (int32_t id : calib) ++counts[id];

  uint64_t seed = 24;
  auto add = [&](const std::string& name, std::vector<uint64_t> ne, std::vector<float> v) {
    auto buf = std::make_shared<std::vector<uint8_t>>(v.size() * 4);
    std::memcpy(buf->data(), v.data(), buf->size());
    m->tensors[name] = TensorRef{DType::F32, std::move(ne), buf->data(), buf->size()};
    m->owned.push_back(std::move(buf));
  };
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  // Dimension 0 of every embedding is a large constant: it survives the blocks'
  // small updates and the final norm, and carries the unigram prior to the head.
  std::vector<float> embd = noise_matrix(++seed, c.n_vocab, kDim, 1.0f);
  for (int64_t v = 0; v < c.n_vocab; ++v) embd[static_cast<size_t>(v * kDim)] = 4.0f;
  add("token_embd.weight", {u(kDim), u(c.n_vocab)}, embd);
  std::vector<float> head = noise_matrix(++seed, c.n_vocab, kDim, 0.015625f);  // context-dependent noise
  // Each token's most frequent successor in the calibration text: the head row
  // of a token leans towards the embeddings of the tokens it most often follows,
  // so the model predicts real next tokens with some confidence (greedy paths
  // move along the text's common bigrams instead of repeating one frequent token).
  std::vector<std::vector<uint64_t>> pairs(static_cast<size_t>(c.n_vocab), std::vector<uint64_t>(static_cast<size_t>(c.n_vocab)));
  for (size_t i = 0; i + 1 < calib.size(); ++i) ++pairs[calib[i]][calib[i + 1]];
  const float follow = 0.03125f;
  for (int64_t u = 0; u < c.n_vocab; ++u) {
    const auto& row = pairs[static_cast<size_t>(u)];
    const int64_t next = std::max_element(row.begin(), row.end()) - row.begin();
    if (row[static_cast<size_t>(next)] == 0) continue;
    for (int64_t j = 1; j < kDim; ++j) head[static_cast<size_t>(next * kDim + j)] += follow * embd[static_cast<size_t>(u * kDim + j)];
  }
  for (int64_t v = 0; v < c.n_vocab; ++v) head[static_cast<size_t>(v * kDim)] = 0.1875f * approx_log2(counts[v]);
  add("output.weight", {u(kDim), u(c.n_vocab)}, head);
  add("output_norm.weight", {u(kDim)}, std::vector<float>(kDim, 1.0f));
  const float in = 0.0625f, sharp = 0.09375f;  // 1/sqrt(256), and 1.5x that for Q and K (peaked attention)
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", {u(kDim)}, std::vector<float>(kDim, 1.0f));
    add(b + "ffn_norm.weight", {u(kDim)}, std::vector<float>(kDim, 1.0f));
    add(b + "attn_q.weight", {u(kDim), u(kHeads * kHeadDim)}, noise_matrix(++seed, kHeads * kHeadDim, kDim, sharp));
    add(b + "attn_k.weight", {u(kDim), u(kKvHeads * kHeadDim)}, noise_matrix(++seed, kKvHeads * kHeadDim, kDim, sharp));
    add(b + "attn_v.weight", {u(kDim), u(kKvHeads * kHeadDim)}, noise_matrix(++seed, kKvHeads * kHeadDim, kDim, in));
    add(b + "attn_output.weight", {u(kHeads * kHeadDim), u(kDim)}, noise_matrix(++seed, kDim, kHeads * kHeadDim, in / 2));
    add(b + "ffn_gate.weight", {u(kDim), u(kFfn)}, noise_matrix(++seed, kFfn, kDim, in));
    add(b + "ffn_up.weight", {u(kDim), u(kFfn)}, noise_matrix(++seed, kFfn, kDim, in));
    add(b + "ffn_down.weight", {u(kFfn), u(kDim)}, noise_matrix(++seed, kDim, kFfn, 0.03125f));
  }
  ExportOptions eo;
  eo.progress = false;
  eo.extra.emplace_back("general.file_type", gguf::Value::u32(0));  // all F32
  export_gguf(*m, out.string(), eo);
}

std::string sha256_file(const std::filesystem::path& p) {
  const std::string cmd = "sha256sum '" + p.string() + "'";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) throw std::runtime_error("cannot run " + cmd);
  char buf[65] = {};
  const size_t n = fread(buf, 1, 64, f);
  pclose(f);
  if (n != 64) throw std::runtime_error(cmd + " failed");
  return std::string(buf, 64);
}

}  // namespace testsupport
