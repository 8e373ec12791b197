// GGUF models as llama.cpp's converter writes them (<arch>.* hyperparameter keys).
#include <cmath>

#include "core/error.h"
#include "formats/gguf.h"
#include "formats/gguf_split.h"
#include "model/arch/arch.h"
#include "model/loader_internal.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::detail {

namespace {
void read_static_act_scales(const gguf::File& f, Model& m) {
  // Two parallel arrays (docs/FORMAT.md): tensor names and their int8 activation scales.
  const auto names = f.get_string_array(kActStaticTensorsKey);
  const auto scales = f.get_float_array(kActStaticScalesKey);
  const bool marked = f.get_string("pocketllm.activations").value_or("") == "int8-static";
  if (!names && !scales) {
    if (marked) fail("{}: pocketllm.activations is int8-static but the file has no {}", f.path(), kActStaticScalesKey);
    return;
  }
  if (!names || !scales || names->size() != scales->size())
    fail("{}: {} and {} must both be present and of equal length", f.path(), kActStaticTensorsKey, kActStaticScalesKey);
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string& n = (*names)[i];
    const float s = (*scales)[i];
    if (!m.tensors.count(n)) fail("{}: static activation scale for '{}', which is not a tensor of the file", f.path(), n);
    if (!(s > 0) || !std::isfinite(s)) fail("{}: static activation scale {} of '{}' is not a finite positive number", f.path(), s, n);
    if (!m.act_scales.emplace(n, s).second) fail("{}: two static activation scales for '{}'", f.path(), n);
  }
  if (m.act != ActPrecision::Int8) fail("{}: static activation scales need int8 activations", f.path());
}

}  // namespace

void load_gguf(Model& m, const std::string& path, const LoadOptions& opt) {
  // A split model: the first part holds the metadata, every part some tensors.
  const auto parts = gguf::open_split(path, opt.use_mmap);
  const gguf::File* f = parts[0].get();
  for (auto& p : parts) m.files.push_back(p->mapping());
  ModelConfig& c = m.cfg;
  c.arch = f->get_string("general.architecture").value_or("");
  if (c.arch.empty()) fail("{}: no general.architecture key (a vocab-only GGUF is not a model)", path);
  const Architecture& arch = architecture(c.arch, path);
  c.name = f->get_string("general.name").value_or("");
  const std::string a = c.arch + ".";
  auto req = [&](const std::string& key) {
    auto v = f->get_int(a + key);
    if (!v) fail("{}: missing key '{}{}'", path, a, key);
    return *v;
  };
  c.dim = req("embedding_length");
  c.hidden_dim = req("feed_forward_length");
  c.n_layers = req("block_count");
  c.n_heads = req("attention.head_count");
  c.n_kv_heads = f->get_int(a + "attention.head_count_kv").value_or(c.n_heads);
  c.context_length = f->get_int(a + "context_length").value_or(2048);
  c.head_dim = f->get_int(a + "attention.key_length").value_or(c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.norm_eps = static_cast<float>(f->get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_theta = static_cast<float>(f->get_float(a + "rope.freq_base").value_or(10000.0));
  c.rope_style = arch.gguf_rope;
  if (auto rd = f->get_int(a + "rope.dimension_count"); rd && *rd != c.head_dim) c.rope_dim = *rd;
  if (auto rs = f->get_string(a + "rope.scaling.type"); rs && *rs == "linear") {
    c.rope_linear_factor = static_cast<float>(f->get_float(a + "rope.scaling.factor").value_or(1.0));
  } else if (rs && *rs != "none" && *rs != "llama3") {
    fail("{}: rope scaling type '{}' is not supported", path, *rs);
  }
  if (arch.from_gguf) arch.from_gguf(c, GgufKeys{*f, a, path});
  if (auto rot = f->get_string("pocketllm.online_rotation")) {  // quant/rotate.h
    if (*rot != "ffn_down") fail("{}: pocketllm.online_rotation '{}' is not supported (this build knows 'ffn_down')", path, *rot);
    c.online_down_rotation = true;
  }
  for (auto& p : parts)
    for (auto& t : p->tensors()) m.tensors[t.name] = TensorRef{t.type, t.ne, t.data, t.nbytes};
  auto emb = m.tensors.find("token_embd.weight");
  if (emb == m.tensors.end() || emb->second.ne.size() != 2) fail("{}: missing tensor 'token_embd.weight'", path);
  c.n_vocab = static_cast<int64_t>(emb->second.ne[1]);
  c.tied_embeddings = !m.tensors.count("output.weight");
  m.chat_template = f->get_string("tokenizer.chat_template").value_or("");
  if (auto act = f->get_string("pocketllm.activations")) m.act = (*act == "float") ? ActPrecision::Float : ActPrecision::Int8;
  read_static_act_scales(*f, m);
  for (auto& [k, v] : f->metadata())
    if (!k.starts_with("tokenizer.ggml.") && k != "tokenizer.chat_template") m.info.emplace_back(k, v.to_display());
  if (opt.load_tokenizer && opt.tokenizer_path.empty() && f->find("tokenizer.ggml.model"))
    m.tokenizer = Tokenizer::from_gguf(*f);
}

}  // namespace pocketllm::detail
