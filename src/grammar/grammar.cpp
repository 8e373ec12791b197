#include "grammar/grammar.h"

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "core/error.h"

namespace pocketllm::grammar {

bool CharSet::matches(uint32_t cp) const {
  bool in = false;
  for (auto [lo, hi] : ranges)
    if (cp >= lo && cp <= hi) {
      in = true;
      break;
    }
  return in != negated;
}

bool CharSet::matches_any(uint32_t lo, uint32_t hi) const {
  if (!negated) {
    for (auto [a, b] : ranges)
      if (a <= hi && b >= lo) return true;
    return false;
  }
  // Negated: some point of [lo, hi] lies outside every (sorted, merged) range.
  uint32_t next = lo;
  for (auto [a, b] : ranges) {
    if (b < next) continue;
    if (a > next) return true;
    if (b >= hi) return false;
    next = b + 1;
  }
  return next <= hi;
}

namespace {

constexpr int kMaxRepeat = 10000;  // bound on {m,n}: each copy is expanded
// Grammars come from requests too: bounds on what one may cost to hold and parse.
constexpr int kMaxNesting = 256;                 // groups within groups (the parser recurses)
constexpr size_t kMaxExpanded = size_t{1} << 20;  // elements written by repetitions

using Seq = std::vector<Elem>;

class Parser {
 public:
  explicit Parser(std::string_view src) : s_(src) {}

  std::shared_ptr<const Grammar> run(std::string_view root_name) {
    while (true) {
      skip(true);
      if (at_end()) break;
      const size_t name_pos = p_;
      std::string name = parse_name();
      const uint32_t id = rule_id(name, name_pos);
      if (defined_[id]) error_at(name_pos, "rule '{}' is defined twice", name);
      defined_[id] = true;
      skip(false);
      if (s_.substr(p_, 3) != "::=") error("expected '::=' after the rule name '{}'", name);
      p_ += 3;
      skip(true);
      rules_[id] = parse_alternatives(name, 0);
      skip(false);
      if (!at_end() && s_[p_] != '\n') error("unexpected '{}' (a rule ends at the end of its line)", show(p_));
    }
    for (uint32_t i = 0; i < names_.size(); ++i)
      if (!defined_[i]) error_at(first_ref_[i], "rule '{}' is used but not defined", names_[i]);
    auto it = ids_.find(std::string(root_name));
    if (it == ids_.end()) fail("grammar: no '{}' rule (the start rule)", root_name);
    return finish(it->second);
  }

 private:
  std::string_view s_;
  size_t p_ = 0;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::vector<bool> defined_;
  std::vector<size_t> first_ref_;
  std::vector<std::vector<Seq>> rules_;
  size_t expanded_ = 0;  // elements written by repeat() so far (kMaxExpanded)
  std::vector<CharSet> sets_;

  bool at_end() const { return p_ >= s_.size(); }

  std::pair<int, int> line_col(size_t pos) const {
    int line = 1, col = 1;
    for (size_t i = 0; i < pos && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else if ((static_cast<unsigned char>(s_[i]) & 0xC0) != 0x80) {
        ++col;  // columns count characters, not bytes
      }
    }
    return {line, col};
  }
  template <class... A>
  [[noreturn]] void error_at(size_t pos, fmt::format_string<A...> f, A&&... a) const {
    auto [line, col] = line_col(pos);
    fail("grammar: line {}, column {}: {}", line, col, fmt::format(f, std::forward<A>(a)...));
  }
  template <class... A>
  [[noreturn]] void error(fmt::format_string<A...> f, A&&... a) const {
    error_at(p_, f, std::forward<A>(a)...);
  }
  std::string show(size_t pos) const {
    if (pos >= s_.size()) return "end of input";
    const unsigned char c = static_cast<unsigned char>(s_[pos]);
    if (c == '\n') return "\\n";
    if (c < 0x20) return fmt::format("\\x{:02X}", c);
    size_t n = 1;
    while (pos + n < s_.size() && (static_cast<unsigned char>(s_[pos + n]) & 0xC0) == 0x80) ++n;
    return std::string(s_.substr(pos, n));
  }

  // Spaces, tabs and comments; newlines too when `newlines` (inside groups, after ::= and |).
  void skip(bool newlines) {
    while (!at_end()) {
      const char c = s_[p_];
      if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++p_;
      } else if (c == '#') {
        while (!at_end() && s_[p_] != '\n') ++p_;
      } else {
        break;
      }
    }
  }

  static bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  }
  std::string parse_name() {
    const size_t start = p_;
    while (!at_end() && name_char(s_[p_])) ++p_;
    if (p_ == start) error("expected a rule name, found '{}'", show(p_));
    return std::string(s_.substr(start, p_ - start));
  }

  uint32_t rule_id(const std::string& name, size_t pos) {
    auto [it, added] = ids_.try_emplace(name, static_cast<uint32_t>(names_.size()));
    if (added) {
      names_.push_back(name);
      defined_.push_back(false);
      first_ref_.push_back(pos);
      rules_.emplace_back();
    }
    return it->second;
  }
  uint32_t new_rule(const std::string& parent, std::vector<Seq> alts) {
    std::string name;
    for (int k = static_cast<int>(names_.size());; ++k) {
      name = fmt::format("{}-{}", parent, k);
      if (!ids_.count(name)) break;
    }
    const uint32_t id = rule_id(name, p_);
    defined_[id] = true;
    rules_[id] = std::move(alts);
    return id;
  }
  uint32_t add_set(CharSet cs) {
    auto& r = cs.ranges;
    std::sort(r.begin(), r.end());
    std::vector<std::pair<uint32_t, uint32_t>> merged;
    for (auto x : r) {
      if (!merged.empty() && x.first <= merged.back().second + 1)
        merged.back().second = std::max(merged.back().second, x.second);
      else
        merged.push_back(x);
    }
    r = std::move(merged);
    sets_.push_back(std::move(cs));
    return static_cast<uint32_t>(sets_.size() - 1);
  }
  Elem chars(CharSet cs) { return {Elem::Chars, add_set(std::move(cs))}; }

  uint32_t decode_utf8() {
    const unsigned char c = static_cast<unsigned char>(s_[p_]);
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) error("invalid UTF-8 byte 0x{:02X}", c);
    uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    const size_t start = p_++;
    for (int i = 0; i < n; ++i, ++p_) {
      if (at_end() || (static_cast<unsigned char>(s_[p_]) & 0xC0) != 0x80) error_at(start, "invalid UTF-8 sequence");
      cp = (cp << 6) | (static_cast<unsigned char>(s_[p_]) & 0x3F);
    }
    return cp;
  }
  uint32_t parse_hex(int digits) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i, ++p_) {
      if (at_end()) error("expected {} hex digits", digits);
      const char c = s_[p_];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) error("expected a hex digit, found '{}'", show(p_));
      v = v * 16 + static_cast<uint32_t>(d);
    }
    if (v > 0x10FFFF) error_at(p_ - static_cast<size_t>(digits), "code point U+{:X} is beyond U+10FFFF", v);
    return v;
  }
  // One character of a literal or class, escapes decoded.
  uint32_t parse_char() {
    if (at_end()) error("unexpected end of input");
    if (s_[p_] != '\\') return decode_utf8();
    const size_t start = p_++;
    if (at_end()) error("unexpected end of input after '\\'");
    const char c = s_[p_++];
    switch (c) {
      case 'x': return parse_hex(2);
      case 'u': return parse_hex(4);
      case 'U': return parse_hex(8);
      case 't': return '\t';
      case 'n': return '\n';
      case 'r': return '\r';
      case '\\': case '"': case '[': case ']': case '-': case '^': case '/': case '\'': return static_cast<uint32_t>(c);
      default: error_at(start, "unknown escape '\\{}'", show(p_ - 1));
    }
  }

  std::vector<Seq> parse_alternatives(const std::string& rule, int depth) {
    std::vector<Seq> alts;
    alts.push_back(parse_sequence(rule, depth));
    while (true) {
      skip(depth > 0);
      if (at_end() || s_[p_] != '|') break;
      ++p_;
      skip(true);
      alts.push_back(parse_sequence(rule, depth));
    }
    return alts;
  }

  Seq parse_sequence(const std::string& rule, int depth) {
    Seq seq;
    size_t last = std::string::npos;  // start in seq of the last item (what a repetition applies to)
    while (true) {
      skip(depth > 0);
      if (at_end()) break;
      const char c = s_[p_];
      if (c == '"') {
        ++p_;
        last = seq.size();
        while (true) {
          if (at_end() || s_[p_] == '\n') error("unterminated string literal");
          if (s_[p_] == '"') break;
          const uint32_t cp = parse_char();
          seq.push_back(chars({{{cp, cp}}, false}));
        }
        ++p_;
      } else if (c == '[') {
        const size_t start = p_++;
        CharSet cs;
        if (!at_end() && s_[p_] == '^') {
          cs.negated = true;
          ++p_;
        }
        while (true) {
          if (at_end() || s_[p_] == '\n') error_at(start, "unterminated character class");
          if (s_[p_] == ']') break;
          const size_t cpos = p_;
          const uint32_t lo = parse_char();
          uint32_t hi = lo;
          if (p_ + 1 < s_.size() && s_[p_] == '-' && s_[p_ + 1] != ']' && s_[p_ + 1] != '\n') {
            ++p_;
            hi = parse_char();
            if (hi < lo) error_at(cpos, "character range is reversed (U+{:04X} > U+{:04X})", lo, hi);
          }
          cs.ranges.push_back({lo, hi});
        }
        ++p_;
        last = seq.size();
        seq.push_back(chars(std::move(cs)));
      } else if (c == '.') {
        ++p_;
        last = seq.size();
        seq.push_back(chars({{}, true}));
      } else if (c == '(') {
        if (depth >= kMaxNesting) error("groups nested deeper than {}", kMaxNesting);
        const size_t open = p_++;
        skip(true);
        auto alts = parse_alternatives(rule, depth + 1);
        skip(true);
        if (at_end() || s_[p_] != ')') error_at(open, "'(' is not closed");
        ++p_;
        last = seq.size();
        seq.push_back({Elem::Ref, new_rule(rule, std::move(alts))});
      } else if (name_char(c)) {
        const size_t pos = p_;
        const std::string name = parse_name();
        last = seq.size();
        seq.push_back({Elem::Ref, rule_id(name, pos)});
      } else if (c == '*' || c == '+' || c == '?' || c == '{') {
        if (last == std::string::npos) error("'{}' has nothing before it to repeat", c);
        const size_t op = p_++;
        int lo = 0, hi = -1;
        if (c == '+') lo = 1;
        if (c == '?') hi = 1;
        if (c == '{') parse_braces(op, lo, hi);
        Seq item(seq.begin() + static_cast<std::ptrdiff_t>(last), seq.end());
        seq.resize(last);
        repeat(rule, item, lo, hi, seq);
        last = std::string::npos;  // "a"** is an error, as in llama.cpp
      } else if (c == '|' || c == ')' || c == '\n') {
        break;
      } else {
        error("unexpected '{}'", show(p_));
      }
    }
    return seq;
  }

  int parse_int() {
    const size_t start = p_;
    long v = 0;
    while (!at_end() && s_[p_] >= '0' && s_[p_] <= '9') {
      v = v * 10 + (s_[p_++] - '0');
      if (v > kMaxRepeat) error_at(start, "repetition count above {}", kMaxRepeat);
    }
    return p_ == start ? -1 : static_cast<int>(v);
  }
  void parse_braces(size_t op, int& lo, int& hi) {
    skip(false);
    lo = parse_int();
    skip(false);
    if (!at_end() && s_[p_] == ',') {
      ++p_;
      skip(false);
      hi = parse_int();  // -1: unbounded
      if (lo < 0) lo = 0;
    } else {
      if (lo < 0) error("expected a number in '{{...}}'");
      hi = lo;
    }
    skip(false);
    if (at_end() || s_[p_] != '}') error_at(op, "'{{' is not closed by '}}'");
    ++p_;
    if (hi >= 0 && hi < lo) error_at(op, "repetition {{{},{}}} has its maximum below its minimum", lo, hi);
  }

  // Appends `item` repeated lo..hi times (hi < 0: unbounded) to out, as extra rules:
  // x* -> R ::= x R | ""; x{0,n} -> O_n ::= x O_{n-1} | "" (nested, so each copy is optional after the previous).
  void repeat(const std::string& rule, const Seq& item, int lo, int hi, Seq& out) {
    expanded_ += item.size() * static_cast<size_t>(std::max(lo, hi) + 1);
    if (expanded_ > kMaxExpanded) error("repetitions expand to more than {} elements", kMaxExpanded);
    for (int i = 0; i < lo; ++i) out.insert(out.end(), item.begin(), item.end());
    if (hi < 0) {
      const uint32_t r = new_rule(rule, {});
      Seq again = item;
      again.push_back({Elem::Ref, r});
      rules_[r] = {again, Seq{}};
      out.push_back({Elem::Ref, r});
      return;
    }
    uint32_t prev = UINT32_MAX;
    for (int k = 0; k < hi - lo; ++k) {
      Seq one = item;
      if (prev != UINT32_MAX) one.push_back({Elem::Ref, prev});
      prev = new_rule(rule, {one, Seq{}});
    }
    if (prev != UINT32_MAX) out.push_back({Elem::Ref, prev});
  }

  std::shared_ptr<const Grammar> finish(uint32_t root) {
    const size_t n = rules_.size();
    // Nullable rules (can match the empty string), to a fixpoint.
    std::vector<bool> nullable(n, false);
    auto seq_nullable_upto = [&](const Seq& s, size_t k) {
      for (size_t i = 0; i < k; ++i)
        if (s[i].kind == Elem::Chars || !nullable[s[i].index]) return false;
      return true;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r)
        if (!nullable[r])
          for (auto& a : rules_[r])
            if (seq_nullable_upto(a, a.size())) {
              nullable[r] = changed = true;
              break;
            }
    }
    // Left recursion: a rule reaching itself through leftmost refs (after nullable
    // prefixes) would expand forever.
    std::vector<std::vector<uint32_t>> left(n);
    for (size_t r = 0; r < n; ++r)
      for (auto& a : rules_[r])
        for (size_t i = 0; i < a.size() && seq_nullable_upto(a, i); ++i)
          if (a[i].kind == Elem::Ref) left[r].push_back(a[i].index);
    std::vector<int> color(n, 0);  // 0 new, 1 on the path, 2 done
    std::vector<uint32_t> path;
    std::function<void(uint32_t)> visit = [&](uint32_t r) {
      color[r] = 1;
      path.push_back(r);
      for (uint32_t t : left[r]) {
        if (color[t] == 1) {
          std::string cycle;
          for (size_t i = std::find(path.begin(), path.end(), t) - path.begin(); i < path.size(); ++i)
            cycle += names_[path[i]] + " -> ";
          fail("grammar: left recursion: {}{} (a rule may not reach itself before matching a character)", cycle,
               names_[t]);
        }
        if (color[t] == 0) visit(t);
      }
      path.pop_back();
      color[r] = 2;
    };
    for (uint32_t r = 0; r < n; ++r)
      if (color[r] == 0) visit(r);

    auto g = std::make_shared<Grammar>();
    g->names = std::move(names_);
    g->sets = std::move(sets_);
    g->root = root;
    g->alts.resize(n);
    for (size_t r = 0; r < n; ++r)
      for (auto& a : rules_[r]) {
        g->alts[r].push_back(static_cast<uint32_t>(g->code.size()));
        g->code.insert(g->code.end(), a.begin(), a.end());
        g->code.push_back({Elem::End, 0});
      }
    return g;
  }
};

}  // namespace

std::shared_ptr<const Grammar> parse_gbnf(std::string_view text, std::string_view root) {
  return Parser(text).run(root);
}

}  // namespace pocketllm::grammar
