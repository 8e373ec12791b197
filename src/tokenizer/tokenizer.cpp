#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/unicode_util.h"

namespace pocketllm {
namespace tok {

namespace {
bool is_byte_piece(const std::string& p, int& value) {
  if (p.size() != 6 || p.compare(0, 3, "<0x") != 0 || p[5] != '>') return false;
  unsigned v = 0;
  for (int i = 3; i < 5; ++i) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
    else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
    else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
    else return false;
  }
  value = static_cast<int>(v);
  return true;
}
}  // namespace

void finalize(TokenizerData& d) {
  const size_t n = d.pieces.size();
  if (n == 0) fail("{}: the tokenizer has an empty vocabulary", d.source);
  if (n > (1u << 30)) fail("{}: vocabulary too large ({} tokens)", d.source, n);
  if (d.scores.empty()) d.scores.assign(n, 0.0f);
  if (d.types.empty()) d.types.assign(n, TokenType::Normal);
  if (d.scores.size() != n || d.types.size() != n)
    fail("{}: {} tokens but {} scores and {} token types", d.source, n, d.scores.size(), d.types.size());
  if (d.special.empty()) {
    d.special.assign(n, 0);
    for (size_t i = 0; i < n; ++i)
      d.special[i] = d.types[i] == TokenType::Control || d.types[i] == TokenType::Unknown;
  }
  d.piece_to_id.build(d.pieces);

  d.byte_ids.fill(-1);
  if (d.model == Model::SPM) {
    for (size_t i = 0; i < n; ++i) {
      int v;
      if (is_byte_piece(d.pieces[i], v) && (d.types[i] == TokenType::Byte || d.types[i] == TokenType::Normal ||
                                            d.types[i] == TokenType::Undefined)) {
        d.types[i] = TokenType::Byte;
        if (d.byte_ids[v] < 0) d.byte_ids[v] = static_cast<int32_t>(i);
      }
    }
  }

  d.merge_map.reset(d.use_merge_ranks ? d.merges.size() : 0);
  if (d.use_merge_ranks) {
    std::string joined;
    for (size_t r = 0; r < d.merges.size(); ++r) {
      const auto& [a, b] = d.merges[r];
      int32_t ia = d.piece_to_id.find(a), ib = d.piece_to_id.find(b);
      if (ia < 0 || ib < 0) continue;
      joined.assign(a).append(b);
      int32_t ij = d.piece_to_id.find(joined);
      if (ij >= 0) d.merge_map.insert(ia, ib, static_cast<int32_t>(r), ij);  // first (best) rank wins
    }
  }

  auto check_id = [&](int32_t& id) {
    if (id < -1 || id >= static_cast<int32_t>(n)) id = -1;
  };
  for (int32_t* id : {&d.bos, &d.eos, &d.eot, &d.eom, &d.unk, &d.pad}) check_id(*id);

  // End-of-generation set: EOS/EOT/EOM, generation_config ids, and the known
  // end-of-turn tokens of chat families when present as special tokens.
  std::vector<int32_t> eog;
  for (int32_t id : {d.eos, d.eot, d.eom})
    if (id >= 0) eog.push_back(id);
  for (int32_t id : d.extra_eog)
    if (id >= 0 && id < static_cast<int32_t>(n)) eog.push_back(id);
  for (const char* text : {"</s>", "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                           "<|endoftext|>", "<|end_of_text|>", "<EOT>", "<|END_OF_TURN_TOKEN|>"}) {
    int32_t id = d.piece_to_id.find(text);
    if (id >= 0 && d.types[id] != TokenType::Normal) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  d.eog = std::move(eog);

  d.parse_candidates.clear();
  for (size_t i = 0; i < n; ++i) {
    auto t = d.types[i];
    if ((t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) && !d.pieces[i].empty())
      d.parse_candidates.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(d.parse_candidates.begin(), d.parse_candidates.end(),
                   [&](int32_t a, int32_t b) { return d.pieces[a].size() > d.pieces[b].size(); });
  for (auto& v : d.candidates_by_byte) v.clear();
  for (int32_t id : d.parse_candidates) d.candidates_by_byte[static_cast<uint8_t>(d.pieces[id][0])].push_back(id);

  if (d.model == Model::ByteLevelBPE) d.pretok = std::make_unique<PreTokenizer>(d.pre_regexes);
  d.spm_bigrams.clear();
  if (d.model == Model::SPM) {
    for (const std::string& p : d.pieces) {
      uint32_t prev = 0;
      for (size_t i = 0, len = 0; i < p.size(); i += len) {
        uint32_t cp = utf8_code_point(p, i, len);
        if (i > 0) d.spm_bigrams.insert((static_cast<uint64_t>(prev) << 32) | cp);
        prev = cp;
      }
    }
  }
}

}  // namespace tok

using tok::TokenizerData;

Tokenizer::Tokenizer(std::unique_ptr<TokenizerData> data) : d_(std::move(data)) {}
Tokenizer::~Tokenizer() = default;

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(d_->pieces.size()); }
int32_t Tokenizer::bos() const { return d_->bos; }
int32_t Tokenizer::eos() const { return d_->eos; }
int32_t Tokenizer::eot() const { return d_->eot; }
int32_t Tokenizer::unk() const { return d_->unk; }
int32_t Tokenizer::pad() const { return d_->pad; }
bool Tokenizer::add_bos() const { return d_->add_bos && d_->bos >= 0; }
bool Tokenizer::add_eos() const { return d_->add_eos && d_->eos >= 0; }
bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(d_->eog.begin(), d_->eog.end(), id); }
const std::vector<int32_t>& Tokenizer::eog_ids() const { return d_->eog; }
bool Tokenizer::is_special(int32_t id) const { return id >= 0 && id < n_vocab() && d_->special[id]; }
bool Tokenizer::is_byte(int32_t id) const { return id >= 0 && id < n_vocab() && d_->types[id] == TokenType::Byte; }
TokenType Tokenizer::token_type(int32_t id) const {
  if (id < 0 || id >= n_vocab()) fail("token id {} out of range (vocabulary of {})", id, n_vocab());
  return d_->types[id];
}
const std::string& Tokenizer::piece(int32_t id) const {
  if (id < 0 || id >= n_vocab()) fail("token id {} out of range (vocabulary of {})", id, n_vocab());
  return d_->pieces[id];
}
int32_t Tokenizer::find_piece(std::string_view p) const {
  return d_->piece_to_id.find(p);
}
std::string Tokenizer::model_name() const { return d_->model == tok::Model::SPM ? "llama" : "gpt2"; }
std::string Tokenizer::pre_name() const { return d_->pre_name; }

namespace {
// SentencePiece's remove_extra_whitespaces: no leading or trailing spaces, a run of them is one.
std::string squeeze_spaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text)
    if (c != ' ' || (!out.empty() && out.back() != ' ')) out += c;
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}
}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const TokenizerData& d = *d_;
  std::string squeezed;
  if (d.remove_extra_spaces) text = squeezed = squeeze_spaces(text);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && d.add_bos && d.bos >= 0) out.push_back(d.bos);

  auto encode_text = [&](std::string_view raw, bool first) {
    if (d.model == tok::Model::SPM)
      tok::encode_spm(d, raw, first, out);
    else
      tok::encode_byte_level(d, raw, out);
  };
  // Split the text on added/special tokens (longest match at each position).
  size_t seg_start = 0, pos = 0;
  bool have_candidates = !d.parse_candidates.empty();
  while (have_candidates && pos < text.size()) {
    int32_t found = -1;
    for (int32_t id : d.candidates_by_byte[static_cast<uint8_t>(text[pos])]) {
      const std::string& p = d.pieces[id];
      if (p.size() > text.size() - pos) continue;
      if (!parse_special && d.special[id]) continue;
      if (text.compare(pos, p.size(), p) == 0) {
        found = id;
        break;
      }
    }
    if (found < 0) {
      ++pos;
      continue;
    }
    // lstrip / rstrip: the token takes the whitespace before / after it (Hugging Face's
    // added-token flags; for GGUF, the family rules of tok::set_family_strip_flags).
    size_t seg_end = pos;
    auto flags = d.added_flags.find(found);
    if (flags != d.added_flags.end() && flags->second.lstrip) seg_end = tok::trim_spaces_end(text, seg_start, seg_end);
    if (seg_end > seg_start) encode_text(text.substr(seg_start, seg_end - seg_start), seg_start == 0);
    out.push_back(found);
    pos += d.pieces[found].size();
    if (flags != d.added_flags.end() && flags->second.rstrip) pos = tok::skip_spaces(text, pos, text.size());
    seg_start = pos;
  }
  if (seg_start < text.size()) encode_text(text.substr(seg_start), seg_start == 0);
  if (add_special && d.add_eos && d.eos >= 0) out.push_back(d.eos);
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  StreamDecoder s(*this, skip_special);
  std::string out;
  for (int32_t id : ids) out += s.push(id);
  out += s.flush();
  return out;
}

std::string Tokenizer::decode_piece(int32_t prev, int32_t id) const {
  const TokenizerData& d = *d_;
  if (id < 0 || id >= n_vocab()) fail("token id {} out of range (vocabulary of {})", id, n_vocab());
  std::string p;
  if (!d.raw_pieces.empty()) {
    p = d.raw_pieces[id];
  } else if (d.model == tok::Model::SPM) {
    const std::string& s = d.pieces[id];
    for (size_t i = 0; i < s.size(); ++i) {
      if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
        p += ' ';
        i += 2;
      } else {
        p += s[i];
      }
    }
  } else if (d.special[id] || d.types[id] == TokenType::UserDefined || !tok::byte_level_decode(d.pieces[id], p)) {
    p = d.pieces[id];
  }
  // SentencePiece drops the dummy-prefix space of the first piece after BOS.
  bool after_bos = prev == d.bos && d.bos >= 0;
  if (d.model == tok::Model::SPM && d.strip_leading_space && after_bos && !p.empty() && p[0] == ' ') p.erase(0, 1);
  int byte;
  if (d.model == tok::Model::SPM && d.types[id] == TokenType::Byte && tok::is_byte_piece(d.pieces[id], byte))
    return std::string(1, static_cast<char>(byte));
  return p;
}

}  // namespace pocketllm
