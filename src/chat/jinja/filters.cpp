// Jinja2's built-in filters and tests, with python-jinja2 3.1 behaviour (and transformers'
// tojson). Filters that return generators in Python return single-pass generator values.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/text.h"

namespace pocketllm::chat::jinja {

namespace {

int64_t length_of(const Value& v) {
  switch (v.type) {
    case Value::Type::Undefined: return 0;
    case Value::Type::String: return static_cast<int64_t>(text::length(v.text()));
    case Value::Type::Array:
      if (v.is_generator) fail("object of type 'generator' has no len()");
      return static_cast<int64_t>(v.array->size());
    case Value::Type::Object:
      if (v.is_namespace()) fail("object of type 'Namespace' has no len()");
      return static_cast<int64_t>(v.object->items.size());
    default: fail("object of type '{}' has no len()", v.type_name());
  }
}

// Jinja's make_attrgetter: "a.b.0" walks attributes/items; Undefined when missing.
Value attribute_of(Interpreter& in, const Value& item, const std::string& path) {
  Value v = item;
  for (const auto& part : text::split_on(path, ".", -1)) {
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    v = in.getitem(v, numeric ? Value::from_int(std::atoll(part.c_str())) : Value::from_string(part));
  }
  return v;
}

// Sort key helper: lower-cases strings unless case sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::from_string(text::lower(v.text()));
  return v;
}

std::string soft_str(const Value& v) { return v.str(); }

bool run_test(Interpreter& in, const Value& name, const Value& item, const std::vector<Value>& extra) {
  CallArgs a;
  a.positional = extra;
  return apply_test(in, name.str(), item, a);
}

// select / reject / selectattr / rejectattr
Value select_filter(Interpreter& in, const Value& input, CallArgs& args, bool by_attr, bool keep) {
  std::vector<Value> pos = args.positional;
  std::string attr;
  if (by_attr) {
    if (pos.empty()) fail("missing attribute for {}", keep ? "selectattr" : "rejectattr");
    attr = pos[0].str();
    pos.erase(pos.begin());
  }
  Value test_name;
  if (!pos.empty()) {
    test_name = pos[0];
    pos.erase(pos.begin());
  }
  Array out;
  if (!input.truthy()) return Value::generator({});  // jinja2 guards with `if value:`
  for (const auto& item : in.iterate(input)) {
    in.add_work(1);
    Value v = by_attr ? attribute_of(in, item, attr) : item;
    bool r = test_name.is_undefined() ? v.truthy() : run_test(in, test_name, v, pos);
    if (r == keep) out.push_back(item);
  }
  return Value::generator(std::move(out));
}

Value round_value(const Value& v, int64_t precision, const std::string& method) {
  if (!v.is_number()) fail("type {} doesn't define __round__ method", v.type_name());
  if (method == "common") {
    if (v.is_integral()) {
      if (precision >= 0) return Value::from_int(v.as_int());
      if (precision < -18) return Value::from_int(0);
      int64_t p = 1;
      for (int64_t k = 0; k < -precision; ++k) p *= 10;
      int64_t x = v.as_int(), q = x / p, r = x % p;
      if (r < 0) {
        r += p;
        --q;
      }
      if (2 * r > p || (2 * r == p && (q & 1))) ++q;  // round half to even, like Python
      return Value::from_int(q * p);
    }
    double x = v.as_double();
    if (precision >= 0 && precision < 300 && std::isfinite(x)) {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(precision), x);  // exact half-even like Python
      return Value::from_float(std::strtod(buf, nullptr));
    }
    double p = std::pow(10.0, static_cast<double>(precision));
    return Value::from_float(std::nearbyint(x * p) / p);
  }
  double p = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * p;
  if (method == "ceil") return Value::from_float(std::ceil(x) / p);
  if (method == "floor") return Value::from_float(std::floor(x) / p);
  fail("method must be common, ceil or floor");
}

// Python float(str): surrounding whitespace, '_' between digits, inf/nan; no hex.
bool parse_python_float(const std::string& raw, double& out) {
  std::string s = text::strip(raw, true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      if (i == 0 || i + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i - 1])) ||
          !std::isdigit(static_cast<unsigned char>(s[i + 1])))
        return false;
      continue;
    }
    if (s[i] == 'x' || s[i] == 'X' || s[i] == 'p' || s[i] == 'P') return false;
    clean += s[i];
  }
  if (clean.empty()) return false;
  char* end = nullptr;
  out = std::strtod(clean.c_str(), &end);
  return end && *end == 0;
}

// Python int(str, base): sign, optional 0x/0o/0b prefix matching the base (or base 0), '_' separators.
bool parse_python_int(const std::string& raw, int base, int64_t& out) {
  std::string s = text::strip(raw, true, true);
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  if (i + 1 < s.size() && s[i] == '0') {
    char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 1])));
    int pb = p == 'x' ? 16 : p == 'o' ? 8 : p == 'b' ? 2 : 0;
    if (pb && (base == 0 || base == pb)) {
      base = pb;
      i += 2;
      if (i < s.size() && s[i] == '_') ++i;
    }
  }
  if (base == 0) base = 10;
  if (base < 2 || base > 36 || i >= s.size()) return false;
  __int128 v = 0;
  bool prev_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '_') {
      if (!prev_digit || i + 1 >= s.size()) return false;
      prev_digit = false;
      continue;
    }
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::isalpha(static_cast<unsigned char>(c)) ? std::tolower(c) - 'a' + 10 : 99;
    if (d >= base) return false;
    v = v * base + d;
    if (v > static_cast<__int128>(INT64_MAX) + 1) fail("integer too large");
    prev_digit = true;
  }
  if (!prev_digit) return false;
  if (neg) v = -v;
  if (v > INT64_MAX) fail("integer too large");
  out = static_cast<int64_t>(v);
  return true;
}

Value to_int(const Value& v, const Value& def, int base) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_integral()) return Value::from_int(v.as_int());
  double d = 0;
  if (v.type == Value::Type::Float) {
    d = v.number;
  } else if (v.is_string()) {
    int64_t i = 0;
    if (parse_python_int(v.text(), base, i)) return Value::from_int(i);
    if (!parse_python_float(v.text(), d)) return def;
  } else {
    return def;
  }
  if (std::isnan(d)) return def;
  if (std::isinf(d)) fail("cannot convert float infinity to integer");
  if (std::fabs(d) >= 9.2e18) fail("integer too large");
  return Value::from_int(static_cast<int64_t>(std::trunc(d)));
}

Value to_float(const Value& v, const Value& def) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value::from_float(v.as_double());
  double d = 0;
  if (v.is_string() && parse_python_float(v.text(), d)) return Value::from_float(d);
  return def;
}

std::string indent_text(const std::string& s, const Value& width, bool first, bool blank) {
  std::string ind = width.is_string() ? width.text() : std::string(static_cast<size_t>(std::clamp<int64_t>(width.is_undefined() ? 4 : width.as_int(), 0, 1 << 20)), ' ');
  auto lines = text::splitlines(s + "\n", false);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
  }
  return first ? ind + rv : rv;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string truncate_text(const std::string& s, int64_t length, bool killwords, const std::string& end, int64_t leeway) {
  auto cps = text::decode(s);
  int64_t n = static_cast<int64_t>(cps.size());
  int64_t end_len = static_cast<int64_t>(text::length(end));
  if (length < end_len) fail("expected length >= {}, got {}", end_len, length);
  if (n <= length + leeway) return s;
  if (killwords) return text::encode(cps, 0, static_cast<size_t>(length - end_len)) + end;
  std::string head = text::encode(cps, 0, static_cast<size_t>(length - end_len));
  size_t sp = head.rfind(' ');
  if (sp != std::string::npos) head = head.substr(0, sp);
  return head + end;
}

}  // namespace

Value apply_filter(Interpreter& in, const std::string& name, const Value& v, CallArgs& args) {
  auto p = [&](std::vector<const char*> names) { return args.bind(name.c_str(), names); };
  auto needs_defined = [&]() {
    if (v.is_undefined()) fail_undefined(v);
  };
  if (name == "tojson") {
    auto a = p({"ensure_ascii", "indent", "separators", "sort_keys"});
    JsonDumpOptions o;
    o.ensure_ascii = a[0].truthy();
    o.sort_keys = a[3].truthy();
    if (!a[1].is_undefined() && !a[1].is_none()) {
      o.has_indent = true;
      o.item_separator = ",";
      o.indent = a[1].is_string() ? a[1].text() : std::string(static_cast<size_t>(std::clamp<int64_t>(a[1].as_int(), 0, 64)), ' ');
    }
    if (a[2].is_array() && a[2].array->size() == 2) {
      o.item_separator = (*a[2].array)[0].str();
      o.key_separator = (*a[2].array)[1].str();
    }
    std::string out = json_dumps(v, o);
    in.check_size(out.size());
    return Value::from_string(std::move(out));
  }
  if (name == "trim") {
    auto a = p({"chars"});
    if (a[0].is_string()) return Value::from_string(text::strip_chars(soft_str(v), a[0].text(), true, true));
    return Value::from_string(text::strip(soft_str(v), true, true));
  }
  if (name == "length" || name == "count") return p({}), Value::from_int(length_of(v));
  if (name == "default" || name == "d") {
    auto a = p({"default_value", "boolean"});
    if (v.is_undefined() || (a[1].truthy() && !v.truthy())) return a[0].is_undefined() ? Value::from_string("") : a[0];
    return v;
  }
  if (name == "upper") return Value::from_string(text::upper(soft_str(v)));
  if (name == "lower") return Value::from_string(text::lower(soft_str(v)));
  if (name == "capitalize") return Value::from_string(text::capitalize(soft_str(v)));
  if (name == "title") return Value::from_string(text::title_filter(soft_str(v)));
  if (name == "string") return Value::from_string(soft_str(v));
  if (name == "safe" || name == "e" || name == "escape" || name == "forceescape") {
    p({});
    if (v.is_markup && name != "forceescape") return v;
    Value m = Value::from_string(name == "safe" ? soft_str(v) : escape_html(soft_str(v)));
    m.is_markup = true;
    return m;
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::generator({});
    if (!v.is_object() || v.is_namespace()) fail("Can only get item pairs from a mapping.");
    Array out;
    for (const auto& [k, val] : v.object->items) out.push_back(Value::from_array({k, val}, true));
    return Value::generator(std::move(out));
  }
  if (name == "list") {
    if (v.is_string() || v.is_array() || v.is_object() || v.is_undefined()) return Value::from_array(in.iterate(v));
    fail("'{}' object is not iterable", v.type_name());
  }
  if (name == "join") {
    auto a = p({"d", "attribute"});
    std::string sep = a[0].is_undefined() ? "" : a[0].str();
    std::string out;
    bool first = true;
    for (const auto& item : in.iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += a[1].is_undefined() || a[1].is_none() ? item.str() : attribute_of(in, item, a[1].str()).str();
      in.check_size(out.size(), false);
    }
    in.check_size(out.size());
    return Value::from_string(std::move(out));
  }
  if (name == "first") {
    p({});
    auto items = in.iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
  }
  if (name == "last") {
    p({});
    if (v.is_generator) fail("'generator' object is not reversible");
    auto items = in.iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) return Value::from_string(text::encode([&] { auto c = text::decode(v.text()); std::reverse(c.begin(), c.end()); return c; }()));
    auto items = in.iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::generator(std::move(items));
  }
  if (name == "int") {
    auto a = p({"default", "base"});
    int base = a[1].is_undefined() ? 10 : static_cast<int>(a[1].as_int());
    return to_int(v, a[0].is_undefined() ? Value::from_int(0) : a[0], base);
  }
  if (name == "float") {
    auto a = p({"default"});
    return to_float(v, a[0].is_undefined() ? Value::from_float(0.0) : a[0]);
  }
  if (name == "abs") {
    needs_defined();
    if (v.type == Value::Type::Float) return Value::from_float(std::fabs(v.number));
    if (v.is_integral()) {
      if (v.as_int() == INT64_MIN) fail("integer overflow");
      return Value::from_int(std::llabs(v.as_int()));
    }
    fail("bad operand type for abs(): '{}'", v.type_name());
  }
  if (name == "round") {
    auto a = p({"precision", "method"});
    needs_defined();
    return round_value(v, a[0].is_undefined() ? 0 : a[0].as_int(), a[1].is_undefined() ? "common" : a[1].str());
  }
  if (name == "replace") {
    auto a = p({"old", "new", "count"});
    int64_t count = a[2].is_undefined() || a[2].is_none() ? -1 : a[2].as_int();
    std::string r = text::replace(soft_str(v), a[0].str(), a[1].str(), count);
    in.check_size(r.size());
    return Value::from_string(std::move(r));
  }
  if (name == "indent") {
    auto a = p({"width", "first", "blank"});
    needs_defined();
    if (!v.is_string()) fail("unsupported operand type(s) for +=: '{}' and 'str'", v.type_name());
    std::string r = indent_text(v.text(), a[0], a[1].truthy(), a[2].truthy());
    in.check_size(r.size());
    return Value::from_string(std::move(r));
  }
  if (name == "center") {
    auto a = p({"width"});
    int64_t w = a[0].is_undefined() ? 80 : a[0].as_int();
    in.check_size(static_cast<size_t>(std::max<int64_t>(w, 0)));
    CallArgs ca;
    ca.positional.push_back(Value::from_int(w));
    return call_method(in, Value::from_string(soft_str(v)), "center", ca);
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char c : soft_str(v)) {
      bool w = std::isalnum(c) || c == '_' || c >= 0x80;
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::from_int(n);
  }
  if (name == "truncate") {
    auto a = p({"length", "killwords", "end", "leeway"});
    if (!v.is_string() && !v.is_undefined()) {  // jinja2 takes len() of the raw value
      int64_t n = length_of(v);
      if (n <= (a[0].is_undefined() ? 255 : a[0].as_int()) + (a[3].is_undefined() ? 5 : a[3].as_int())) return v;
      fail("truncate of a non-string value is not supported");
    }
    return Value::from_string(truncate_text(soft_str(v), a[0].is_undefined() ? 255 : a[0].as_int(), a[1].truthy(),
                                            a[2].is_undefined() ? "..." : a[2].str(), a[3].is_undefined() ? 5 : a[3].as_int()));
  }
  if (name == "format") {
    Value tuple = Value::from_array(args.positional, true);
    if (!args.named.empty()) {
      tuple = Value::new_object();
      for (auto& [k, val] : args.named) tuple.object->set(Value::from_string(k), val);
    }
    return Value::from_string(percent_format(in, soft_str(v), tuple));
  }
  if (name == "attr") {
    auto a = p({"name"});
    needs_defined();
    std::string n = a[0].str();
    if (is_method(v, n) || is_unsafe_method(v, n)) return in.getattr(v, n);
    if (v.is_namespace()) return in.getattr(v, n);
    return Value::undefined(fmt::format("'{}' object has no attribute '{}'", v.type_name(), n));
  }
  if (name == "map") {
    Array out;
    auto items = v.truthy() ? in.iterate(v) : std::vector<Value>{};  // jinja2 guards with `if value:`
    std::string attribute;
    Value def;
    bool by_attr = false;
    for (auto& [k, val] : args.named) {
      if (k == "attribute") {
        by_attr = true;
        attribute = val.str();
      } else if (k == "default") {
        def = val;
      } else if (args.positional.empty()) {
        fail("map() got an unexpected keyword argument '{}'", k);
      }
    }
    if (!by_attr && args.positional.empty()) fail("map requires a filter argument");
    for (const auto& item : items) {
      in.add_work(1);
      if (by_attr) {
        Value r = attribute_of(in, item, attribute);
        out.push_back(r.is_undefined() && !def.is_undefined() ? def : r);
      } else {
        CallArgs fa;
        fa.positional.assign(args.positional.begin() + 1, args.positional.end());
        fa.named = args.named;
        out.push_back(apply_filter(in, args.positional[0].str(), item, fa));
      }
    }
    return Value::generator(std::move(out));
  }
  if (name == "select") return select_filter(in, v, args, false, true);
  if (name == "reject") return select_filter(in, v, args, false, false);
  if (name == "selectattr") return select_filter(in, v, args, true, true);
  if (name == "rejectattr") return select_filter(in, v, args, true, false);
  if (name == "sort" || name == "unique" || name == "min" || name == "max") {
    auto a = name == "sort" ? p({"reverse", "case_sensitive", "attribute"}) : p({"case_sensitive", "attribute"});
    bool reverse = name == "sort" && a[0].truthy();
    bool cs = (name == "sort" ? a[1] : a[0]).truthy();
    Value attr = name == "sort" ? a[2] : a[1];
    auto items = in.iterate(v);
    in.add_work(static_cast<int64_t>(items.size()));
    auto key = [&](const Value& item) {
      return sort_key(attr.is_undefined() || attr.is_none() ? item : attribute_of(in, item, attr.str()), cs);
    };
    if (name == "unique") {
      Array out;
      std::vector<Value> seen;
      for (const auto& item : items) {
        Value k = key(item);
        if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, k); })) {
          seen.push_back(k);
          out.push_back(item);
        }
      }
      return Value::generator(std::move(out));
    }
    if (name == "min" || name == "max") {
      if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
      size_t best = 0;
      for (size_t i = 1; i < items.size(); ++i) {
        bool better = name == "min" ? values_less(key(items[i]), key(items[best])) : values_less(key(items[best]), key(items[i]));
        if (better) best = i;
      }
      return items[best];
    }
    std::vector<std::pair<Value, Value>> keyed;
    for (auto& item : items) keyed.emplace_back(key(item), item);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
      return reverse ? values_less(y.first, x.first) : values_less(x.first, y.first);
    });
    Array out;
    for (auto& kv : keyed) out.push_back(std::move(kv.second));
    return Value::from_array(std::move(out));
  }
  if (name == "dictsort") {
    auto a = p({"case_sensitive", "by", "reverse"});
    needs_defined();
    if (!v.is_object() || v.is_namespace()) fail("'{}' object has no attribute 'items'", v.type_name());
    bool by_value = a[1].is_string() && a[1].text() == "value";
    if (a[1].is_string() && a[1].text() != "key" && a[1].text() != "value") fail("You can only sort by either 'key' or 'value'");
    std::vector<std::pair<Value, Value>> items(v.object->items.begin(), v.object->items.end());
    bool cs = a[0].truthy(), rev = a[2].truthy();
    std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
      Value kx = sort_key(by_value ? x.second : x.first, cs), ky = sort_key(by_value ? y.second : y.first, cs);
      return rev ? values_less(ky, kx) : values_less(kx, ky);
    });
    Array out;
    for (auto& [k, val] : items) out.push_back(Value::from_array({k, val}, true));
    return Value::from_array(std::move(out));
  }
  if (name == "sum") {
    auto a = p({"attribute", "start"});
    Value total = a[1].is_undefined() ? Value::from_int(0) : a[1];
    for (const auto& item : in.iterate(v))
      total = binary_op(in, "+", total, a[0].is_undefined() || a[0].is_none() ? item : attribute_of(in, item, a[0].str()));
    return total;
  }
  if (name == "batch") {
    auto a = p({"linecount", "fill_with"});
    int64_t n = a[0].is_integral() ? a[0].as_int() : 0;
    if (n <= 0) fail("batch size must be positive");
    Array out, cur;
    for (const auto& item : in.iterate(v)) {
      cur.push_back(item);
      if (static_cast<int64_t>(cur.size()) == n) {
        out.push_back(Value::from_array(std::move(cur)));
        cur.clear();
      }
    }
    if (!cur.empty()) {
      if (!a[1].is_undefined() && !a[1].is_none())
        while (static_cast<int64_t>(cur.size()) < n) cur.push_back(a[1]);
      out.push_back(Value::from_array(std::move(cur)));
    }
    return Value::generator(std::move(out));
  }
  if (name == "pprint") return Value::from_string(v.repr());
  fail("no filter named '{}'", name);
}

bool apply_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& args) {
  auto arg = [&](const char* what) {
    auto a = args.bind(name.c_str(), {what});
    return a[0];
  };
  using T = Value::Type;
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.type == T::Bool;
  if (name == "true") return v.type == T::Bool && v.boolean;
  if (name == "false") return v.type == T::Bool && !v.boolean;
  if (name == "integer") return v.type == T::Int;
  if (name == "float") return v.type == T::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object() && !v.is_namespace();
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_array() || (v.is_object() && !v.is_namespace());
  if (name == "sequence")
    return v.is_undefined() || v.is_string() || (v.is_array() && !v.is_generator) || (v.is_object() && !v.is_namespace());
  if (name == "callable") return v.type == T::Callable || v.is_undefined();  // Undefined has __call__
  if (name == "escaped") return false;
  if (name == "odd" || name == "even" || name == "divisibleby") {
    // jinja2: value % 2 == 1, value % 2 == 0, value % num == 0
    Value d = name == "divisibleby" ? arg("num") : Value::from_int(2);
    Value r = binary_op(in, "%", v, d);
    return values_equal(r, Value::from_int(name == "odd" ? 1 : 0));
  }
  if (name == "lower" || name == "upper") {
    CallArgs none;
    return call_method(in, Value::from_string(v.str()), name == "lower" ? "islower" : "isupper", none).truthy();
  }
  if (name == "eq" || name == "equalto" || name == "==") return compare_op("==", v, arg("other"));
  if (name == "ne" || name == "!=") return compare_op("!=", v, arg("other"));
  if (name == "lt" || name == "lessthan" || name == "<") return compare_op("<", v, arg("other"));
  if (name == "le" || name == "<=") return compare_op("<=", v, arg("other"));
  if (name == "gt" || name == "greaterthan" || name == ">") return compare_op(">", v, arg("other"));
  if (name == "ge" || name == ">=") return compare_op(">=", v, arg("other"));
  if (name == "in") return compare_op("in", v, arg("seq"));
  if (name == "sameas") {
    Value o = arg("other");
    if (v.type != o.type) return false;
    if (v.is_array()) return v.array == o.array;
    if (v.is_object()) return v.object == o.object;
    if (v.type == T::Callable) return v.callable == o.callable;
    return values_equal(v, o);
  }
  if (name == "filter" || name == "test") {
    static const char* known_filters[] = {"tojson", "trim", "length", "count", "default", "d", "upper", "lower", "capitalize",
                                          "title", "string", "safe", "e", "escape", "forceescape", "items", "list", "join",
                                          "first", "last", "reverse", "int", "float", "abs", "round", "replace", "indent",
                                          "center", "wordcount", "truncate", "format", "attr", "map", "select", "reject",
                                          "selectattr", "rejectattr", "sort", "unique", "min", "max", "dictsort", "sum",
                                          "batch", "pprint"};
    args.bind(name.c_str(), {});
    std::string n = v.str();
    if (name == "filter") return std::any_of(std::begin(known_filters), std::end(known_filters), [&](const char* f) { return n == f; });
    static const char* known_tests[] = {"defined", "undefined", "none", "boolean", "true", "false", "integer", "float",
                                        "number", "string", "mapping", "iterable", "sequence", "callable", "escaped",
                                        "odd", "even", "divisibleby", "lower", "upper", "eq", "equalto", "ne", "lt",
                                        "le", "gt", "ge", "in", "sameas", "filter", "test", "==", "!=", "<", "<=", ">", ">=",
                                        "lessthan", "greaterthan"};
    return std::any_of(std::begin(known_tests), std::end(known_tests), [&](const char* f) { return n == f; });
  }
  fail("no test named '{}'", name);
}

}  // namespace pocketllm::chat::jinja
