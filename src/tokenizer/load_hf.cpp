// Hugging Face tokenizer.json (+ tokenizer_config.json, generation_config.json
// next to it). Supported: model BPE, either byte-level (ByteLevel / Split
// pre-tokenizers) or SentencePiece-style (Prepend+Replace normalizers or
// Metaspace, byte_fallback). Anything else is a clear error.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/hf_json_reader.h"
#include "tokenizer/tokenizer_data.h"

namespace pocketllm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kMetaspace = "\xE2\x96\x81";

json read_json(const fs::path& p) {
  auto f = MappedFile::open(p.string());
  try {
    return json::parse(reinterpret_cast<const char*>(f->data()), reinterpret_cast<const char*>(f->data()) + f->size());
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", p.string(), e.what());
  }
}

// j[key] when present with the type of fallback; fallback when missing or null.
// j as an integer of type T when it is one and fits; a float such as 1e300
// cast to an integer would be undefined behaviour.
template <class T>
std::optional<T> json_integer(const json& j) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(u);
    return std::nullopt;
  }
  if (!j.is_number_integer() || !std::in_range<T>(j.get<int64_t>())) return std::nullopt;
  return static_cast<T>(j.get<int64_t>());
}

template <class T>
T get_or(const json& j, const char* key, T fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_same_v<T, bool>) {
    return it->is_boolean() ? it->template get<bool>() : fallback;
  } else if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->template get<std::string>() : fallback;
  } else if constexpr (std::is_integral_v<T>) {
    return json_integer<T>(*it).value_or(fallback);
  } else {
    return it->is_number() ? it->template get<T>() : fallback;
  }
}

// The id at j when it is an integer in int32 range; -1 otherwise.
int32_t token_id_or_none(const json& j) { return std::max(json_integer<int32_t>(j).value_or(-1), -1); }
const json& child(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string str_or_content(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

// Flattens {"type": "Sequence", <key>: [...]} into its parts.
std::vector<json> flatten(const json& node, const char* seq_key) {
  std::vector<json> out;
  if (node.is_null()) return out;
  if (get_or(node, "type", std::string("")) == "Sequence" && node.contains(seq_key)) {
    for (const auto& n : node[seq_key]) {
      auto sub = flatten(n, seq_key);
      out.insert(out.end(), sub.begin(), sub.end());
    }
  } else {
    out.push_back(node);
  }
  return out;
}

std::string escape_regex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

struct HfFlags {
  bool byte_level = false, spm = false;
};

void parse_normalizer(const json& norm, tok::TokenizerData& d, HfFlags& kind, const std::string& src) {
  for (const auto& n : flatten(norm, "normalizers")) {
    std::string type = get_or(n, "type", std::string(""));
    if (type == "NFC") {
      d.nfc = true;
    } else if (type == "Prepend" && get_or(n, "prepend", std::string("")) == kMetaspace) {
      d.prefix = tok::PrefixScheme::Always;
      kind.spm = true;
    } else if (type == "Replace" && n.contains("pattern") && get_or(n["pattern"], "String", std::string("")) == " " &&
               get_or(n, "content", std::string("")) == kMetaspace) {
      d.escape_spaces = true;
      kind.spm = true;
    } else {
      fail("{}: unsupported normalizer \"{}\"", src, type.empty() ? n.dump() : type);
    }
  }
}

void parse_pre_tokenizer(const json& pre, tok::TokenizerData& d, HfFlags& kind, const std::string& src) {
  for (const auto& p : flatten(pre, "pretokenizers")) {
    std::string type = get_or(p, "type", std::string(""));
    if (type == "ByteLevel") {
      kind.byte_level = true;
      d.bl_add_prefix_space = get_or(p, "add_prefix_space", false);
      if (get_or(p, "use_regex", true)) d.pre_regexes.push_back(tok::gpt2_pattern() + R"(|\s+)");
    } else if (type == "Split" && d.escape_spaces && get_or(child(p, "pattern"), "String", std::string()) == " ") {
      // Gemma: a split on " " after the normalizer turned every space into "▁" never fires.
    } else if (type == "Split") {
      if (get_or(p, "behavior", std::string("")) != "Isolated" || get_or(p, "invert", false))
        fail("{}: unsupported Split pre-tokenizer (behavior {}, invert {})", src, get_or(p, "behavior", std::string("?")),
             get_or(p, "invert", false));
      const json& pat = p["pattern"];
      if (pat.contains("Regex"))
        d.pre_regexes.push_back(pat["Regex"].get<std::string>());
      else if (pat.contains("String"))
        d.pre_regexes.push_back(escape_regex(pat["String"].get<std::string>()));
      else
        fail("{}: Split pre-tokenizer without a pattern", src);
    } else if (type == "Metaspace") {
      kind.spm = true;
      d.escape_spaces = true;
      std::string scheme = get_or(p, "prepend_scheme", std::string(get_or(p, "add_prefix_space", true) ? "always" : "never"));
      d.prefix = scheme == "first" ? tok::PrefixScheme::First
                 : scheme == "never" ? tok::PrefixScheme::Never
                                     : tok::PrefixScheme::Always;
      if (get_or(p, "split", false)) fail("{}: Metaspace pre-tokenizer with split=true is not supported", src);
    } else {
      fail("{}: unsupported pre-tokenizer \"{}\"", src, type.empty() ? p.dump() : type);
    }
  }
}

void parse_decoder(const json& dec, tok::TokenizerData& d, const std::string& src) {
  d.strip_leading_space = false;
  for (const auto& p : flatten(dec, "decoders")) {
    std::string type = get_or(p, "type", std::string(""));
    if (type == "Strip") {
      if (get_or(p, "content", std::string("")) == " " && get_or(p, "start", 0) >= 1) d.strip_leading_space = true;
    } else if (type == "Metaspace") {
      std::string scheme = get_or(p, "prepend_scheme", std::string(get_or(p, "add_prefix_space", true) ? "always" : "never"));
      d.strip_leading_space = scheme != "never";
    } else if (type != "ByteLevel" && type != "Replace" && type != "ByteFallback" && type != "Fuse") {
      fail("{}: unsupported decoder \"{}\"", src, type.empty() ? p.dump() : type);
    }
  }
}

// TemplateProcessing "single": a leading/trailing SpecialToken means add BOS/EOS.
void parse_post_processor(const json& post, tok::TokenizerData& d) {
  for (const auto& p : flatten(post, "processors")) {
    if (get_or(p, "type", std::string("")) != "TemplateProcessing" || !p.contains("single")) continue;
    const json& single = p["single"];
    auto special_id = [&](const json& item) -> int32_t {
      if (!item.contains("SpecialToken")) return -1;
      std::string name = get_or(item["SpecialToken"], "id", std::string(""));
      const json& ids = child(child(child(p, "special_tokens"), name.c_str()), "ids");
      return ids.is_array() && !ids.empty() ? token_id_or_none(ids[0]) : -1;
    };
    if (!single.empty()) {
      int32_t first = special_id(single.front()), last = special_id(single.back());
      if (first >= 0) {
        d.add_bos = true;
        d.bos = first;
      }
      if (last >= 0 && single.size() > 1) {
        d.add_eos = true;
        d.eos = last;
      }
    }
  }
}

}  // namespace

namespace {
std::unique_ptr<Tokenizer> parse_hf(const std::string& path) {
  std::error_code dir_ec;
  fs::path file = fs::is_directory(path, dir_ec) ? fs::path(path) / "tokenizer.json" : fs::path(path);
  fs::path dir = file.parent_path();
  const std::string src = file.string();
  tok::HfModelTables tables;
  json tj = tok::read_tokenizer_json(src, tables);
  if (!tj.is_object() || !tj.contains("model")) fail("{}: not a tokenizer.json (no \"model\")", src);
  const json& model = tj["model"];
  std::string type = get_or(model, "type", std::string(""));
  if (type.empty() && !tables.merges.empty()) type = "BPE";
  if (type != "BPE") fail("{}: unsupported tokenizer model type \"{}\" (supported: BPE)", src, type);

  auto d = std::make_unique<tok::TokenizerData>();
  d->source = src;
  d->prefix = tok::PrefixScheme::Never;
  d->escape_spaces = false;
  d->add_bos = false;

  // Vocabulary: model.vocab plus added_tokens (which may extend it).
  if (!tables.vocab_is_object) fail("{}: model.vocab missing", src);
  int64_t max_id = -1;
  for (const auto& [piece, id] : tables.vocab) max_id = std::max(max_id, id);
  static const json kNoAdded = json::array();
  const json& added = tj.contains("added_tokens") && !tj["added_tokens"].is_null() ? tj["added_tokens"] : kNoAdded;
  if (!added.is_array()) fail("{}: added_tokens should be an array", src);
  std::vector<int32_t> added_ids;
  for (const auto& a : added) {
    added_ids.push_back(token_id_or_none(child(a, "id")));
    if (added_ids.back() < 0) fail("{}: added_tokens entry {:.80} has no valid token id", src, a.dump());
    max_id = std::max<int64_t>(max_id, added_ids.back());
  }
  // Ids are dense in practice; a far larger max id would be a huge allocation.
  const auto n_entries = static_cast<int64_t>(tables.vocab.size() + added.size());
  if (max_id < 0 || max_id > 2 * n_entries + 1024)
    fail("{}: token ids up to {} for {} vocabulary entries", src, max_id, n_entries);
  const auto n = static_cast<size_t>(max_id + 1);
  d->pieces.assign(n, "");
  d->types.assign(n, TokenType::Unused);
  d->special.assign(n, 0);
  for (auto& [piece, i] : tables.vocab) {
    if (i < 0) fail("{}: negative token id for \"{}\"", src, piece);
    d->pieces[i] = std::move(piece);
    d->types[i] = TokenType::Normal;
  }
  for (size_t k = 0; k < added_ids.size(); ++k) {
    const json& a = added[k];
    const int32_t i = added_ids[k];
    d->pieces[i] = get_or(a, "content", std::string(""));
    bool special = get_or(a, "special", false);
    d->types[i] = special ? TokenType::Control : TokenType::UserDefined;
    d->special[i] = special;
    tok::AddedTokenFlags fl{get_or(a, "lstrip", false), get_or(a, "rstrip", false), get_or(a, "single_word", false)};
    if (fl.lstrip || fl.rstrip) d->added_flags[static_cast<int32_t>(i)] = fl;
  }

  d->merges = std::move(tables.merges);
  d->use_merge_ranks = true;
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (!get_or(model, key, std::string()).empty())
      fail("{}: BPE with {} is not supported", src, key);
  d->byte_fallback = get_or(model, "byte_fallback", false);
  d->fuse_unk = get_or(model, "fuse_unk", false);
  d->ignore_merges = get_or(model, "ignore_merges", false);

  HfFlags kind;
  parse_normalizer(child(tj, "normalizer"), *d, kind, src);
  parse_pre_tokenizer(child(tj, "pre_tokenizer"), *d, kind, src);
  parse_decoder(child(tj, "decoder"), *d, src);
  if (kind.byte_level && kind.spm) fail("{}: mixes byte-level and SentencePiece-style steps", src);
  if (!kind.byte_level && !kind.spm) {
    if (!d->byte_fallback) fail("{}: unsupported BPE tokenizer (neither ByteLevel nor SentencePiece-style)", src);
    kind.spm = true;  // plain BPE with byte fallback: treat as SPM without a prefix
  }
  d->model = kind.byte_level ? tok::Model::ByteLevelBPE : tok::Model::SPM;
  if (kind.byte_level) {
    if (d->pre_regexes.empty()) d->pre_regexes.push_back(R"([\s\S]+)");  // no split: one word
    d->pre_name = tok::pre_name_for(d->pre_regexes);
    if (d->pre_name.empty()) d->pre_name = "default";
  }
  parse_post_processor(child(tj, "post_processor"), *d);

  auto id_of = [&](const std::string& piece) -> int32_t {
    if (piece.empty()) return -1;
    for (size_t i = 0; i < d->pieces.size(); ++i)
      if (d->pieces[i] == piece) return static_cast<int32_t>(i);
    return -1;
  };
  if (model.contains("unk_token") && model["unk_token"].is_string()) d->unk = id_of(model["unk_token"]);
  if (d->unk >= 0 && d->types[d->unk] == TokenType::Control) d->types[d->unk] = TokenType::Unknown;

  std::error_code ec;
  if (fs::exists(dir / "tokenizer_config.json", ec)) {
    json cfg = read_json(dir / "tokenizer_config.json");
    if (int32_t id = id_of(str_or_content(child(cfg, "bos_token"))); id >= 0) d->bos = id;
    if (int32_t id = id_of(str_or_content(child(cfg, "eos_token"))); id >= 0) d->eos = id;
    if (int32_t id = id_of(str_or_content(child(cfg, "pad_token"))); id >= 0) d->pad = id;
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) d->add_bos = cfg["add_bos_token"];
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) d->add_eos = cfg["add_eos_token"];
    if (cfg.contains("clean_up_tokenization_spaces") && cfg["clean_up_tokenization_spaces"].is_boolean())
      d->clean_up_spaces = cfg["clean_up_tokenization_spaces"];
    // Llama tokenizers with legacy=false put the dummy "▁" only at the start of
    // the text, not after every special token (transformers' Metaspace "first").
    if (d->model == tok::Model::SPM && d->prefix == tok::PrefixScheme::Always && !get_or(cfg, "legacy", true) &&
        get_or(cfg, "tokenizer_class", std::string()).find("Llama") != std::string::npos)
      d->prefix = tok::PrefixScheme::First;
  }
  if (fs::exists(dir / "generation_config.json", ec)) {
    json gen = read_json(dir / "generation_config.json");
    const json eos = child(gen, "eos_token_id");
    const auto add_eog = [&](const json& e) {
      if (const int32_t id = token_id_or_none(e); id >= 0) d->extra_eog.push_back(id);
    };
    add_eog(eos);
    if (eos.is_array())
      for (const auto& e : eos) add_eog(e);
  }
  tok::finalize(*d);
  return std::make_unique<Tokenizer>(std::move(d));
}
}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf(const std::string& path) {
  try {
    return parse_hf(path);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed tokenizer files: {}", path, e.what());
  }
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "tokenizer.json", ec)) return from_hf(path);
    fail("{}: folder without tokenizer.json", path);
  }
  if (!fs::exists(path, ec)) fail("{}: no such file or folder", path);
  const auto ext = fs::path(path).extension();
  if (ext == ".gguf") return from_gguf(*gguf::File::open(path));
  if (ext == ".json") return from_hf(path);
  if (ext == ".bin") return from_llama2c(path);
  if (ext == ".model") return from_sentencepiece(path);
  fail("{}: not a tokenizer file pocketllm reads (it takes: {})", path, kTokenizerSources);
}

}  // namespace pocketllm
