// Hugging Face folders: config.json + safetensors (single or sharded) + tokenizer files.
// Q/K rows stay in HF's layout, so RoPE pairs dim i with i + head_dim/2 (Neox).
// Tensors are renamed to GGUF names (model/arch/) and, for gemma, norm weights
// become 1 + w as in GGUF, so everything after loading sees one convention.
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/bounded_json.h"
#include "core/error.h"
#include "formats/safetensors.h"
#include "model/arch/arch.h"
#include "model/chat_template_source.h"
#include "model/loader_internal.h"
#include "tokenizer/tokenizer.h"
#include "weights/row_codec.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace pocketllm::detail {

namespace {
json read_json(const fs::path& p) {
  auto mf = MappedFile::open(p.string(), false);
  try {
    return parse_json_bounded(std::string_view(reinterpret_cast<const char*>(mf->data()), mf->size()), p.string());
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", p.string(), e.what());
  }
}

// Multimodal checkpoints (gemma3) keep the text model under a prefix.
std::string strip_text_model_prefix(const std::string& name) {
  static const std::pair<const char*, const char*> prefixes[] = {{"language_model.model.", "model."},
                                                                 {"model.language_model.", "model."},
                                                                 {"language_model.lm_head.", "lm_head."}};
  for (auto& [from, to] : prefixes)
    if (name.starts_with(from)) return to + name.substr(std::char_traits<char>::length(from));
  return name;
}

void read_rope_scaling(ModelConfig& c, const HfConfig& k) {
  if (!k.has("rope_scaling")) return;
  if (!k.j["rope_scaling"].is_object()) fail("{}: 'rope_scaling' should be an object", k.source);
  const HfConfig rs{k.j["rope_scaling"], k.source};
  const std::string type = rs.string("rope_type", rs.string("type", ""));
  if (type == "llama3") {
    c.rope_llama3.enabled = true;
    c.rope_llama3.factor = static_cast<float>(rs.number("factor", 8.0));
    c.rope_llama3.low_freq_factor = static_cast<float>(rs.number("low_freq_factor", 1.0));
    c.rope_llama3.high_freq_factor = static_cast<float>(rs.number("high_freq_factor", 4.0));
    c.rope_llama3.original_context = rs.integer("original_max_position_embeddings", 8192);
  } else if (type == "linear") {
    c.rope_linear_factor = static_cast<float>(rs.number("factor", 1.0));
  } else if ((type == "longrope" || type == "su") && architecture(c.arch, k.source).hf_longrope) {
    // read by arch/phi3.cpp
  } else if (!type.empty() && type != "default") {
    fail("{}: rope_scaling type '{}' is not supported", k.source, type);
  }
}

void add_f32_tensor(Model& m, const std::string& name, const std::vector<float>& v) {
  if (v.empty()) return;
  auto buf = std::make_shared<std::vector<uint8_t>>(v.size() * sizeof(float));
  std::memcpy(buf->data(), v.data(), buf->size());
  m.tensors[name] = TensorRef{DType::F32, {v.size()}, buf->data(), buf->size()};
  m.owned.push_back(std::move(buf));
}

// 1 + w for each RMSNorm weight, as an owned f32 tensor.
void add_one_to_norms(Model& m) {
  for (auto& [name, t] : m.tensors) {
    if (!name.ends_with("norm.weight") || t.ne.size() != 1) continue;
    auto buf = std::make_shared<std::vector<uint8_t>>(t.ne[0] * sizeof(float));
    auto* f = reinterpret_cast<float*>(buf->data());
    ggml_row_to_f32(t.type, t.data, f, static_cast<int64_t>(t.ne[0]));
    for (uint64_t i = 0; i < t.ne[0]; ++i) f[i] += 1.0f;
    t = TensorRef{DType::F32, t.ne, buf->data(), buf->size()};
    m.owned.push_back(std::move(buf));
  }
}
}  // namespace

void load_hf(Model& m, const std::string& folder, const LoadOptions& opt) {
  const fs::path dir(folder);
  const fs::path cfg_path = dir / "config.json";
  if (!fs::exists(cfg_path)) fail("{}: not a Hugging Face model folder (no config.json)", folder);
  const json top = read_json(cfg_path);
  if (!top.is_object()) fail("{}: config.json is not a JSON object", cfg_path.string());
  const std::string mt = HfConfig{top, cfg_path.string()}.string("model_type", "");
  const Architecture* arch = architecture_for_hf_type(mt);
  if (!arch) {
    std::string list;
    for (auto& a : architectures())
      for (auto& t : a.hf_types) list += (list.empty() ? "" : ", ") + t;
    fail("{}: unsupported architecture '{}' (supported: {})", cfg_path.string(), mt, list);
  }
  // gemma3's multimodal config keeps the text model's keys in text_config.
  const json& j = top.contains("text_config") && top["text_config"].is_object() ? top["text_config"] : top;
  const HfConfig k{j, cfg_path.string()};
  ModelConfig& c = m.cfg;
  c.arch = arch->name;
  c.name = dir.filename().string();
  c.dim = k.integer("hidden_size");
  c.hidden_dim = k.integer("intermediate_size");
  c.n_layers = k.integer("num_hidden_layers");
  c.n_heads = k.integer("num_attention_heads");
  c.n_kv_heads = k.integer("num_key_value_heads", c.n_heads);
  c.head_dim = k.integer("head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.n_vocab = k.integer("vocab_size");
  c.context_length = k.integer("max_position_embeddings", 2048);
  c.norm_eps = static_cast<float>(k.number("rms_norm_eps", 1e-6));
  c.rope_theta = static_cast<float>(k.number("rope_theta", 10000.0));
  c.rope_style = RopeStyle::Neox;
  c.tied_embeddings = k.boolean("tie_word_embeddings", HfConfig{top, cfg_path.string()}.boolean("tie_word_embeddings", false));
  read_rope_scaling(c, k);
  if (arch->from_hf) arch->from_hf(c, k);

  auto archive = safetensors::Archive::open(folder, opt.use_mmap);
  for (auto& f : archive.files()) m.files.push_back(f);
  for (auto& [name, t] : archive.tensors()) {
    std::string g = hf_to_gguf_name(*arch, strip_text_model_prefix(name));
    if (g.empty()) continue;
    auto dt = safetensors::to_dtype(t.dtype);
    if (!dt) fail("{}: tensor '{}' has dtype {}; only F32, F16 and BF16 are supported", t.file, name, t.dtype);
    std::vector<uint64_t> ne(t.shape.rbegin(), t.shape.rend());
    m.tensors[g] = TensorRef{*dt, std::move(ne), t.data, t.nbytes};
  }
  if (arch->hf_norms_store_w) add_one_to_norms(m);
  // LongRoPE factor lists become the tensors llama.cpp's GGUF files carry.
  add_f32_tensor(m, "rope_factors_short.weight", c.rope_longrope.short_factor);
  add_f32_tensor(m, "rope_factors_long.weight", c.rope_longrope.long_factor);
  if (c.tied_embeddings) m.tensors.erase("output.weight");
  c.tied_embeddings = !m.tensors.count("output.weight");
  m.info.emplace_back("config.model_type", mt);

  m.chat_template = read_model_chat_template(folder);
  if (opt.load_tokenizer && opt.tokenizer_path.empty() && fs::exists(dir / "tokenizer.json"))
    m.tokenizer = Tokenizer::from_hf(folder);  // load_model applies a --tokenizer override
}

}  // namespace pocketllm::detail
