// The BPE merge loop shared by both tokenizer kinds, and the per-kind encoders.
// Symbols are byte ranges of one string, so a candidate merge is a string_view
// (no allocation); a priority queue picks the best pair (highest SPM score or
// lowest merge rank, leftmost on ties), as SentencePiece, llama.cpp and HF do.
#include <queue>

#include "tokenizer/tokenizer_data.h"
#include "tokenizer/unicode_util.h"

namespace pocketllm::tok {
namespace {

struct Symbol {
  uint32_t start, len;
  int32_t id;  // -1: not in the vocab (byte fallback / unk later)
  int32_t prev, next;
};

struct Candidate {
  double priority;  // higher merges first
  int32_t left;
  uint32_t size;    // merged length when queued; a mismatch later means stale
  int32_t id;
};
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.priority < b.priority || (a.priority == b.priority && a.left > b.left);
  }
};

// Splits text into one symbol per UTF-8 char (an invalid byte is its own symbol).
void init_symbols(const TokenizerData& d, std::string_view text, std::vector<Symbol>& syms) {
  syms.clear();
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_char_len(text, i);
    int32_t id = d.piece_to_id.find(text.substr(i, n));
    auto idx = static_cast<int32_t>(syms.size());
    syms.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(n), id, idx - 1, -1});
    if (idx > 0) syms[idx - 1].next = idx;
    i += n;
  }
}

void merge_symbols(const TokenizerData& d, std::string_view text, std::vector<Symbol>& syms) {
  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  auto try_pair = [&](int32_t l) {
    if (l < 0) return;
    int32_t r = syms[l].next;
    if (r < 0) return;
    uint32_t size = syms[l].len + syms[r].len;
    if (d.use_merge_ranks) {
      if (syms[l].id < 0 || syms[r].id < 0) return;
      const MergeTable::Entry* e = d.merge_map.find(syms[l].id, syms[r].id);
      if (!e) return;
      queue.push({-static_cast<double>(e->rank), l, size, e->id});
    } else {
      int32_t id = d.piece_to_id.find(text.substr(syms[l].start, size));
      if (id < 0) return;
      queue.push({static_cast<double>(d.scores[id]), l, size, id});
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) try_pair(i);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol& left = syms[c.left];
    if (left.len == 0 || left.next < 0) continue;
    Symbol& right = syms[left.next];
    if (left.len + right.len != c.size) continue;  // one side changed since queued
    left.len += right.len;
    left.id = c.id;
    right.len = 0;
    left.next = right.next;
    if (left.next >= 0) syms[left.next].prev = c.left;
    try_pair(left.prev);
    try_pair(c.left);
  }
}

void emit_spm_symbols(const TokenizerData& d, std::string_view text, const std::vector<Symbol>& syms,
                      bool& last_was_unk, std::vector<int32_t>& out);

}  // namespace

void encode_spm(const TokenizerData& d, std::string_view raw, bool first_segment, std::vector<int32_t>& out) {
  if (raw.empty()) return;
  std::string text;
  std::string normalized = d.nfc ? nfc(raw) : std::string(raw);
  bool prefix = d.prefix == PrefixScheme::Always || (d.prefix == PrefixScheme::First && first_segment);
  text.reserve(normalized.size() + 8);
  if (prefix) text += d.escape_spaces ? "\xE2\x96\x81" : " ";
  if (d.escape_spaces) {
    for (char c : normalized) {
      if (c == ' ')
        text += "\xE2\x96\x81";
      else
        text += c;
    }
  } else {
    text += normalized;
  }
  std::vector<Symbol> syms;
  bool last_was_unk = false;
  auto encode_word = [&](std::string_view word) {
    init_symbols(d, word, syms);
    merge_symbols(d, word, syms);
    emit_spm_symbols(d, word, syms, last_was_unk, out);
  };
  // Split where no vocab piece spans the boundary (see spm_bigrams).
  size_t word_start = 0, len = 0;
  uint32_t prev = 0;
  for (size_t i = 0; i < text.size(); i += len) {
    uint32_t cp = utf8_code_point(text, i, len);
    if (i > 0 && !d.spm_bigrams.count((static_cast<uint64_t>(prev) << 32) | cp)) {
      encode_word(std::string_view(text).substr(word_start, i - word_start));
      word_start = i;
    }
    prev = cp;
  }
  encode_word(std::string_view(text).substr(word_start));
}

namespace {
void emit_spm_symbols(const TokenizerData& d, std::string_view text, const std::vector<Symbol>& syms,
                      bool& last_was_unk, std::vector<int32_t>& out) {
  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      last_was_unk = false;
      continue;
    }
    for (uint32_t k = 0; k < s.len; ++k) {
      int32_t b = d.byte_fallback ? d.byte_ids[static_cast<uint8_t>(text[s.start + k])] : -1;
      if (b >= 0) {
        out.push_back(b);
        last_was_unk = false;
      } else if (d.unk >= 0) {
        if (!(d.fuse_unk && last_was_unk)) out.push_back(d.unk);
        last_was_unk = true;
        if (!d.byte_fallback) break;  // without byte fallback the whole char is one unk
      }
    }
  }
}
}  // namespace

void encode_byte_level(const TokenizerData& d, std::string_view raw, std::vector<int32_t>& out) {
  if (raw.empty()) return;
  std::string normalized = d.nfc ? nfc(raw) : std::string(raw);
  if (d.bl_add_prefix_space && normalized[0] != ' ') normalized.insert(normalized.begin(), ' ');
  std::vector<Symbol> syms;
  std::string mapped;
  for (std::string_view word : d.pretok->split(normalized)) {
    mapped.clear();
    for (char c : word) mapped += byte_to_unicode(static_cast<uint8_t>(c));
    if (d.ignore_merges) {
      if (int32_t id = d.piece_to_id.find(mapped); id >= 0) {
        out.push_back(id);
        continue;
      }
    }
    init_symbols(d, mapped, syms);
    merge_symbols(d, mapped, syms);
    for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
      if (syms[i].id >= 0)
        out.push_back(syms[i].id);
      else if (d.unk >= 0)
        out.push_back(d.unk);
    }
  }
}

}  // namespace pocketllm::tok
