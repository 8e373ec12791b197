#include "grammar/matcher.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace pocketllm::grammar {

Vocab::Vocab(std::vector<std::string> bytes, std::vector<int32_t> eog_ids)
    : bytes_(std::move(bytes)), eog_(bytes_.size(), false), eog_ids_(std::move(eog_ids)) {
  for (int32_t id : eog_ids_) {
    if (id < 0 || static_cast<size_t>(id) >= bytes_.size()) fail("grammar: end-of-generation id {} out of range", id);
    eog_[static_cast<size_t>(id)] = true;
  }
  // Trie over the tokens sorted by bytes: a node's subtree is a contiguous run.
  std::vector<int32_t> order;
  for (int32_t i = 0; i < n_tokens(); ++i)
    if (!eog_[static_cast<size_t>(i)] && !bytes_[static_cast<size_t>(i)].empty()) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return bytes_[a] < bytes_[b] || (bytes_[a] == bytes_[b] && a < b); });
  nodes_.emplace_back();
  // Breadth-first so each node's children are adjacent: a queue of (node, depth, [lo, hi) of order).
  struct Item { uint32_t node; size_t depth, lo, hi; };
  std::vector<Item> queue{{0, 0, 0, order.size()}};
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    const Item it = queue[qi];
    size_t i = it.lo;
    nodes_[it.node].tok_begin = static_cast<uint32_t>(tokens_.size());
    while (i < it.hi && bytes_[order[i]].size() == it.depth) tokens_.push_back(order[i++]);
    nodes_[it.node].tok_end = static_cast<uint32_t>(tokens_.size());
    nodes_[it.node].child_begin = static_cast<uint32_t>(nodes_.size());
    while (i < it.hi) {
      const uint8_t b = static_cast<uint8_t>(bytes_[order[i]][it.depth]);
      size_t j = i;
      while (j < it.hi && static_cast<uint8_t>(bytes_[order[j]][it.depth]) == b) ++j;
      Node n;
      n.byte = b;
      nodes_.push_back(n);
      queue.push_back({static_cast<uint32_t>(nodes_.size() - 1), it.depth + 1, i, j});
      i = j;
    }
    nodes_[it.node].child_end = static_cast<uint32_t>(nodes_.size());
  }
}

namespace {

using Stack = std::vector<uint32_t>;  // grammar positions, innermost last
using StackSet = std::vector<Stack>;  // sorted, unique

struct SetHash {
  size_t operator()(const StackSet& s) const {
    uint64_t h = 1469598103934665603ull;
    for (auto& st : s) {
      for (uint32_t x : st) h = (h ^ x) * 1099511628211ull;
      h = (h ^ 0xFFFFFFFFu) * 1099511628211ull;
    }
    return static_cast<size_t>(h);
  }
};

constexpr size_t kMaxStates = 50000;            // interned sets kept before starting over
constexpr size_t kMaskBudget = 64u << 20;       // bytes of cached masks

// A UTF-8 decoder state between bytes: `need` continuation bytes still to come.
struct Utf8 {
  uint32_t val = 0;
  int need = 0;
  uint32_t min = 0;  // the smallest code point this length may encode (shorter forms are overlong)
};

}  // namespace

struct Matcher::Impl {
  std::shared_ptr<const Grammar> g;
  std::shared_ptr<const Vocab> vocab;
  struct State {
    StackSet stacks;
    bool accepting = false;
    int32_t ascii[128];
    std::unordered_map<uint32_t, int32_t> other;
    std::vector<uint64_t> mask;  // empty until computed
  };
  std::vector<State> states;
  std::unordered_map<StackSet, int32_t, SetHash> ids;
  int32_t start = 0, cur = 0;
  Utf8 part;
  size_t masks_bytes = 0;
  std::vector<uint64_t> scratch;  // masks of states cut mid-character (not cached)

  void clear_tables() {
    states.clear();
    ids.clear();
    masks_bytes = 0;
    intern({});  // id 0: dead
  }

  int32_t intern(StackSet s) {
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
    auto it = ids.find(s);
    if (it != ids.end()) return it->second;
    const auto id = static_cast<int32_t>(states.size());
    State st;
    st.accepting = std::any_of(s.begin(), s.end(), [](const Stack& x) { return x.empty(); });
    std::fill(std::begin(st.ascii), std::end(st.ascii), -1);
    st.stacks = s;
    states.push_back(std::move(st));
    ids.emplace(std::move(s), id);
    return id;
  }

  // Expands rule references on top of `s` until a character class is on top.
  void expand(Stack s, StackSet& out) const {
    if (s.empty()) {
      out.push_back(std::move(s));
      return;
    }
    const uint32_t p = s.back();
    const Elem e = g->code[p];
    if (e.kind == Elem::Chars) {
      out.push_back(std::move(s));
      return;
    }
    s.pop_back();
    if (g->code[p + 1].kind != Elem::End) s.push_back(p + 1);
    for (uint32_t a : g->alts[e.index]) {
      Stack t = s;
      if (g->code[a].kind != Elem::End) t.push_back(a);
      expand(std::move(t), out);
    }
  }

  int32_t initial() {
    StackSet out;
    for (uint32_t a : g->alts[g->root]) {
      Stack t;
      if (g->code[a].kind != Elem::End) t.push_back(a);
      expand(std::move(t), out);
    }
    return intern(std::move(out));
  }

  int32_t next(int32_t id, uint32_t cp) {
    if (id == 0) return 0;
    if (cp < 128) {
      if (states[id].ascii[cp] >= 0) return states[id].ascii[cp];
    } else if (auto it = states[id].other.find(cp); it != states[id].other.end()) {
      return it->second;
    }
    StackSet out;
    for (const Stack& s : states[id].stacks) {
      if (s.empty()) continue;
      const uint32_t p = s.back();
      if (!g->sets[g->code[p].index].matches(cp)) continue;
      Stack t(s.begin(), s.end() - 1);
      if (g->code[p + 1].kind != Elem::End) t.push_back(p + 1);
      expand(std::move(t), out);
    }
    const int32_t n = out.empty() ? 0 : intern(std::move(out));
    if (cp < 128)
      states[id].ascii[cp] = n;
    else
      states[id].other.emplace(cp, n);
    return n;
  }

  // Whether some stack of `id` can match a character starting with the partial sequence u.
  bool may_complete(int32_t id, Utf8 u) const {
    const int bits = 6 * u.need;
    const uint32_t lo = std::max(u.val << bits, u.min), hi = std::min(u.val << bits | ((1u << bits) - 1), 0x10FFFFu);
    if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF)) return false;  // nothing valid starts this way
    for (const Stack& s : states[id].stacks)
      if (!s.empty() && g->sets[g->code[s.back()].index].matches_any(lo, hi)) return true;
    return false;
  }

  // One byte from (id, u); false when the text can no longer match.
  bool step(int32_t& id, Utf8& u, uint8_t b) {
    if (u.need == 0) {
      if (b < 0x80) {
        id = next(id, b);
        return id != 0;
      }
      if ((b & 0xE0) == 0xC0) u = {b & 0x1Fu, 1, 0x80};
      else if ((b & 0xF0) == 0xE0) u = {b & 0x0Fu, 2, 0x800};
      else if ((b & 0xF8) == 0xF0) u = {b & 0x07u, 3, 0x10000};
      else return false;  // a continuation byte or 0xF8+ cannot start a character
      return may_complete(id, u);
    }
    if ((b & 0xC0) != 0x80) return false;
    u.val = (u.val << 6) | (b & 0x3Fu);
    if (--u.need > 0) return may_complete(id, u);
    // Overlong forms ("{" as F0 80 81 BB), surrogates and values past U+10FFFF are not text.
    if (u.val < u.min || (u.val >= 0xD800 && u.val <= 0xDFFF) || u.val > 0x10FFFF) return false;
    id = next(id, u.val);
    u = {};
    return id != 0;
  }

  void compute_mask(int32_t id, Utf8 u, std::vector<uint64_t>& m) {
    const auto& nodes = vocab->nodes();
    const auto& toks = vocab->trie_tokens();
    m.assign((static_cast<size_t>(vocab->n_tokens()) + 63) / 64, 0);
    struct Item { uint32_t node; int32_t id; Utf8 u; };
    std::vector<Item> work{{0, id, u}};
    while (!work.empty()) {
      const Item it = work.back();
      work.pop_back();
      const auto& n = nodes[it.node];
      for (uint32_t c = n.child_begin; c < n.child_end; ++c) {
        int32_t nid = it.id;
        Utf8 nu = it.u;
        if (!step(nid, nu, nodes[c].byte)) continue;
        for (uint32_t t = nodes[c].tok_begin; t < nodes[c].tok_end; ++t) m[toks[t] >> 6] |= 1ull << (toks[t] & 63);
        if (nodes[c].child_begin < nodes[c].child_end) work.push_back({c, nid, nu});
      }
    }
    if (states[id].accepting && u.need == 0)
      for (int32_t e : vocab->eog_ids()) m[e >> 6] |= 1ull << (e & 63);
  }
};

Matcher::Matcher(std::shared_ptr<const Grammar> g, std::shared_ptr<const Vocab> vocab) : d_(std::make_unique<Impl>()) {
  if (!g) fail("grammar: no grammar");
  d_->g = std::move(g);
  d_->vocab = std::move(vocab);
  d_->clear_tables();
  d_->start = d_->cur = d_->initial();
}

Matcher::~Matcher() = default;

void Matcher::reset() {
  d_->cur = d_->start;
  d_->part = {};
}

bool Matcher::accept_bytes(std::string_view bytes) {
  int32_t id = d_->cur;
  Utf8 u = d_->part;
  for (char c : bytes)
    if (!d_->step(id, u, static_cast<uint8_t>(c))) return false;
  if (d_->states.size() > kMaxStates) {
    // Start the tables over, keeping only the current state (its id changes).
    StackSet keep = d_->states[id].stacks, first = d_->states[d_->start].stacks;
    d_->clear_tables();
    d_->start = d_->intern(std::move(first));
    id = d_->intern(std::move(keep));
  }
  d_->cur = id;
  d_->part = u;
  return true;
}

bool Matcher::accept_token(int32_t id) {
  if (!d_->vocab) fail("grammar: no vocabulary");
  if (id < 0 || id >= d_->vocab->n_tokens()) return false;
  if (d_->vocab->is_eog(id)) return can_end();
  const std::string& b = d_->vocab->bytes(id);
  return !b.empty() && accept_bytes(b);
}

bool Matcher::allows(int32_t id) {
  if (!d_->vocab) fail("grammar: no vocabulary");
  if (id < 0 || id >= d_->vocab->n_tokens()) return false;
  if (d_->vocab->is_eog(id)) return can_end();
  const std::string& b = d_->vocab->bytes(id);
  if (b.empty()) return false;
  int32_t s = d_->cur;
  Utf8 u = d_->part;
  for (char c : b)
    if (!d_->step(s, u, static_cast<uint8_t>(c))) return false;
  return true;
}

const std::vector<uint64_t>& Matcher::mask() {
  if (!d_->vocab) fail("grammar: no vocabulary");
  if (d_->part.need > 0) {
    d_->compute_mask(d_->cur, d_->part, d_->scratch);
    return d_->scratch;
  }
  auto& st = d_->states[d_->cur];
  if (st.mask.empty()) {
    const size_t bytes = (static_cast<size_t>(d_->vocab->n_tokens()) + 63) / 64 * 8;
    if (d_->masks_bytes + bytes > kMaskBudget) {
      for (auto& s : d_->states) std::vector<uint64_t>().swap(s.mask);
      d_->masks_bytes = 0;
    }
    std::vector<uint64_t> m;
    d_->compute_mask(d_->cur, {}, m);
    d_->states[d_->cur].mask = std::move(m);  // compute_mask may have grown states
    d_->masks_bytes += bytes;
  }
  return d_->states[d_->cur].mask;
}

bool Matcher::can_end() const { return d_->part.need == 0 && d_->states[d_->cur].accepting; }

bool Matcher::finished() const {
  return can_end() && d_->states[d_->cur].stacks.size() == 1;  // only the empty stack is left
}

size_t Matcher::n_states() const { return d_->states.size(); }

bool matches(const Grammar& g, std::string_view text) {
  Matcher m(std::shared_ptr<const Grammar>(&g, [](const Grammar*) {}), nullptr);
  return m.accept_bytes(text) && m.can_end();
}

}  // namespace pocketllm::grammar
