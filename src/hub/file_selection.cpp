#include "hub/file_selection.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "formats/gguf_split.h"
#include "hub/model_ref.h"

namespace pocketllm::hub {

namespace {

constexpr const char* kDefaultQuant = "Q4_K_M";  // llama.cpp's choice when -hf names no quant
constexpr size_t kMaxListed = 40;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool is_gguf(const std::string& f) { return lower(f).ends_with(".gguf"); }

// One loadable GGUF model: a single file, or every part of a split model.
struct Candidate {
  std::vector<std::string> files;
  std::string label;
};

std::vector<Candidate> gguf_candidates(const std::vector<std::string>& files) {
  const std::set<std::string> present(files.begin(), files.end());
  std::vector<Candidate> out;
  std::map<std::pair<std::string, int>, bool> split_seen;
  for (const auto& f : files) {
    // Multimodal projectors ship beside the model in GGUF repos; they are not a model to pick.
    if (!is_gguf(f) || lower(f).find("mmproj") != std::string::npos) continue;
    const auto sp = gguf::parse_split_name(f);
    if (!sp) {
      out.push_back({{f}, f});
      continue;
    }
    if (split_seen[{sp->prefix, sp->count}]) continue;
    split_seen[{sp->prefix, sp->count}] = true;
    Candidate c;
    for (int i = 1; i <= sp->count; ++i) c.files.push_back(gguf::split_name(sp->prefix, i, sp->count));
    c.label = c.files[0] + (sp->count > 1 ? " (+" + std::to_string(sp->count - 1) + " parts)" : "");
    for (auto& part : c.files)
      if (!present.count(part))
        fail("the split model {} is incomplete in the repo: {} is missing", c.files[0], part);
    out.push_back(std::move(c));
  }
  return out;
}

std::string list(const std::vector<Candidate>& cs) {
  std::string s;
  for (size_t i = 0; i < cs.size() && i < kMaxListed; ++i) s += "\n  " + cs[i].label;
  if (cs.size() > kMaxListed) s += "\n  ... (" + std::to_string(cs.size() - kMaxListed) + " more)";
  return s.empty() ? " (none)" : s;
}

bool tag_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// QUANT occurs as a whole tag: not inside a longer one (Q4_K in "m-Q4_K.gguf", not in "m-Q4_K_M.gguf").
bool whole_tag(const std::string& name, const std::string& quant) {
  const std::string n = lower(name), q = lower(quant);
  for (size_t pos = n.find(q); pos != std::string::npos; pos = n.find(q, pos + 1)) {
    const size_t end = pos + q.size();
    if ((pos == 0 || !tag_char(n[pos - 1])) && (end == n.size() || !tag_char(n[end]))) return true;
  }
  return false;
}

Selection take(const Candidate& c, std::string note = "") {
  return Selection{c.files, c.files[0], false, std::move(note)};
}

Selection pick_gguf(const std::vector<Candidate>& cs, const std::string& repo, const std::string& quant) {
  std::vector<Candidate> hits;
  for (auto& c : cs)
    if (lower(c.files[0]).find(lower(quant)) != std::string::npos) hits.push_back(c);
  if (hits.empty()) fail("no GGUF file of {} matches ':{}'. Its GGUF files:{}", repo, quant, list(cs));
  if (hits.size() == 1) return take(hits[0]);
  std::vector<Candidate> exact;
  for (auto& c : hits)
    if (whole_tag(c.files[0], quant)) exact.push_back(c);
  if (exact.size() == 1) return take(exact[0]);
  fail("':{}' matches {} GGUF files of {}; name one with a longer tag or --include FILE:{}", quant, hits.size(), repo,
       list(exact.empty() ? hits : exact));
}

Selection safetensors_model(const std::set<std::string>& present) {
  Selection s;
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
                        "chat_template.jinja", "special_tokens_map.json"})
    if (present.count(f)) s.files.push_back(f);
  if (present.count("model.safetensors.index.json")) {
    s.files.push_back("model.safetensors.index.json");
    s.needs_index_shards = true;
  } else {
    s.files.push_back("model.safetensors");
  }
  return s;
}

}  // namespace

Selection select_files(const std::vector<std::string>& repo_files, const std::string& repo, const std::string& quant,
                       const std::vector<std::string>& include) {
  const std::set<std::string> present(repo_files.begin(), repo_files.end());
  if (!include.empty()) {
    if (!quant.empty()) fail("give either :{} or --include, not both", quant);
    Selection s;
    std::set<std::string> added;
    for (const auto& f : include) {
      if (!present.count(f)) {
        std::string all;
        for (size_t i = 0; i < repo_files.size() && i < kMaxListed; ++i) all += "\n  " + repo_files[i];
        fail("{} has no file '{}'. Its files:{}", repo, f, all.empty() ? " (none)" : all);
      }
      std::vector<std::string> parts{f};
      if (const auto sp = gguf::parse_split_name(f))
        for (auto& c : gguf_candidates(repo_files))
          if (std::find(c.files.begin(), c.files.end(), f) != c.files.end()) parts = c.files;
      for (auto& p : parts)
        if (added.insert(p).second) s.files.push_back(p);
      if (s.model_file.empty() && is_gguf(f)) s.model_file = parts[0];
      if (f == "model.safetensors.index.json") s.needs_index_shards = true;
    }
    return s;
  }
  const auto ggufs = gguf_candidates(repo_files);
  if (!quant.empty()) {
    if (ggufs.empty())
      fail("{} has no GGUF files to match ':{}'{}", repo, quant,
           present.count("config.json") ? "; drop :" + quant + " to fetch its safetensors model" : "");
    return pick_gguf(ggufs, repo, quant);
  }
  if (present.count("config.json") && (present.count("model.safetensors") || present.count("model.safetensors.index.json")))
    return safetensors_model(present);
  if (ggufs.size() == 1) return take(ggufs[0]);
  for (auto& c : ggufs)
    if (whole_tag(c.files[0], kDefaultQuant))
      return take(c, std::string("no :QUANT given; took ") + kDefaultQuant + " (" + c.files[0] + ")");
  if (ggufs.empty())
    fail("{} has neither GGUF files nor a safetensors model (config.json with model.safetensors or "
         "model.safetensors.index.json): pocketllm cannot load it",
         repo);
  fail("{} has {} GGUF models: add :QUANT to the name (e.g. {}:Q4_K_M) or --include FILE:{}", repo, ggufs.size(), repo,
       list(ggufs));
}

std::vector<std::string> index_shards(const std::string& index_json, const std::string& where) {
  const auto j = nlohmann::json::parse(index_json, nullptr, false);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail("{}: not a safetensors index (no weight_map object)", where);
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& [tensor, file] : j["weight_map"].items()) {
    if (!file.is_string()) fail("{}: weight_map['{}'] is not a file name", where, tensor);
    const std::string f = file.get<std::string>();
    check_repo_path(f, "shard in " + where);
    if (seen.insert(f).second) out.push_back(f);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace pocketllm::hub
