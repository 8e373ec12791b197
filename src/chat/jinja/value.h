// The dynamic value type of the Jinja interpreter, modelled on the Python objects that
// python-jinja2 manipulates: None, bool, int, float, str, list/tuple, dict, callables and
// jinja2's Undefined. Lists and dicts are shared (reference semantics, as in Python).
#pragma once
#include <nlohmann/json.hpp>

#include "core/error.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pocketllm::chat::jinja {

class Interpreter;
struct Value;
using Array = std::vector<Value>;

struct Object;
struct Callable;

struct Value {
  enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, Array, Object, Callable };

  Type type = Type::Undefined;
  bool is_tuple = false;        // Array printed as (a, b) like a Python tuple
  bool unsafe = false;          // Undefined standing for a sandbox-blocked attribute
  bool is_markup = false;       // String produced by |safe or |e (markupsafe.Markup): not escaped again
  bool is_generator = false;    // Array produced lazily in Python (map, select, ...): single pass, no len
  bool boolean = false;
  int64_t integer = 0;
  double number = 0.0;
  // String content; for Undefined, the hint used in error messages. Shared and immutable so
  // that copying values (lookups, loops, containers) never copies string bytes.
  std::shared_ptr<const std::string> shared_text;
  std::shared_ptr<Array> array;
  std::shared_ptr<Object> object;
  std::shared_ptr<Callable> callable;

  Value() = default;
  static Value undefined(std::string hint = {});
  static Value none();
  static Value from_bool(bool b);
  static Value from_int(int64_t i);
  static Value from_float(double d);
  static Value from_string(std::string s);
  static Value from_array(Array items, bool tuple = false);
  static Value generator(Array items);
  static Value new_object();  // empty dict
  // From nlohmann::json or nlohmann::ordered_json (the latter keeps dict key order as Python would).
  template <class Json>
  static Value from_json(const Json& j, int depth = 0);

  const std::string& text() const {
    static const std::string empty;
    return shared_text ? *shared_text : empty;
  }

  bool is_undefined() const { return type == Type::Undefined; }
  bool is_none() const { return type == Type::None; }
  bool is_string() const { return type == Type::String; }
  bool is_array() const { return type == Type::Array; }
  bool is_object() const { return type == Type::Object; }
  bool is_number() const { return type == Type::Int || type == Type::Float || type == Type::Bool; }
  bool is_integral() const { return type == Type::Int || type == Type::Bool; }
  bool is_namespace() const;
  int64_t as_int() const { return type == Type::Bool ? (boolean ? 1 : 0) : integer; }
  double as_double() const { return type == Type::Float ? number : static_cast<double>(as_int()); }

  bool truthy() const;         // Python truthiness
  std::string str() const;     // Python str(): what {{ value }} prints
  std::string repr() const;    // Python repr(): used inside containers
  const char* type_name() const;  // Python type name for error messages
};

// A Python dict (insertion ordered) or a jinja2 Namespace.
// State behind a for loop's `loop` variable (jinja2's LoopContext): one object per loop,
// advanced in place, its attributes computed on access.
// With a loop filter (`for x in xs if cond`) items are accepted lazily, as python's
// generator does, so the body's side effects are seen by later tests.
struct LoopState {
  std::vector<Value> source;                 // every item of the iterable
  size_t scanned = 0;                        // source items already tested
  std::vector<Value> items;                  // accepted items so far
  std::function<bool(const Value&)> accept;  // the loop filter; null accepts all
  int64_t index = 0;
  Value cycle;
};

struct Object {
  std::vector<std::pair<Value, Value>> items;
  bool is_namespace = false;  // also set for loop objects: attribute access only
  std::shared_ptr<LoopState> loop;

  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  void set(const Value& key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> named;

  // Binds Python-style parameters by position or name; missing ones stay Undefined.
  // Fails on unknown names or too many positional arguments.
  std::vector<Value> bind(const char* func, const std::vector<const char*>& params) const;
};

struct Callable {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> fn;
};

Value make_callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn);

// Python == (deep, numeric across int/float/bool).
template <class Json>
Value Value::from_json(const Json& j, int depth) {
  if (depth > 256) throw Error("chat template context: JSON nested deeper than 256 levels");
  if (j.is_null()) return none();
  if (j.is_boolean()) return from_bool(j.template get<bool>());
  if (j.is_number_unsigned()) {
    uint64_t u = j.template get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return from_float(static_cast<double>(u));
    return from_int(static_cast<int64_t>(u));
  }
  if (j.is_number_integer()) return from_int(j.template get<int64_t>());
  if (j.is_number_float()) return from_float(j.template get<double>());
  if (j.is_string()) return from_string(j.template get<std::string>());
  if (j.is_array()) {
    Array items;
    items.reserve(j.size());
    for (const auto& e : j) items.push_back(from_json(e, depth + 1));
    return from_array(std::move(items));
  }
  if (j.is_object()) {
    Value v = new_object();
    for (auto it = j.begin(); it != j.end(); ++it)
      v.object->items.emplace_back(from_string(it.key()), from_json(it.value(), depth + 1));
    return v;
  }
  throw Error("chat template context: unsupported JSON value (binary)");
}

bool values_equal(const Value& a, const Value& b, int depth = 0);
// Python <; fails with a TypeError-like message for unorderable types.
bool values_less(const Value& a, const Value& b);

std::string python_float_repr(double d);
std::string python_string_repr(const std::string& s);

// Value -> JSON text as Python's json.dumps (transformers' tojson).
struct JsonDumpOptions {
  bool ensure_ascii = false;
  bool sort_keys = false;
  bool has_indent = false;
  std::string indent;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
};
std::string json_dumps(const Value& v, const JsonDumpOptions& opts);

}  // namespace pocketllm::chat::jinja
