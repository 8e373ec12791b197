// llama2.c checkpoints: fp32 weights in a fixed order; RoPE on adjacent pairs.
#include <filesystem>

#include "core/error.h"
#include "formats/llama2c.h"
#include "model/loader_internal.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::detail {

void load_llama2c(Model& m, const std::string& path, const LoadOptions& opt) {
  llama2c::Checkpoint ck = llama2c::open(path, opt.use_mmap);
  const auto& h = ck.h;
  ModelConfig& c = m.cfg;
  c.arch = "llama";
  c.name = std::filesystem::path(path).stem().string();
  c.n_vocab = h.vocab_size;
  c.dim = h.dim;
  c.hidden_dim = h.hidden_dim;
  c.n_layers = h.n_layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.head_dim = h.dim / h.n_heads;
  c.context_length = h.seq_len;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_style = RopeStyle::Interleaved;
  c.tied_embeddings = ck.shared_classifier;
  m.files.push_back(ck.file);

  auto add = [&](const std::string& name, const float* p, std::vector<uint64_t> ne) {
    uint64_t n = 1;
    for (auto d : ne) n *= d;
    m.tensors[name] = TensorRef{DType::F32, std::move(ne), reinterpret_cast<const uint8_t*>(p), n * 4};
  };
  const uint64_t dim = h.dim, hid = h.hidden_dim, kv = ck.kv_dim(), V = c.n_vocab;
  add("token_embd.weight", ck.token_embedding, {dim, V});
  add("output_norm.weight", ck.rms_final, {dim});
  if (!ck.shared_classifier) add("output.weight", ck.wcls, {dim, V});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    const uint64_t l = static_cast<uint64_t>(i);
    add(p + "attn_norm.weight", ck.rms_att + l * dim, {dim});
    add(p + "attn_q.weight", ck.wq + l * dim * dim, {dim, dim});
    add(p + "attn_k.weight", ck.wk + l * kv * dim, {dim, kv});
    add(p + "attn_v.weight", ck.wv + l * kv * dim, {dim, kv});
    add(p + "attn_output.weight", ck.wo + l * dim * dim, {dim, dim});
    add(p + "ffn_norm.weight", ck.rms_ffn + l * dim, {dim});
    add(p + "ffn_gate.weight", ck.w1 + l * hid * dim, {dim, hid});
    add(p + "ffn_down.weight", ck.w2 + l * dim * hid, {hid, dim});
    add(p + "ffn_up.weight", ck.w3 + l * hid * dim, {dim, hid});
  }
  m.info.emplace_back("llama2c.shared_classifier", ck.shared_classifier ? "true" : "false");

  if (!opt.load_tokenizer || !opt.tokenizer_path.empty()) return;  // load_model applies a --tokenizer
  // llama2.c's run looks for tokenizer.bin; accept it beside the checkpoint.
  const auto beside = std::filesystem::path(path).parent_path() / "tokenizer.bin";
  if (!std::filesystem::exists(beside)) return;
  m.tokenizer = Tokenizer::from_llama2c(beside.string());
  if (m.tokenizer->n_vocab() != c.n_vocab)
    fail("{}: tokenizer {} has {} tokens but the model has {}", path, beside.string(), m.tokenizer->n_vocab(), c.n_vocab);
}

}  // namespace pocketllm::detail
