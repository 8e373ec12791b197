// Python semantics of Jinja operators: arithmetic, comparison, membership, slicing and
// printf-style '%' formatting.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "chat/jinja/interpreter.h"
#include "chat/jinja/text.h"

namespace pocketllm::chat::jinja {

namespace {

void check_overflow(bool overflow) {
  if (overflow) fail("integer overflow");
}

Value repeat(Interpreter& in, const Value& seq, int64_t times) {
  if (times <= 0) return seq.is_string() ? Value::from_string("") : Value::from_array({}, seq.is_tuple);
  if (seq.is_string()) {
    in.check_size(seq.text().size() * static_cast<size_t>(std::min<int64_t>(times, INT32_MAX)));
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.text();
    return Value::from_string(std::move(out));
  }
  in.add_work(static_cast<int64_t>(seq.array->size()) * std::min<int64_t>(times, INT32_MAX));
  Array out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.array->begin(), seq.array->end());
  return Value::from_array(std::move(out), seq.is_tuple);
}

double float_mod(double a, double b) {
  double m = std::fmod(a, b);
  if (m != 0) {
    if ((m < 0) != (b < 0)) m += b;
  } else {
    m = std::copysign(0.0, b);  // Python: a zero result takes the divisor's sign
  }
  return m;
}

[[noreturn]] void unsupported(const char* op, const Value& a, const Value& b) {
  fail("unsupported operand type(s) for {}: '{}' and '{}'", op, a.type_name(), b.type_name());
}

}  // namespace

Value binary_op(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.str();
    std::string t = b.str();
    in.check_size(s.size() + t.size());
    return Value::from_string(s + t);
  }
  if (op == "%" && a.is_string()) return Value::from_string(percent_format(in, a.text(), b));
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  const bool nums = a.is_number() && b.is_number();
  const bool ints = a.is_integral() && b.is_integral();
  if (op == "+") {
    if (ints) {
      int64_t r = 0;
      check_overflow(__builtin_add_overflow(a.as_int(), b.as_int(), &r));
      return Value::from_int(r);
    }
    if (nums) return Value::from_float(a.as_double() + b.as_double());
    if (a.is_string() && b.is_string()) {
      in.check_size(a.text().size() + b.text().size());
      return Value::from_string(a.text() + b.text());
    }
    if (a.is_array() && b.is_array() && a.is_tuple == b.is_tuple && !a.is_generator && !b.is_generator) {
      in.add_work(static_cast<int64_t>(a.array->size() + b.array->size()));
      Array out = *a.array;
      out.insert(out.end(), b.array->begin(), b.array->end());
      return Value::from_array(std::move(out), a.is_tuple);
    }
    if (a.is_string()) fail("can only concatenate str (not \"{}\") to str", b.type_name());
    if (a.is_array() && !a.is_tuple) fail("can only concatenate list (not \"{}\") to list", b.type_name());
    unsupported("+", a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r = 0;
      check_overflow(__builtin_sub_overflow(a.as_int(), b.as_int(), &r));
      return Value::from_int(r);
    }
    if (nums) return Value::from_float(a.as_double() - b.as_double());
    unsupported("-", a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r = 0;
      check_overflow(__builtin_mul_overflow(a.as_int(), b.as_int(), &r));
      return Value::from_int(r);
    }
    if (nums) return Value::from_float(a.as_double() * b.as_double());
    if ((a.is_string() || a.is_array()) && b.is_integral()) return repeat(in, a, b.as_int());
    if ((b.is_string() || b.is_array()) && a.is_integral()) return repeat(in, b, a.as_int());
    unsupported("*", a, b);
  }
  if (op == "/") {
    if (!nums) unsupported("/", a, b);
    if (b.as_double() == 0) fail("division by zero");
    return Value::from_float(a.as_double() / b.as_double());
  }
  if (op == "//") {
    if (!nums) unsupported("//", a, b);
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) fail("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) fail("integer overflow");
      int64_t q = x / y;
      if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
      return Value::from_int(q);
    }
    if (b.as_double() == 0) fail("float floor division by zero");
    double x = a.as_double(), y = b.as_double();
    return Value::from_float(std::floor(x / y));
  }
  if (op == "%") {
    if (!nums) unsupported("%", a, b);
    if (ints) {
      int64_t x = a.as_int(), y = b.as_int();
      if (y == 0) fail("integer division or modulo by zero");
      if (y == -1) return Value::from_int(0);
      int64_t m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return Value::from_int(m);
    }
    if (b.as_double() == 0) fail("float modulo");
    return Value::from_float(float_mod(a.as_double(), b.as_double()));
  }
  if (op == "**") {
    if (!nums) unsupported("** or pow()", a, b);
    if (ints && b.as_int() >= 0) {
      int64_t base = a.as_int(), e = b.as_int(), r = 1;
      while (e > 0) {
        if (e & 1) check_overflow(__builtin_mul_overflow(r, base, &r));
        e >>= 1;
        if (e > 0) check_overflow(__builtin_mul_overflow(base, base, &base));
      }
      return Value::from_int(r);
    }
    if (a.as_double() == 0 && b.as_double() < 0) fail("0.0 cannot be raised to a negative power");
    return Value::from_float(std::pow(a.as_double(), b.as_double()));
  }
  fail("unknown operator '{}'", op);
}

bool compare_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return values_equal(a, b);
  if (op == "!=") return !values_equal(a, b);
  if (op == "in" || op == "not in") {
    bool found = false;
    switch (b.type) {
      case Value::Type::Undefined: found = false; break;
      case Value::Type::String:
        if (!a.is_string()) fail("'in <string>' requires string as left operand, not {}", a.type_name());
        found = b.text().find(a.text()) != std::string::npos;
        break;
      case Value::Type::Array:
        for (const auto& x : *b.array)
          if (values_equal(x, a)) {
            found = true;
            break;
          }
        break;
      case Value::Type::Object:
        if (b.is_namespace()) fail("argument of type 'Namespace' is not iterable");
        if ((a.is_array() && !a.is_tuple) || a.is_object()) fail("unhashable type: '{}'", a.type_name());
        found = b.object->find(a) != nullptr;
        break;
      default: fail("argument of type '{}' is not iterable", b.type_name());
    }
    return op == "in" ? found : !found;
  }
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (op == "<") return values_less(a, b);
  if (op == ">") return values_less(b, a);
  if (op == "<=") return values_less(a, b) || values_equal(a, b);
  if (op == ">=") return values_less(b, a) || values_equal(a, b);
  fail("unknown comparison '{}'", op);
}

Value slice_value(Interpreter& in, const Value& v, const Value& start_v, const Value& stop_v, const Value& step_v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_generator) fail("'generator' object is not subscriptable");
  auto as_index = [](const Value& x, bool& given) -> int64_t {
    given = !x.is_none();
    if (!given) return 0;
    if (!x.is_integral()) fail("slice indices must be integers or None");
    return x.as_int();
  };
  bool has_start, has_stop, has_step;
  int64_t start = as_index(start_v, has_start), stop = as_index(stop_v, has_stop), step = as_index(step_v, has_step);
  if (!has_step) step = 1;
  if (step == 0) fail("slice step cannot be zero");
  std::vector<char32_t> cps;
  int64_t len;
  if (v.is_string()) {
    cps = text::decode(v.text());
    len = static_cast<int64_t>(cps.size());
  } else if (v.is_array()) {
    len = static_cast<int64_t>(v.array->size());
  } else if (v.is_object() && !v.is_namespace()) {
    fail("unhashable type: 'slice'");
  } else {
    fail("'{}' object is not subscriptable", v.type_name());
  }
  auto adjust = [&](int64_t& x, bool given, int64_t def) {
    if (!given) {
      x = def;
      return;
    }
    if (x < 0) {
      x += len;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= len) {
      x = step < 0 ? len - 1 : len;
    }
  };
  adjust(start, has_start, step < 0 ? len - 1 : 0);
  adjust(stop, has_stop, step < 0 ? -1 : len);
  in.add_work(len / 8);
  if (v.is_string()) {
    std::string out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) text::append_utf8(out, cps[static_cast<size_t>(i)]);
    return Value::from_string(std::move(out));
  }
  Array out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back((*v.array)[static_cast<size_t>(i)]);
  return Value::from_array(std::move(out), v.is_tuple);
}

namespace {

// Width and precision of one %-conversion are bounded: printf would otherwise
// build a 2 GB string for '%.2147483647f' (and the result was cut to 511 bytes).
constexpr int64_t kMaxFormatField = 1 << 16;

struct FormatSpec {
  std::string flags;
  int64_t width = -1, precision = -1;
  // The C format for snprintf with a length modifier and conversion.
  std::string c_spec(const char* length, char conv) const {
    std::string f = "%" + flags;
    if (width >= 0) f += std::to_string(width);
    if (precision >= 0) {
      f += '.';
      f += std::to_string(precision);
    }
    f += length;
    f += conv;
    return f;
  }
};

int64_t format_number(const std::string& fmt, size_t& i, const char* what) {
  int64_t n = 0;
  for (; i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])); ++i) {
    n = n * 10 + (fmt[i] - '0');
    if (n > kMaxFormatField) fail("format {} larger than {} is not supported", what, kMaxFormatField);
  }
  return n;
}

// Python's %[flags][width][.precision][length modifier] before the conversion
// character; leaves i on that character.
FormatSpec parse_format_spec(const std::string& fmt, size_t& i) {
  FormatSpec spec;
  while (i < fmt.size() && std::strchr("-+ 0#", fmt[i])) spec.flags += fmt[i++];
  if (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) spec.width = format_number(fmt, i, "width");
  if (i < fmt.size() && fmt[i] == '.') {
    ++i;
    spec.precision = format_number(fmt, i, "precision");
  }
  while (i < fmt.size() && std::strchr("hlL", fmt[i])) ++i;  // accepted and ignored, as in Python
  if (i >= fmt.size()) fail("incomplete format");
  return spec;
}

// snprintf into a string of exactly the length it needs.
template <class T>
std::string c_format(const std::string& spec, T value) {
  const int n = std::snprintf(nullptr, 0, spec.c_str(), value);
  if (n < 0) fail("format '{}' failed", spec);
  std::string out(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec.c_str(), value);
  out.pop_back();
  return out;
}

// The first n code points of UTF-8 text.
std::string utf8_prefix(const std::string& s, size_t n) {
  std::string out;
  for (char32_t c : text::decode(s)) {
    if (n-- == 0) break;
    text::append_utf8(out, c);
  }
  return out;
}

}  // namespace

std::string percent_format(Interpreter& in, const std::string& fmt, const Value& args) {
  std::vector<Value> list;
  if (args.is_array() && args.is_tuple) list = *args.array;
  else list.push_back(args);
  // Python: a non-tuple argument supporting __getitem__ (list, dict, Undefined) may go unused.
  const bool mapping_like = !args.is_tuple && (args.is_array() || args.is_object() || args.is_undefined());
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) fail("incomplete format");
    Value mapped;
    bool use_mapped = false;
    if (fmt[i] == '(') {
      size_t close = fmt.find(')', i);
      if (close == std::string::npos || !args.is_object()) fail("format requires a mapping");
      const Value* v = args.object->find(fmt.substr(i + 1, close - i - 1));
      if (!v) fail("KeyError: '{}'", fmt.substr(i + 1, close - i - 1));
      mapped = *v;
      use_mapped = true;
      i = close + 1;
    }
    const FormatSpec spec = parse_format_spec(fmt, i);
    const char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!use_mapped && next >= list.size()) fail("not enough arguments for format string");
    const Value& v = use_mapped ? mapped : list[next++];
    switch (conv) {
      case 's':
      case 'r': {
        std::string s = conv == 's' ? v.str() : v.repr();
        if (spec.precision >= 0) s = utf8_prefix(s, static_cast<size_t>(spec.precision));  // Python: at most N characters
        const size_t len = text::length(s);
        if (spec.width > 0 && static_cast<size_t>(spec.width) > len) {
          const std::string pad(static_cast<size_t>(spec.width) - len, ' ');
          s = spec.flags.find('-') != std::string::npos ? s + pad : pad + s;
        }
        out += s;
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o':
        if (!v.is_number()) fail("%{} format: a real number is required, not {}", conv, v.type_name());
        out += c_format(spec.c_spec("ll", conv == 'i' ? 'd' : conv),
                        static_cast<long long>(v.type == Value::Type::Float ? std::trunc(v.number) : v.as_int()));
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        if (!v.is_number()) fail("must be real number, not {}", v.type_name());
        out += c_format(spec.c_spec("", conv), v.as_double());
        break;
      default: fail("unsupported format character '{}'", std::string(1, conv));
    }
    in.check_size(out.size(), false);
  }
  in.check_size(out.size());
  if (!mapping_like && next < list.size()) fail("not all arguments converted during string formatting");
  return out;
}

}  // namespace pocketllm::chat::jinja
