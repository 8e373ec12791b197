// GGUF tokenizer metadata (tokenizer.ggml.*), read and written as llama.cpp does.
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <iterator>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer_data.h"

namespace pocketllm {

namespace {
bool contains_any(const std::string& s, std::initializer_list<const char*> parts) {
  return std::any_of(parts.begin(), parts.end(), [&](const char* p) { return s.find(p) != std::string::npos; });
}

// GGUF files do not store tokenizer.json's lstrip/rstrip flags; llama.cpp sets them by
// model family (llama-vocab.cpp), as those families' tokenizer.json files do, and so do we:
// Phi-3's chat tokens and </s> take the whitespace after them, BERT-style masks before.
void set_family_strip_flags(const gguf::File& f, tok::TokenizerData& d) {
  std::string name = f.get_string("general.name").value_or("");
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const std::string arch = f.get_string("general.architecture").value_or("");
  auto set = [&](const std::string& piece, bool lstrip, bool rstrip) {
    const auto it = std::find(d.pieces.begin(), d.pieces.end(), piece);
    if (it == d.pieces.end()) return;
    const auto id = static_cast<int32_t>(it - d.pieces.begin());
    if (lstrip || rstrip) d.added_flags[id] = {lstrip, rstrip, false};
    else d.added_flags.erase(id);
  };
  if (contains_any(d.pre_name, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set("<mask>", true, false);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (size_t i = 0; i < d.types.size(); ++i) {
      const TokenType t = d.types[i];
      if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown)
        d.added_flags[static_cast<int32_t>(i)] = {false, true, false};
    }
    set("</s>", false, true);
    for (const char* p : {"<unk>", "<s>", "<|endoftext|>"}) set(p, false, false);
  } else if (contains_any(name, {"modern-bert"})) {
    set("[MASK]", true, false);
  }
}
}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& f) {
  auto d = std::make_unique<tok::TokenizerData>();
  d->source = f.path();
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) fail("{}: no tokenizer in this GGUF (tokenizer.ggml.model missing)", f.path());
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->empty()) fail("{}: tokenizer.ggml.tokens missing or empty", f.path());
  d->pieces = std::move(*tokens);
  const size_t n = d->pieces.size();
  if (auto scores = f.get_float_array("tokenizer.ggml.scores")) {
    if (scores->size() != n) fail("{}: {} tokens but {} scores", f.path(), n, scores->size());
    d->scores = std::move(*scores);
  }
  if (auto types = f.get_int_array("tokenizer.ggml.token_type")) {
    if (types->size() != n) fail("{}: {} tokens but {} token types", f.path(), n, types->size());
    for (int64_t t : *types) d->types.push_back(t >= 0 && t <= 6 ? static_cast<TokenType>(t) : TokenType::Normal);
  }
  if (auto merges = f.get_string_array("tokenizer.ggml.merges")) {
    for (const std::string& m : *merges) {
      size_t sp = m.find(' ', 1);
      if (sp == std::string::npos) fail("{}: bad merge \"{}\" (expected \"a b\")", f.path(), m);
      d->merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    d->use_merge_ranks = !d->merges.empty();
  }
  auto id_key = [&](const char* key, int32_t fallback) {
    auto v = f.get_int(std::string("tokenizer.ggml.") + key);
    return v ? static_cast<int32_t>(*v) : fallback;
  };
  if (*model == "llama") {
    d->model = tok::Model::SPM;
    d->bos = id_key("bos_token_id", 1);
    d->eos = id_key("eos_token_id", 2);
    d->unk = id_key("unknown_token_id", 0);
    d->add_bos = true;
    bool space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    d->prefix = space_prefix ? tok::PrefixScheme::Always : tok::PrefixScheme::Never;
    d->strip_leading_space = space_prefix;
    d->byte_fallback = true;
    d->pre_name = f.get_string("tokenizer.ggml.pre").value_or("default");
  } else if (*model == "gpt2") {
    d->model = tok::Model::ByteLevelBPE;
    if (!d->use_merge_ranks) fail("{}: gpt2 tokenizer without tokenizer.ggml.merges", f.path());
    d->bos = id_key("bos_token_id", -1);
    d->eos = id_key("eos_token_id", -1);
    d->unk = id_key("unknown_token_id", -1);
    d->pre_name = f.get_string("tokenizer.ggml.pre").value_or("default");
    d->pre_regexes = tok::pre_patterns_for(d->pre_name);
    d->ignore_merges = d->pre_name == "llama-bpe" || d->pre_name == "llama3";
    d->add_bos = d->ignore_merges;
    // HF clean_up_tokenization_spaces as llama.cpp assumes it per family.
    static const char* no_clean[] = {"deepseek-llm", "deepseek-coder", "deepseek-v3", "qwen2", "deepseek-r1-qwen",
                                     "command-r", "smollm", "codeshell", "tekken", "chameleon", "poro-chat",
                                     "viking", "chatglm-bpe", "gpt-4o", "megrez", "hunyuan"};
    d->clean_up_spaces = std::find(std::begin(no_clean), std::end(no_clean), d->pre_name) == std::end(no_clean);
  } else {
    fail("{}: unsupported tokenizer model \"{}\" (supported: llama, gpt2)", f.path(), *model);
  }
  d->pad = id_key("padding_token_id", -1);
  d->eot = id_key("eot_token_id", -1);
  d->eom = id_key("eom_token_id", -1);
  if (auto v = f.get_bool("tokenizer.ggml.add_bos_token")) d->add_bos = *v;
  if (auto v = f.get_bool("tokenizer.ggml.add_eos_token")) d->add_eos = *v;
  if (auto eog = f.get_int_array("tokenizer.ggml.eog_token_ids"))
    for (int64_t id : *eog) d->extra_eog.push_back(static_cast<int32_t>(id));
  if (d->types.empty()) d->types.assign(d->pieces.size(), TokenType::Normal);
  set_family_strip_flags(f, *d);
  tok::finalize(*d);
  return std::make_unique<Tokenizer>(std::move(d));
}

void Tokenizer::write_gguf(gguf::Writer& w) const {
  using gguf::Value;
  const tok::TokenizerData& d = *d_;
  const bool spm = d.model == tok::Model::SPM;
  w.set("tokenizer.ggml.model", Value::str(spm ? "llama" : "gpt2"));
  w.set("tokenizer.ggml.pre", Value::str(d.pre_name.empty() ? "default" : d.pre_name));
  w.set("tokenizer.ggml.tokens", Value::str_array(d.pieces));
  std::vector<int32_t> types;
  types.reserve(d.types.size());
  for (size_t i = 0; i < d.types.size(); ++i) {
    TokenType t = d.types[i];
    if (t == TokenType::UserDefined && d.special[i]) t = TokenType::Control;
    types.push_back(static_cast<int32_t>(t));
  }
  if (spm) {
    std::vector<float> scores = d.scores;
    if (d.use_merge_ranks) {
      // llama.cpp merges SPM pieces by score: derive scores from merge ranks.
      d.merge_map.for_each([&](const tok::MergeTable::Entry& e) { scores[e.id] = -static_cast<float>(e.rank); });
    }
    w.set("tokenizer.ggml.scores", Value::f32_array(scores));
  }
  w.set("tokenizer.ggml.token_type", Value::i32_array(types));
  if (d.use_merge_ranks) {
    std::vector<std::string> merges;
    merges.reserve(d.merges.size());
    for (const auto& [a, b] : d.merges) merges.push_back(a + " " + b);
    w.set("tokenizer.ggml.merges", Value::str_array(merges));
  }
  auto set_id = [&](const char* key, int32_t id) {
    if (id >= 0) w.set(std::string("tokenizer.ggml.") + key, Value::u32(static_cast<uint32_t>(id)));
  };
  set_id("bos_token_id", d.bos);
  set_id("eos_token_id", d.eos);
  set_id("unknown_token_id", d.unk);
  set_id("padding_token_id", d.pad);
  set_id("eot_token_id", d.eot);
  set_id("eom_token_id", d.eom);
  w.set("tokenizer.ggml.add_bos_token", Value::boolean(d.add_bos));
  w.set("tokenizer.ggml.add_eos_token", Value::boolean(d.add_eos));
  if (spm) w.set("tokenizer.ggml.add_space_prefix", Value::boolean(d.prefix != tok::PrefixScheme::Never));
  if (!d.eog.empty()) w.set("tokenizer.ggml.eog_token_ids", Value::i32_array(d.eog));
}

}  // namespace pocketllm
