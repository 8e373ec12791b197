// A loaded model: hyperparameters, weights bound to the llama block layout,
// tokenizer and chat template. Weight bytes stay in the file mapping when they
// can be used as stored.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "kernels/linear.h"
#include "model/config.h"
#include "kernels/hadamard.h"

namespace pocketllm {

class Tokenizer;

struct LayerWeights {
  std::vector<float> attn_norm, ffn_norm;
  Matrix wq, wk, wv, wo;  // row views into attn_qkv when the file stores it fused (phi3)
  std::vector<float> bq, bk, bv;  // optional biases (empty when absent)
  std::vector<float> q_norm, k_norm;  // [head_dim] when cfg.qk_norm
  std::vector<float> post_attn_norm, post_ffn_norm;  // [dim] when cfg.post_norms
  Matrix w_gate, w_up, w_down;  // gate/up: row views into a fused ffn_up ([gate; up]) for phi3
  std::shared_ptr<const OrthoTransform> down_rotation;  // when cfg.online_down_rotation (shared by all layers)
};

struct ModelWeights {
  Matrix token_embd;  // [n_vocab][dim]
  std::vector<float> output_norm;
  Matrix output;      // [n_vocab][dim]; shares token_embd's bytes when tied
  std::vector<LayerWeights> layers;
  std::vector<float> rope_freq_factors;  // per pair divisors (Llama 3 GGUF rope_freqs), may be empty
  // LongRoPE divisors (GGUF rope_factors_short/long, or config.json), empty when not used.
  std::vector<float> rope_factors_short, rope_factors_long;
};

// A tensor as found in a file, named with GGUF's names (token_embd.weight,
// blk.N.attn_q.weight, ...) whatever the source format.
struct TensorRef {
  DType type = DType::F32;
  std::vector<uint64_t> ne;  // innermost first
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
};

enum class ModelFormat { GGUF, HuggingFace, Llama2c };

// GGUF keys of static activation scales (quantize --act static): parallel arrays of
// weight tensor names and the int8 scale of each one's input.
inline constexpr const char* kActStaticTensorsKey = "pocketllm.act_static.tensors";
inline constexpr const char* kActStaticScalesKey = "pocketllm.act_static.scales";

struct Model {
  ModelConfig cfg;
  ModelWeights w;
  ModelFormat format = ModelFormat::GGUF;
  std::string path;
  std::shared_ptr<Tokenizer> tokenizer;
  std::string chat_template;  // empty when the model ships none
  ActPrecision act = ActPrecision::Int8;
  // Static activation scales by weight tensor name (quantize --act static); a
  // matrix not listed quantizes its activations per token.
  std::map<std::string, float> act_scales;
  // Everything the weights point into: file mappings and converted copies.
  std::vector<std::shared_ptr<MappedFile>> files;
  std::vector<std::shared_ptr<std::vector<uint8_t>>> owned;
  // Huge-page memory the streamed integer weights are copied into (null: used in place).
  std::shared_ptr<HugeArena> arena;
  // The named tensors as loaded (before binding), for info/convert/quantize.
  std::map<std::string, TensorRef> tensors;
  // Extra metadata worth showing (GGUF key/values rendered, HF config keys).
  std::vector<std::pair<std::string, std::string>> info;
  uint64_t file_bytes = 0;

  uint64_t n_params() const;
  // Ids a sampler may draw: the embedding rows that have a token. Real models (and
  // `synth`) pad the embedding past the tokenizer's vocabulary; those rows are
  // never sampled. The whole embedding without a tokenizer.
  int32_t n_sampleable() const;
};

struct LoadOptions {
  bool use_mmap = true;
  // Copy the matrices decode streams (integer tiles) out of the mapped file into
  // transparent huge pages, when the kernel offers them (core/huge_buffer.h).
  bool huge_pages = true;
  std::string tokenizer_path;  // replaces the model's own tokenizer (any Tokenizer::load source)
  bool load_tokenizer = true;
};

// Loads a GGUF file, a Hugging Face folder, or a llama2.c checkpoint (detected
// from the path and the file's first bytes). Throws Error naming the path.
std::unique_ptr<Model> load_model(const std::string& path, const LoadOptions& opt = {});

}  // namespace pocketllm
