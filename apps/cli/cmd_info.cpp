// pocketllm info: what a model file is, without running it.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/command.h"
#include "cli/common_options.h"
#include "cli/hub_model.h"
#include "formats/gguf.h"
#include "kernels/int_weights.h"
#include "kernels/linear.h"
#include "model/arch/family.h"
#include "tokenizer/tokenizer.h"
#include "weights/file_type.h"

namespace pocketllm::cli {
namespace {

struct InfoOptions {
  std::string model, tokenizer;
  std::string hf_repo;
  std::vector<std::string> hf_files;
  bool all_keys = false;
};

std::string human_count(double n) {
  const char* units[] = {"", " K", " M", " B"};
  int u = 0;
  while (n >= 1000 && u < 3) {
    n /= 1000;
    ++u;
  }
  return fmt::format("{:.2f}{}", n, units[u]);
}

void print_tokenizer(const Tokenizer* t) {
  if (!t) {
    std::printf("tokenizer:       none (pass --tokenizer FILE)\n");
    return;
  }
  std::printf("tokenizer:       %s (pre %s), %d tokens, BOS %d, EOS %d, add BOS %s\n", t->model_name().c_str(),
              t->pre_name().c_str(), t->n_vocab(), t->bos(), t->eos(), t->add_bos() ? "yes" : "no");
}

void print_chat_template(const std::string& tmpl) {
  std::printf("chat template:   %s\n", tmpl.empty() ? "none" : fmt::format("yes ({} chars)", tmpl.size()).c_str());
}

// A GGUF with a vocabulary and no model (llama.cpp's ggml-vocab-*.gguf): what it holds.
bool describe_vocab_only(const InfoOptions& o) {
  std::error_code ec;
  if (std::filesystem::is_directory(o.model, ec) || std::filesystem::path(o.model).extension() != ".gguf") return false;
  auto f = gguf::File::open(o.model);
  if (f->tensor("token_embd.weight") || !f->find("tokenizer.ggml.model")) return false;
  auto tok = o.tokenizer.empty() ? Tokenizer::from_gguf(*f) : Tokenizer::load(o.tokenizer);
  std::printf("file:            %s (GGUF, %.2f MiB)\n", o.model.c_str(), static_cast<double>(f->mapping()->size()) / 1048576.0);
  std::printf("contents:        vocabulary only (no weights): use it with tokenize, detokenize, template, synth "
              "or --tokenizer\n");
  print_tokenizer(tok.get());
  print_chat_template(f->get_string("tokenizer.chat_template").value_or(""));
  if (o.all_keys)
    for (auto& [k, v] : f->metadata()) std::printf("  %s = %s\n", k.c_str(), v.to_display().c_str());
  return true;
}

// What the activations of the weight matrices are: only quantized integer weights have int8 ones.
std::string describe_activations(const Model& m) {
  // Integer kernels take int8 activations (Q4_0, Q8_0, pocketllm's types, and on tables
  // with kernels/ggml_int.h kernels Q4_K, Q5_K, Q6_K, IQ4_XS, Q5_0); other quantized
  // types go through the float path: rows dequantized as read, float activations.
  std::set<std::string> int_types, float_path_types;
  for (auto& [name, t] : m.tensors) {
    if (t.ne.size() < 2 || t.type == DType::F32 || t.type == DType::F16 || t.type == DType::BF16) continue;
    (int8_activations(t.type) ? int_types : float_path_types).insert(dtype_name(t.type));
  }
  const std::string float_path =
      float_path_types.empty() ? "" : fmt::format("{} rows dequantized as read", fmt::join(float_path_types, ", "));
  if (int_types.empty()) return float_path.empty() ? "float (float weights)" : "float (" + float_path + ")";
  if (m.act == ActPrecision::Float) return "float (integer weights dequantized in the kernels, W4A16)";
  std::string s = m.act_scales.empty()
                      ? "int8, per token (dynamic ranges)"
                      : fmt::format("int8, static ranges for {} matrices (quantize --act static)", m.act_scales.size());
  if (!float_path.empty()) s += fmt::format(" for {}; float for {}", fmt::join(int_types, ", "), float_path);
  return s;
}

// general.file_type (the mix llama-quantize made, e.g. 15 = Q4_K_M), when the file says.
std::optional<uint32_t> file_type(const Model& m) {
  for (auto& [k, v] : m.info) {
    uint32_t id = 0;
    if (k == "general.file_type" && std::from_chars(v.data(), v.data() + v.size(), id).ec == std::errc()) return id;
  }
  return std::nullopt;
}

int run(const InfoOptions& o) {
  if (describe_vocab_only(o)) return 0;
  LoadOptions lo;
  lo.tokenizer_path = o.tokenizer;
  auto m = load_model(o.model, lo);
  const ModelConfig& c = m->cfg;
  const char* fmt_name = m->format == ModelFormat::GGUF ? "GGUF" : m->format == ModelFormat::HuggingFace ? "Hugging Face folder" : "llama2.c checkpoint";
  std::printf("file:            %s (%s, %.2f MiB)\n", o.model.c_str(), fmt_name, m->file_bytes / 1048576.0);
  std::printf("architecture:    %s\n", c.arch.c_str());
  std::printf("family:          %s\n", describe_family(*m).c_str());
  if (!c.name.empty()) std::printf("name:            %s\n", c.name.c_str());
  std::printf("parameters:      %s (%llu)\n", human_count(static_cast<double>(m->n_params())).c_str(),
              static_cast<unsigned long long>(m->n_params()));
  std::printf("vocab size:      %lld\n", static_cast<long long>(c.n_vocab));
  std::printf("context length:  %lld\n", static_cast<long long>(c.context_length));
  std::printf("hidden size:     %lld\n", static_cast<long long>(c.dim));
  std::printf("FFN size:        %lld\n", static_cast<long long>(c.hidden_dim));
  std::printf("layers:          %lld\n", static_cast<long long>(c.n_layers));
  std::printf("heads:           %lld (KV heads %lld, head dim %lld)\n", static_cast<long long>(c.n_heads),
              static_cast<long long>(c.n_kv_heads), static_cast<long long>(c.head_dim));
  std::printf("rope:            theta %g, %s pairs%s\n", c.rope_theta,
              c.rope_style == RopeStyle::Interleaved ? "interleaved" : "half-split (neox)",
              c.rope_llama3.enabled || !m->w.rope_freq_factors.empty() ? ", llama3 scaling" : "");
  std::printf("norm eps:        %g\n", c.norm_eps);
  std::printf("embeddings:      %s\n", c.tied_embeddings ? "tied (output = token embedding)" : "separate output head");
  std::map<std::string, int> types;
  for (auto& [name, t] : m->tensors) types[dtype_name(t.type)]++;
  std::string tl;
  for (auto& [k, v] : types) tl += fmt::format("{}{}: {}", tl.empty() ? "" : ", ", k, v);
  std::printf("tensors:         %zu (%s)\n", m->tensors.size(), tl.c_str());
  if (const auto ft = file_type(*m))
    std::printf("file type:       %s (general.file_type %u)\n", ggml_file_type_name(*ft).value_or("unknown").c_str(), *ft);
  std::printf("activations:     %s\n", describe_activations(*m).c_str());
  print_tokenizer(m->tokenizer.get());
  print_chat_template(m->chat_template);
  std::printf("tensor types:\n");
  for (auto& [name, t] : m->tensors)
    std::printf("  %-36s %-8s [%s]\n", name.c_str(), dtype_name(t.type).c_str(), fmt::format("{}", fmt::join(t.ne, ", ")).c_str());
  if (o.all_keys)
    for (auto& [k, v] : m->info) std::printf("  %s = %s\n", k.c_str(), v.c_str());
  return 0;
}

RegisterCommand register_info({"info", "Describe a model: architecture, sizes, tensor types, tokenizer, chat template", 70,
                     [](CLI::App& sub) {
                       auto o = std::make_shared<InfoOptions>();
                       sub.add_option("model", o->model, "GGUF file (model or vocab-only), Hugging Face folder, or llama2.c checkpoint");
                       add_hf_options(sub, o->hf_repo, o->hf_files);
                       sub.add_option("--tokenizer", o->tokenizer, tokenizer_help());
                       sub.add_flag("--all", o->all_keys, "Also list every metadata key");
                       return std::function<int()>([o] {
                         resolve_hf_model(o->model, o->hf_repo, o->hf_files);
                         return run(*o);
                       });
                     }});

}  // namespace
}  // namespace pocketllm::cli
