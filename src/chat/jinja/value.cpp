#include "chat/jinja/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/jinja/text.h"
#include "core/error.h"

namespace pocketllm::chat::jinja {

namespace {
constexpr int kMaxNesting = 256;  // containers deeper than this are rejected (cycles, hostile input)
}

Value Value::undefined(std::string hint) {
  Value v;
  if (!hint.empty()) v.shared_text = std::make_shared<const std::string>(std::move(hint));
  return v;
}
Value Value::none() {
  Value v;
  v.type = Type::None;
  return v;
}
Value Value::from_bool(bool b) {
  Value v;
  v.type = Type::Bool;
  v.boolean = b;
  return v;
}
Value Value::from_int(int64_t i) {
  Value v;
  v.type = Type::Int;
  v.integer = i;
  return v;
}
Value Value::from_float(double d) {
  Value v;
  v.type = Type::Float;
  v.number = d;
  return v;
}
Value Value::from_string(std::string s) {
  Value v;
  v.type = Type::String;
  v.shared_text = std::make_shared<const std::string>(std::move(s));
  return v;
}
Value Value::from_array(Array items, bool tuple) {
  Value v;
  v.type = Type::Array;
  v.is_tuple = tuple;
  v.array = std::make_shared<Array>(std::move(items));
  return v;
}
Value Value::generator(Array items) {
  Value v = from_array(std::move(items));
  v.is_generator = true;
  return v;
}
Value Value::new_object() {
  Value v;
  v.type = Type::Object;
  v.object = std::make_shared<Object>();
  return v;
}

bool Value::is_namespace() const { return type == Type::Object && object->is_namespace; }

bool Value::truthy() const {
  switch (type) {
    case Type::Undefined:
    case Type::None: return false;
    case Type::Bool: return boolean;
    case Type::Int: return integer != 0;
    case Type::Float: return number != 0.0;
    case Type::String: return !text().empty();
    case Type::Array: return is_generator || !array->empty();
    case Type::Object: return object->is_namespace || !object->items.empty();
    case Type::Callable: return true;
  }
  return false;
}

const char* Value::type_name() const {
  switch (type) {
    case Type::Undefined: return "Undefined";
    case Type::None: return "NoneType";
    case Type::Bool: return "bool";
    case Type::Int: return "int";
    case Type::Float: return "float";
    case Type::String: return "str";
    case Type::Array: return is_generator ? "generator" : is_tuple ? "tuple" : "list";
    case Type::Object: return object->is_namespace ? "Namespace" : "dict";
    case Type::Callable: return "function";
  }
  return "object";
}

static void repr_into(const Value& v, std::string& out, int depth);

static void container_repr(const Value& v, std::string& out, int depth) {
  if (depth > kMaxNesting) fail("chat template: value nested too deeply to print");
  if (v.type == Value::Type::Array) {
    out += v.is_tuple ? '(' : '[';
    for (size_t i = 0; i < v.array->size(); ++i) {
      if (i) out += ", ";
      repr_into((*v.array)[i], out, depth + 1);
    }
    if (v.is_tuple && v.array->size() == 1) out += ',';
    out += v.is_tuple ? ')' : ']';
    return;
  }
  if (v.object->loop) {
    LoopState& st = *v.object->loop;  // the length counts every accepted item
    while (st.scanned < st.source.size()) {
      const Value& item = st.source[st.scanned++];
      if (!st.accept || st.accept(item)) st.items.push_back(item);
    }
    out += fmt::format("<LoopContext {}/{}>", v.object->loop->index + 1, v.object->loop->items.size());
    return;
  }
  if (v.object->is_namespace) out += "<Namespace ";
  out += '{';
  bool first = true;
  for (const auto& [k, val] : v.object->items) {
    if (!first) out += ", ";
    first = false;
    repr_into(k, out, depth + 1);
    out += ": ";
    repr_into(val, out, depth + 1);
  }
  out += '}';
  if (v.object->is_namespace) out += '>';
}

static void repr_into(const Value& v, std::string& out, int depth) {
  switch (v.type) {
    case Value::Type::String:
      if (v.is_markup) out += "Markup(" + python_string_repr(v.text()) + ")";
      else out += python_string_repr(v.text());
      break;
    case Value::Type::Undefined: out += "Undefined"; break;
    case Value::Type::Array:
    case Value::Type::Object: container_repr(v, out, depth); break;
    default: out += v.str();
  }
}

std::string Value::str() const {
  switch (type) {
    case Type::Undefined: return "";
    case Type::None: return "None";
    case Type::Bool: return boolean ? "True" : "False";
    case Type::Int: return std::to_string(integer);
    case Type::Float: return python_float_repr(number);
    case Type::String: return text();
    case Type::Array:
      if (is_generator) return "<generator object>";
      [[fallthrough]];
    case Type::Object: {
      std::string out;
      container_repr(*this, out, 0);
      return out;
    }
    case Type::Callable: return "<function " + callable->name + ">";
  }
  return "";
}

std::string Value::repr() const {
  std::string out;
  repr_into(*this, out, 0);
  return out;
}

const Value* Object::find(const Value& key) const {
  for (const auto& kv : items)
    if (values_equal(kv.first, key)) return &kv.second;
  return nullptr;
}

const Value* Object::find(const std::string& key) const {
  for (const auto& kv : items)
    if (kv.first.type == Value::Type::String && kv.first.text() == key) return &kv.second;
  return nullptr;
}

void Object::set(const Value& key, Value value) {
  for (auto& kv : items)
    if (values_equal(kv.first, key)) {
      kv.second = std::move(value);
      return;
    }
  items.emplace_back(key, std::move(value));
}

std::vector<Value> CallArgs::bind(const char* func, const std::vector<const char*>& params) const {
  std::vector<Value> out(params.size());
  if (positional.size() > params.size())
    fail("{}() takes at most {} arguments ({} given)", func, params.size(), positional.size());
  for (size_t i = 0; i < positional.size(); ++i) out[i] = positional[i];
  for (const auto& [name, value] : named) {
    size_t i = 0;
    while (i < params.size() && name != params[i]) ++i;
    if (i == params.size()) fail("{}() got an unexpected keyword argument '{}'", func, name);
    if (i < positional.size()) fail("{}() got multiple values for argument '{}'", func, name);
    out[i] = value;
  }
  return out;
}

Value make_callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  Value v;
  v.type = Value::Type::Callable;
  v.callable = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

bool values_equal(const Value& a, const Value& b, int depth) {
  if (depth > kMaxNesting) fail("chat template: values nested too deeply to compare");
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.type != b.type) return false;
  switch (a.type) {
    case Value::Type::Undefined:
    case Value::Type::None: return true;
    case Value::Type::String: return a.text() == b.text();
    case Value::Type::Array:
      if (a.is_tuple != b.is_tuple || a.array->size() != b.array->size()) return false;
      for (size_t i = 0; i < a.array->size(); ++i)
        if (!values_equal((*a.array)[i], (*b.array)[i], depth + 1)) return false;
      return true;
    case Value::Type::Object:
      if (a.object == b.object) return true;
      if (a.object->is_namespace || b.object->is_namespace) return false;
      if (a.object->items.size() != b.object->items.size()) return false;
      for (const auto& [k, v] : a.object->items) {
        const Value* other = b.object->find(k);
        if (!other || !values_equal(v, *other, depth + 1)) return false;
      }
      return true;
    case Value::Type::Callable: return a.callable == b.callable;
    default: return false;
  }
}

bool values_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integral() && b.is_integral()) return a.as_int() < b.as_int();
    return a.as_double() < b.as_double();
  }
  if (a.is_string() && b.is_string()) return a.text() < b.text();  // UTF-8 byte order == code point order
  if (a.is_array() && b.is_array() && a.is_tuple == b.is_tuple) {
    size_t n = std::min(a.array->size(), b.array->size());
    for (size_t i = 0; i < n; ++i) {
      const Value& x = (*a.array)[i];
      const Value& y = (*b.array)[i];
      if (!values_equal(x, y)) return values_less(x, y);
    }
    return a.array->size() < b.array->size();
  }
  fail("'<' not supported between instances of '{}' and '{}'", a.type_name(), b.type_name());
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.2345e+05": shortest round-trip digits
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  std::string out = neg ? "-" : "";
  if (exp >= -5 + 1 && exp < 16) {  // Python repr: fixed notation when -4 <= exp < 16
    int point = exp + 1;            // digits before the decimal point
    if (point <= 0) {
      out += "0." + std::string(static_cast<size_t>(-point), '0') + digits;
    } else if (static_cast<size_t>(point) >= digits.size()) {
      out += digits + std::string(static_cast<size_t>(point) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof ebuf, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return out + ebuf;
}

std::string python_string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : text::decode(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (!text::is_printable(c)) {
      char buf[16];
      if (c < 0x100) std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      else std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(c));
      out += buf;
    } else {
      text::append_utf8(out, c);
    }
  }
  out += quote;
  return out;
}

static void json_string(const std::string& s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (char32_t c : text::decode(s)) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char buf[16];
        if (c < 0x20 || (ensure_ascii && c > 0x7E && c < 0x10000)) {
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else if (ensure_ascii && c >= 0x10000) {
          char32_t v = c - 0x10000;
          std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                        static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
          out += buf;
        } else {
          text::append_utf8(out, c);
        }
      }
    }
  }
  out += '"';
}

static std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return python_float_repr(d);
}

static void json_into(const Value& v, const JsonDumpOptions& o, int level, std::string& out) {
  if (level > kMaxNesting) fail("tojson: value nested too deeply");
  auto newline = [&](int lvl) {
    if (!o.has_indent) return;
    out += '\n';
    for (int i = 0; i < lvl; ++i) out += o.indent;
  };
  switch (v.type) {
    case Value::Type::None: out += "null"; return;
    case Value::Type::Bool: out += v.boolean ? "true" : "false"; return;
    case Value::Type::Int: out += std::to_string(v.integer); return;
    case Value::Type::Float: out += json_float(v.number); return;
    case Value::Type::String: json_string(v.text(), o.ensure_ascii, out); return;
    case Value::Type::Array: {
      if (v.array->empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < v.array->size(); ++i) {
        if (i) out += o.item_separator;
        newline(level + 1);
        json_into((*v.array)[i], o, level + 1, out);
      }
      newline(level);
      out += ']';
      return;
    }
    case Value::Type::Object: {
      if (v.object->is_namespace) fail("Object of type Namespace is not JSON serializable");
      if (v.object->items.empty()) {
        out += "{}";
        return;
      }
      std::vector<std::pair<std::string, const Value*>> entries;
      for (const auto& [k, val] : v.object->items) {
        std::string key;
        switch (k.type) {
          case Value::Type::String: key = k.text(); break;
          case Value::Type::Int: key = std::to_string(k.integer); break;
          case Value::Type::Float: key = json_float(k.number); break;
          case Value::Type::Bool: key = k.boolean ? "true" : "false"; break;
          case Value::Type::None: key = "null"; break;
          default: fail("keys must be str, int, float, bool or None, not {}", k.type_name());
        }
        entries.emplace_back(std::move(key), &val);
      }
      if (o.sort_keys)
        std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += o.item_separator;
        newline(level + 1);
        json_string(entries[i].first, o.ensure_ascii, out);
        out += o.key_separator;
        json_into(*entries[i].second, o, level + 1, out);
      }
      newline(level);
      out += '}';
      return;
    }
    default: fail("Object of type {} is not JSON serializable", v.type_name());
  }
}

std::string json_dumps(const Value& v, const JsonDumpOptions& opts) {
  std::string out;
  json_into(v, opts, 0, out);
  return out;
}

}  // namespace pocketllm::chat::jinja
