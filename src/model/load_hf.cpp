// Hugging Face folders: config.json + safetensors (single or sharded) + tokenizer files.
// Q/K rows stay in HF's layout, so RoPE pairs dim i with i + head_dim/2 (Neox).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "formats/safetensors.h"
#include "model/chat_template_source.h"
#include "model/loader_internal.h"
#include "tokenizer/tokenizer.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace pocketllm::detail {

namespace {
json read_json(const fs::path& p) {
  auto mf = MappedFile::open(p.string(), false);
  try {
    return json::parse(mf->data(), mf->data() + mf->size());
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", p.string(), e.what());
  }
}

int64_t get_int(const json& j, const std::string& key, const fs::path& src, std::optional<int64_t> dflt = {}) {
  if (j.contains(key) && j[key].is_number_integer()) return j[key].get<int64_t>();
  if (j.contains(key) && !j[key].is_null()) fail("{}: '{}' should be an integer", src.string(), key);
  if (dflt) return *dflt;
  fail("{}: missing '{}'", src.string(), key);
}

double get_num(const json& j, const std::string& key, double dflt, const fs::path& src) {
  if (!j.contains(key) || j[key].is_null()) return dflt;
  if (!j[key].is_number()) fail("{}: '{}' should be a number", src.string(), key);
  return j[key].get<double>();
}

// HF tensor name -> GGUF tensor name; empty when the tensor is not used.
std::string gguf_name(const std::string& hf) {
  static const std::pair<const char*, const char*> fixed[] = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"lm_head.weight", "output.weight"}};
  for (auto& [a, b] : fixed)
    if (hf == a) return b;
  static const std::regex layer(R"(model\.layers\.(\d+)\.(.+))");
  static const std::pair<const char*, const char*> per_layer[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  std::smatch mm;
  if (std::regex_match(hf, mm, layer))
    for (auto& [a, b] : per_layer)
      if (mm[2] == a) return "blk." + mm[1].str() + "." + b;
  return "";
}
}  // namespace

void load_hf(Model& m, const std::string& folder, const LoadOptions& opt) {
  const fs::path dir(folder);
  const fs::path cfg_path = dir / "config.json";
  if (!fs::exists(cfg_path)) fail("{}: not a Hugging Face model folder (no config.json)", folder);
  json j = read_json(cfg_path);
  if (!j.is_object()) fail("{}: config.json is not a JSON object", cfg_path.string());
  ModelConfig& c = m.cfg;
  std::string mt = j.value("model_type", "");
  if (mt == "mistral") mt = "llama";  // same block, same tensor names
  check_architecture(mt, cfg_path.string());
  c.arch = mt;
  c.name = dir.filename().string();
  c.dim = get_int(j, "hidden_size", cfg_path);
  c.hidden_dim = get_int(j, "intermediate_size", cfg_path);
  c.n_layers = get_int(j, "num_hidden_layers", cfg_path);
  c.n_heads = get_int(j, "num_attention_heads", cfg_path);
  c.n_kv_heads = get_int(j, "num_key_value_heads", cfg_path, c.n_heads);
  c.head_dim = get_int(j, "head_dim", cfg_path, c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.n_vocab = get_int(j, "vocab_size", cfg_path);
  c.context_length = get_int(j, "max_position_embeddings", cfg_path, 2048);
  c.norm_eps = static_cast<float>(get_num(j, "rms_norm_eps", 1e-6, cfg_path));
  c.rope_theta = static_cast<float>(get_num(j, "rope_theta", 10000.0, cfg_path));
  c.rope_style = RopeStyle::Neox;
  c.tied_embeddings = j.value("tie_word_embeddings", false);
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json& rs = j["rope_scaling"];
    std::string type = rs.value("rope_type", rs.value("type", ""));
    if (type == "llama3") {
      c.rope_llama3.enabled = true;
      c.rope_llama3.factor = static_cast<float>(get_num(rs, "factor", 8.0, cfg_path));
      c.rope_llama3.low_freq_factor = static_cast<float>(get_num(rs, "low_freq_factor", 1.0, cfg_path));
      c.rope_llama3.high_freq_factor = static_cast<float>(get_num(rs, "high_freq_factor", 4.0, cfg_path));
      c.rope_llama3.original_context = get_int(rs, "original_max_position_embeddings", cfg_path, 8192);
    } else if (!type.empty() && type != "default") {
      fail("{}: rope_scaling type '{}' is not supported", cfg_path.string(), type);
    }
  }

  auto archive = safetensors::Archive::open(folder, opt.use_mmap);
  for (auto& f : archive.files()) m.files.push_back(f);
  for (auto& [name, t] : archive.tensors()) {
    std::string g = gguf_name(name);
    if (g.empty()) continue;
    auto dt = safetensors::to_dtype(t.dtype);
    if (!dt) fail("{}: tensor '{}' has dtype {}; only F32, F16 and BF16 are supported", t.file, name, t.dtype);
    std::vector<uint64_t> ne(t.shape.rbegin(), t.shape.rend());
    m.tensors[g] = TensorRef{*dt, std::move(ne), t.data, t.nbytes};
  }
  if (c.tied_embeddings) m.tensors.erase("output.weight");
  c.tied_embeddings = !m.tensors.count("output.weight");
  m.info.emplace_back("config.model_type", j.value("model_type", ""));

  m.chat_template = read_model_chat_template(folder);
  if (!opt.load_tokenizer) return;
  if (!opt.tokenizer_path.empty()) m.tokenizer = Tokenizer::load(opt.tokenizer_path);
  else if (fs::exists(dir / "tokenizer.json")) m.tokenizer = Tokenizer::from_hf(folder);
}

}  // namespace pocketllm::detail
