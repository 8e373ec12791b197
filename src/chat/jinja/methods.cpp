// Python methods callable on values (str, dict, list) and the template globals
// (range, dict, namespace, joiner, plus transformers' raise_exception and strftime_now).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/text.h"

namespace pocketllm::chat::jinja {

namespace {

const char* const kStrMethods[] = {"strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "upper", "lower",
                                   "title", "capitalize", "swapcase", "replace", "find", "rfind", "index", "rindex",
                                   "count", "startswith", "endswith", "join", "format", "isdigit", "isalpha",
                                   "isalnum", "isspace", "islower", "isupper", "ljust", "rjust", "center", "zfill",
                                   "removeprefix", "removesuffix", "partition", "rpartition", "isnumeric", "isdecimal"};
const char* const kDictMethods[] = {"items", "keys", "values", "get", "copy"};
const char* const kListMethods[] = {"index", "count", "copy"};
const char* const kUnsafeDict[] = {"clear", "pop", "popitem", "setdefault", "update"};
const char* const kUnsafeList[] = {"append", "reverse", "insert", "sort", "extend", "remove"};

template <size_t N>
bool in_list(const char* const (&list)[N], const std::string& name) {
  for (const char* m : list)
    if (name == m) return true;
  return false;
}

std::string arg_string(const Value& v, const char* method) {
  if (!v.is_string()) fail("{}() argument must be str, not {}", method, v.type_name());
  return v.text();
}

int64_t arg_int(const Value& v, int64_t def) {
  if (v.is_undefined() || v.is_none()) return def;
  if (!v.is_integral()) fail("'{}' object cannot be interpreted as an integer", v.type_name());
  return v.as_int();
}

Value string_list(const std::vector<std::string>& parts) {
  Array out;
  for (const auto& p : parts) out.push_back(Value::from_string(p));
  return Value::from_array(std::move(out));
}

// startswith/endswith accept a str or a tuple of str.
bool affix_match(const std::string& s, const Value& affix, bool prefix, const char* method) {
  auto one = [&](const Value& a) {
    std::string t = arg_string(a, method);
    if (t.size() > s.size()) return false;
    return prefix ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  if (affix.is_array() && affix.is_tuple) {
    for (const auto& a : *affix.array)
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

std::string pad(const std::string& s, int64_t width, char align, const std::string& fill) {
  int64_t len = static_cast<int64_t>(text::length(s));
  if (width <= len) return s;
  int64_t total = width - len;
  int64_t left = align == '<' ? 0 : align == '>' ? total : total / 2;
  if (align == 'c') left = total / 2 + (total & width & 1);  // str.center's odd-width placement
  std::string out;
  for (int64_t i = 0; i < left; ++i) out += fill;
  out += s;
  for (int64_t i = 0; i < total - left; ++i) out += fill;
  return out;
}

// A subset of Python's format-spec mini language: [[fill]align][sign][0][width][.precision][type].
std::string format_field(const Value& v, const std::string& spec) {
  if (spec.empty()) return v.str();
  size_t i = 0;
  std::string fill = " ";
  char align = 0;
  auto is_align = [](char c) { return c == '<' || c == '>' || c == '^'; };
  if (spec.size() >= 2 && is_align(spec[1])) {
    fill = spec.substr(0, 1);
    align = spec[1];
    i = 2;
  } else if (is_align(spec[0])) {
    align = spec[0];
    i = 1;
  }
  std::string flags;
  while (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ' || spec[i] == '0')) flags += spec[i++];
  int64_t width = 0;
  while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) width = width * 10 + (spec[i++] - '0');
  int precision = -1;
  if (i < spec.size() && spec[i] == '.') {
    precision = 0;
    while (++i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) precision = precision * 10 + (spec[i] - '0');
  }
  char type = i < spec.size() ? spec[i++] : 0;
  if (i != spec.size() || width > 4096) fail("unsupported format spec '{}'", spec);
  std::string body;
  char buf[512];
  if (type == 'f' || type == 'F' || type == 'e' || type == 'g' || (type == 0 && precision >= 0 && v.is_number())) {
    if (!v.is_number()) fail("unknown format code '{}' for object of type '{}'", std::string(1, type), v.type_name());
    std::string f = "%" + flags + "." + std::to_string(precision < 0 ? 6 : precision) + (type ? type : 'g');
    std::snprintf(buf, sizeof buf, f.c_str(), v.as_double());
    body = buf;
  } else if (type == 'd' || type == 'x' || type == 'o' || type == 'b') {
    if (!v.is_integral()) fail("unknown format code '{}' for object of type '{}'", std::string(1, type), v.type_name());
    std::snprintf(buf, sizeof buf, (std::string("%") + flags + "ll" + (type == 'b' ? 'd' : type)).c_str(),
                  static_cast<long long>(v.as_int()));
    body = buf;
  } else if (type == 's' || type == 0) {
    body = v.str();
    if (precision >= 0) body = text::encode(text::decode(body), 0, static_cast<size_t>(precision));
  } else {
    fail("unsupported format spec '{}'", spec);
  }
  if (!align) align = v.is_number() ? '>' : '<';
  if (flags.find('0') != std::string::npos && fill == " ") fill = "0";
  return pad(body, width, align == '^' ? 'm' : align, fill);
}

std::string str_format(Interpreter& in, const std::string& f, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '}' ) {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else fail("Single '}}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    size_t close = f.find('}', i);
    if (close == std::string::npos) fail("Single '{{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    if (size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    if (size_t bang = field.find('!'); bang != std::string::npos) field = field.substr(0, bang);
    std::string head = field.substr(0, field.find_first_of(".["));
    std::string rest = field.substr(head.size());
    Value v;
    if (head.empty()) {
      if (auto_index >= args.positional.size()) fail("Replacement index {} out of range", auto_index);
      v = args.positional[auto_index++];
    } else if (std::all_of(head.begin(), head.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
      size_t idx = std::stoul(head);
      if (idx >= args.positional.size()) fail("Replacement index {} out of range", idx);
      v = args.positional[idx];
    } else {
      bool found = false;
      for (auto& [k, val] : args.named)
        if (k == head) {
          v = val;
          found = true;
        }
      if (!found) fail("KeyError: '{}'", head);
    }
    while (!rest.empty()) {
      if (rest[0] == '.') {
        size_t e = rest.find_first_of(".[", 1);
        v = in.getattr(v, rest.substr(1, e == std::string::npos ? std::string::npos : e - 1));
        rest = e == std::string::npos ? "" : rest.substr(e);
      } else {
        size_t e = rest.find(']');
        if (e == std::string::npos) fail("Missing ']' in format string");
        std::string key = rest.substr(1, e - 1);
        bool numeric = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); });
        v = in.getitem(v, numeric ? Value::from_int(std::stoll(key)) : Value::from_string(key));
        rest = rest.substr(e + 1);
      }
    }
    out += format_field(v, spec);
    in.check_size(out.size(), false);
  }
  in.check_size(out.size());
  return out;
}

Value string_method(Interpreter& in, const std::string& s, const std::string& m, CallArgs& args) {
  auto p = [&](std::vector<const char*> names) { return args.bind(m.c_str(), names); };
  if (m == "strip" || m == "lstrip" || m == "rstrip") {
    auto a = p({"chars"});
    bool l = m != "rstrip", r = m != "lstrip";
    if (a[0].is_undefined() || a[0].is_none()) return Value::from_string(text::strip(s, l, r));
    return Value::from_string(text::strip_chars(s, arg_string(a[0], m.c_str()), l, r));
  }
  if (m == "split" || m == "rsplit") {
    auto a = p({"sep", "maxsplit"});
    int64_t maxsplit = arg_int(a[1], -1);
    in.add_work(static_cast<int64_t>(s.size()) / 16);
    if (a[0].is_undefined() || a[0].is_none()) {
      if (m == "rsplit" && maxsplit >= 0) {
        auto all = text::split_whitespace(s, -1);
        if (static_cast<int64_t>(all.size()) <= maxsplit + 1) return string_list(all);
        // Keep the left remainder intact: find where the last `maxsplit` words start.
        auto cps = text::decode(s);
        size_t e = cps.size();
        std::vector<std::string> tail;
        for (int64_t k = 0; k < maxsplit; ++k) {
          while (e > 0 && text::is_space(cps[e - 1])) --e;
          size_t b = e;
          while (b > 0 && !text::is_space(cps[b - 1])) --b;
          tail.insert(tail.begin(), text::encode(cps, b, e));
          e = b;
        }
        std::vector<std::string> out{text::strip(text::encode(cps, 0, e), true, true)};
        out.insert(out.end(), tail.begin(), tail.end());
        return string_list(out);
      }
      return string_list(text::split_whitespace(s, maxsplit));
    }
    std::string sep = arg_string(a[0], m.c_str());
    if (sep.empty()) fail("empty separator");
    if (m == "rsplit" && maxsplit >= 0) {
      std::vector<std::string> out;
      size_t end = s.size();
      while (static_cast<int64_t>(out.size()) < maxsplit) {
        if (end < sep.size()) break;
        size_t f = s.rfind(sep, end - sep.size());
        if (f == std::string::npos) break;
        out.insert(out.begin(), s.substr(f + sep.size(), end - f - sep.size()));
        end = f;
      }
      out.insert(out.begin(), s.substr(0, end));
      return string_list(out);
    }
    return string_list(text::split_on(s, sep, maxsplit));
  }
  if (m == "splitlines") return string_list(text::splitlines(s, p({"keepends"})[0].truthy()));
  if (m == "upper") return p({}), Value::from_string(text::upper(s));
  if (m == "lower") return p({}), Value::from_string(text::lower(s));
  if (m == "title") return p({}), Value::from_string(text::title_method(s));
  if (m == "capitalize") return p({}), Value::from_string(text::capitalize(s));
  if (m == "swapcase") {
    std::string r;
    for (char32_t c : text::decode(s)) {
      std::string one;
      text::append_utf8(one, c);
      r += text::is_upper_char(c) ? text::lower(one) : text::is_lower_char(c) ? text::upper(one) : one;
    }
    return Value::from_string(r);
  }
  if (m == "replace") {
    auto a = p({"old", "new", "count"});
    std::string r = text::replace(s, arg_string(a[0], "replace"), arg_string(a[1], "replace"), arg_int(a[2], -1));
    in.check_size(r.size());
    return Value::from_string(std::move(r));
  }
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex") {
    auto a = p({"sub"});
    int64_t r = text::find(s, arg_string(a[0], m.c_str()), m[0] == 'r');
    if (r < 0 && (m == "index" || m == "rindex")) fail("substring not found");
    return Value::from_int(r);
  }
  if (m == "count") return Value::from_int(text::count(s, arg_string(p({"sub"})[0], "count")));
  if (m == "startswith" || m == "endswith") return Value::from_bool(affix_match(s, p({"prefix"})[0], m == "startswith", m.c_str()));
  if (m == "join") {
    auto items = in.iterate(p({"iterable"})[0]);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += s;
      out += arg_string(items[i], "join");
      in.check_size(out.size(), false);
    }
    in.check_size(out.size());
    return Value::from_string(std::move(out));
  }
  if (m == "format") return Value::from_string(str_format(in, s, args));
  auto all = [&](auto pred) {
    auto cps = text::decode(s);
    return Value::from_bool(!cps.empty() && std::all_of(cps.begin(), cps.end(), pred));
  };
  if (m == "isdigit" || m == "isnumeric" || m == "isdecimal") return all([](char32_t c) { return c >= '0' && c <= '9'; });
  if (m == "isalpha") return all([](char32_t c) { return text::is_alpha(c); });
  if (m == "isalnum") return all([](char32_t c) { return text::is_alnum(c); });
  if (m == "isspace") return all([](char32_t c) { return text::is_space(c); });
  if (m == "islower" || m == "isupper") {
    bool upper = m == "isupper", cased = false;
    for (char32_t c : text::decode(s)) {
      if (text::is_lower_char(c)) {
        if (upper) return Value::from_bool(false);
        cased = true;
      } else if (text::is_upper_char(c)) {
        if (!upper) return Value::from_bool(false);
        cased = true;
      }
    }
    return Value::from_bool(cased);
  }
  if (m == "ljust" || m == "rjust" || m == "center") {
    auto a = p({"width", "fillchar"});
    int64_t w = arg_int(a[0], 0);
    in.check_size(static_cast<size_t>(std::max<int64_t>(w, 0)) * 4);
    std::string fill = a[1].is_string() ? a[1].text() : " ";
    return Value::from_string(pad(s, w, m == "ljust" ? '<' : m == "rjust" ? '>' : 'c', fill));
  }
  if (m == "zfill") {
    int64_t w = arg_int(p({"width"})[0], 0);
    in.check_size(static_cast<size_t>(std::max<int64_t>(w, 0)));
    int64_t len = static_cast<int64_t>(text::length(s));
    if (w <= len) return Value::from_string(s);
    size_t sign = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    return Value::from_string(s.substr(0, sign) + std::string(static_cast<size_t>(w - len), '0') + s.substr(sign));
  }
  if (m == "removeprefix" || m == "removesuffix") {
    std::string a = arg_string(p({"affix"})[0], m.c_str());
    bool pre = m == "removeprefix";
    if (affix_match(s, Value::from_string(a), pre, m.c_str()))
      return Value::from_string(pre ? s.substr(a.size()) : s.substr(0, s.size() - a.size()));
    return Value::from_string(s);
  }
  if (m == "partition" || m == "rpartition") {
    std::string sep = arg_string(p({"sep"})[0], m.c_str());
    if (sep.empty()) fail("empty separator");
    size_t f = m == "partition" ? s.find(sep) : s.rfind(sep);
    Array parts;
    if (f == std::string::npos) {
      parts = m == "partition" ? Array{Value::from_string(s), Value::from_string(""), Value::from_string("")}
                               : Array{Value::from_string(""), Value::from_string(""), Value::from_string(s)};
    } else {
      parts = {Value::from_string(s.substr(0, f)), Value::from_string(sep), Value::from_string(s.substr(f + sep.size()))};
    }
    return Value::from_array(std::move(parts), true);
  }
  fail("'str' object has no attribute '{}'", m);
}

}  // namespace

bool is_method(const Value& self, const std::string& name) {
  switch (self.type) {
    case Value::Type::String: return in_list(kStrMethods, name);
    case Value::Type::Object: return !self.is_namespace() && in_list(kDictMethods, name);
    case Value::Type::Array: return in_list(kListMethods, name) && !(self.is_tuple && name == "copy");
    default: return false;
  }
}

bool is_unsafe_method(const Value& self, const std::string& name) {
  if (name.rfind("__", 0) == 0) return true;
  if (self.is_object() && !self.is_namespace()) return in_list(kUnsafeDict, name);
  if (self.is_array() && !self.is_tuple) return in_list(kUnsafeList, name);
  return false;
}

Value call_method(Interpreter& in, const Value& self, const std::string& name, CallArgs& args) {
  if (self.is_string()) {
    Value r = string_method(in, self.text(), name, args);
    if (self.is_markup) {  // markupsafe.Markup's methods return Markup strings
      if (r.is_string()) r.is_markup = true;
      if (r.is_array())
        for (auto& x : *r.array)
          if (x.is_string()) x.is_markup = true;
    }
    return r;
  }
  if (self.is_object()) {
    const auto& items = self.object->items;
    if (name == "get") {
      auto a = args.bind("get", {"key", "default"});
      if (const Value* v = self.object->find(a[0])) return *v;
      return a[1].is_undefined() ? Value::none() : a[1];
    }
    args.bind(name.c_str(), {});
    in.add_work(static_cast<int64_t>(items.size()) / 8);
    if (name == "copy") {
      Value d = Value::new_object();
      d.object->items = items;
      return d;
    }
    Array out;
    for (const auto& [k, v] : items) {
      if (name == "keys") out.push_back(k);
      else if (name == "values") out.push_back(v);
      else out.push_back(Value::from_array({k, v}, true));
    }
    return Value::from_array(std::move(out));
  }
  if (self.is_array()) {
    if (name == "copy") return Value::from_array(*self.array);
    auto a = args.bind(name.c_str(), {"value"});
    int64_t n = 0;
    for (size_t i = 0; i < self.array->size(); ++i)
      if (values_equal((*self.array)[i], a[0])) {
        if (name == "index") return Value::from_int(static_cast<int64_t>(i));
        ++n;
      }
    if (name == "index") fail("{} is not in list", a[0].repr());
    return Value::from_int(n);
  }
  fail("'{}' object has no attribute '{}'", self.type_name(), name);
}

void install_globals(Interpreter&, std::vector<std::pair<std::string, Value>>& g) {
  g.emplace_back("range", make_callable("range", [](Interpreter& in, CallArgs& a) {
    if (!a.named.empty()) fail("range() takes no keyword arguments");
    if (a.positional.empty() || a.positional.size() > 3) fail("range expected 1 to 3 arguments, got {}", a.positional.size());
    for (const auto& v : a.positional)
      if (!v.is_integral()) fail("'{}' object cannot be interpreted as an integer", v.type_name());
    int64_t start = 0, stop, step = 1;
    if (a.positional.size() == 1) {
      stop = a.positional[0].as_int();
    } else {
      start = a.positional[0].as_int();
      stop = a.positional[1].as_int();
      if (a.positional.size() == 3) step = a.positional[2].as_int();
    }
    if (step == 0) fail("range() arg 3 must not be zero");
    __int128 count = step > 0 ? (stop > start ? ((__int128)stop - start + step - 1) / step : 0)
                              : (start > stop ? ((__int128)start - stop - step - 1) / -step : 0);
    if (count > 100000) fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    in.add_work(static_cast<int64_t>(count) / 8);
    Array out;
    for (int64_t i = 0, v = start; i < static_cast<int64_t>(count); ++i, v += step) out.push_back(Value::from_int(v));
    return Value::from_array(std::move(out));
  }));
  g.emplace_back("dict", make_callable("dict", [](Interpreter&, CallArgs& a) {
    Value d = Value::new_object();
    if (a.positional.size() > 1) fail("dict expected at most 1 argument, got {}", a.positional.size());
    if (!a.positional.empty()) {
      if (!a.positional[0].is_object()) fail("dict() argument must be a mapping");
      d.object->items = a.positional[0].object->items;
    }
    for (auto& [k, v] : a.named) d.object->set(Value::from_string(k), v);
    return d;
  }));
  g.emplace_back("namespace", make_callable("namespace", [](Interpreter& in, CallArgs& a) {
    Value ns = in.make_namespace();
    if (a.positional.size() > 1) fail("namespace expected at most 1 positional argument");
    if (!a.positional.empty()) {
      if (!a.positional[0].is_object()) fail("namespace() argument must be a mapping");
      for (const auto& [k, v] : a.positional[0].object->items) ns.object->set(k, v);
    }
    for (auto& [k, v] : a.named) ns.object->set(Value::from_string(k), v);
    return ns;
  }));
  g.emplace_back("joiner", make_callable("joiner", [](Interpreter&, CallArgs& a) {
    auto p = a.bind("joiner", {"sep"});
    std::string sep = p[0].is_undefined() ? ", " : p[0].str();
    auto used = std::make_shared<bool>(false);
    return make_callable("joiner", [sep, used](Interpreter&, CallArgs&) {
      if (!*used) {
        *used = true;
        return Value::from_string("");
      }
      return Value::from_string(sep);
    });
  }));
  g.emplace_back("raise_exception", make_callable("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
    auto p = a.bind("raise_exception", {"message"});
    throw TemplateRaised(p[0].str());
  }));
  g.emplace_back("strftime_now", make_callable("strftime_now", [](Interpreter&, CallArgs& a) {
    auto p = a.bind("strftime_now", {"format"});
    std::string f = arg_string(p[0], "strftime_now");
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[512];
    size_t n = f.empty() ? 0 : std::strftime(buf, sizeof buf, f.c_str(), &tm);
    if (n == 0 && !f.empty()) fail("strftime_now: format too long or produces empty output");
    return Value::from_string(std::string(buf, n));
  }));
}

}  // namespace pocketllm::chat::jinja
