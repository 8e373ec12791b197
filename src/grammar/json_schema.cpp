#include "grammar/json_schema.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace pocketllm::grammar {
namespace {

using json = nlohmann::ordered_json;

// The JSON value grammar every schema builds on. `ws` is bounded (as llama.cpp's
// converter does) so a model cannot pad forever between tokens.
constexpr const char* kBase = R"(ws ::= | " " | "\n" [ \t]{0,20}
value ::= object | array | string | number | boolean | null
object ::= "{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws
array ::= "[" ws ( value ( "," ws value )* )? "]" ws
char ::= [^"\\\x7F\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
string ::= "\"" char* "\"" ws
int-part ::= "0" | [1-9] [0-9]{0,15}
number ::= "-"? int-part ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )? ws
integer ::= "-"? int-part ws
boolean ::= ( "true" | "false" ) ws
null ::= "null" ws
)";

// Keywords that describe but never constrain: accepted anywhere.
const std::set<std::string> kAnnotations = {"title", "description", "$schema", "$id", "$comment", "examples",
                                            "default", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"};

std::string gbnf_literal(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

class Converter {
 public:
  explicit Converter(const json& root) : root_(root) {}

  std::string run() {
    const std::string top = visit(root_, "#", "schema");
    std::string out = std::string("root ::= ") + top + "\n" + kBase;
    for (auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
    return out;
  }

 private:
  const json& root_;
  std::map<std::string, std::string> rules_;
  std::map<std::string, std::string> ref_rules_;  // $ref -> rule name (recursion-safe)
  int counter_ = 0;

  [[noreturn]] static void unsupported(const std::string& kw, const std::string& where, const std::string& why = "") {
    fail("JSON schema: unsupported keyword '{}' at {}{}", kw, where, why.empty() ? "" : " (" + why + ")");
  }
  [[noreturn]] static void bad(const std::string& where, const std::string& what) {
    fail("JSON schema: {} at {}", what, where);
  }

  std::string add_rule(const std::string& hint, const std::string& body) {
    std::string name;
    for (char c : hint) name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
    if (name.size() > 40) name.resize(40);
    name = fmt::format("s{}-{}", counter_++, name);
    rules_[name] = body;
    return name;
  }

  static void check_keywords(const json& s, const std::string& where, const std::set<std::string>& ok) {
    for (auto& [k, v] : s.items())
      if (!ok.count(k) && !kAnnotations.count(k)) unsupported(k, where);
  }

  std::string resolve(const std::string& ref, const std::string& where) {
    if (auto it = ref_rules_.find(ref); it != ref_rules_.end()) return it->second;
    std::string prefix;
    for (const char* p : {"#/$defs/", "#/definitions/"})
      if (ref.rfind(p, 0) == 0) prefix = p;
    if (prefix.empty()) bad(where, "$ref '" + ref + "' is not a local '#/$defs/...' or '#/definitions/...' reference");
    const std::string key = ref.substr(prefix.size());
    const std::string container = prefix == "#/$defs/" ? "$defs" : "definitions";
    if (!root_.is_object() || !root_.contains(container) || !root_[container].is_object() ||
        !root_[container].contains(key))
      bad(where, "$ref '" + ref + "' points to nothing");
    // Named before it is visited, so a recursive definition refers to itself.
    const std::string name = fmt::format("s{}-ref-{}", counter_++, key.substr(0, 30));
    std::string clean;
    for (char c : name) clean += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
    ref_rules_[ref] = clean;
    rules_[clean] = visit(root_[container][key], ref, key);
    return clean;
  }

  // Returns a GBNF expression (usually a rule name) for values valid under `s`.
  std::string visit(const json& s, const std::string& where, const std::string& hint) {
    if (s.is_boolean()) {
      if (!s.get<bool>()) bad(where, "schema 'false' accepts no value");
      return "value";
    }
    if (!s.is_object()) bad(where, "a schema must be an object or a boolean");
    if (s.contains("$ref")) {
      check_keywords(s, where, {"$ref"});
      if (!s["$ref"].is_string()) bad(where, "$ref must be a string");
      return resolve(s["$ref"].get<std::string>(), where);
    }
    if (s.contains("const")) {
      check_keywords(s, where, {"const", "type"});
      return "( " + gbnf_literal(s["const"].dump()) + " ws )";
    }
    if (s.contains("enum")) {
      check_keywords(s, where, {"enum", "type"});
      if (!s["enum"].is_array() || s["enum"].empty()) bad(where, "enum must be a non-empty array");
      std::string alts;
      for (auto& v : s["enum"]) alts += (alts.empty() ? "" : " | ") + gbnf_literal(v.dump());
      return add_rule(hint, "( " + alts + " ) ws");
    }
    for (const char* kw : {"anyOf", "oneOf", "allOf"}) {
      if (!s.contains(kw)) continue;
      check_keywords(s, where, {kw});
      const json& list = s[kw];
      if (!list.is_array() || list.empty()) bad(where, std::string(kw) + " must be a non-empty array");
      if (std::string(kw) == "allOf" && list.size() != 1)
        unsupported("allOf", where, "only a single subschema is supported");
      std::string alts;
      for (size_t i = 0; i < list.size(); ++i)
        alts += (alts.empty() ? "" : " | ") + visit(list[i], where + "/" + kw + "/" + std::to_string(i), hint);
      return add_rule(hint, alts);
    }
    std::vector<std::string> types;
    if (s.contains("type")) {
      const json& t = s["type"];
      if (t.is_string()) {
        types.push_back(t.get<std::string>());
      } else if (t.is_array() && !t.empty()) {
        for (auto& x : t) {
          if (!x.is_string()) bad(where, "type must be a string or an array of strings");
          types.push_back(x.get<std::string>());
        }
      } else {
        bad(where, "type must be a string or a non-empty array of strings");
      }
    } else if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) {
      types.push_back("object");
    } else if (s.contains("items") || s.contains("minItems") || s.contains("maxItems")) {
      types.push_back("array");
    } else if (s.contains("minLength") || s.contains("maxLength") || s.contains("format")) {
      types.push_back("string");
    } else {
      check_keywords(s, where, {});
      return "value";
    }
    // Keywords must each belong to one of the listed types.
    std::set<std::string> ok = {"type"};
    const std::map<std::string, std::set<std::string>> per_type = {
        {"object", {"properties", "required", "additionalProperties"}},
        {"array", {"items", "minItems", "maxItems"}},
        {"string", {"minLength", "maxLength", "format"}},
        {"number", {}}, {"integer", {}}, {"boolean", {}}, {"null", {}}};
    for (auto& t : types) {
      auto it = per_type.find(t);
      if (it == per_type.end()) bad(where, "unknown type '" + t + "'");
      ok.insert(it->second.begin(), it->second.end());
    }
    check_keywords(s, where, ok);
    std::string alts;
    for (auto& t : types) {
      std::string e;
      if (t == "object") e = object(s, where, hint);
      else if (t == "array") e = array(s, where, hint);
      else if (t == "string") e = string(s, where, hint);
      else e = t;  // number, integer, boolean, null: base rules
      alts += (alts.empty() ? "" : " | ") + e;
    }
    return types.size() == 1 ? alts : add_rule(hint, alts);
  }

  std::string object(const json& s, const std::string& where, const std::string& hint) {
    const json props = s.value("properties", json::object());
    if (!props.is_object()) bad(where, "properties must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) bad(where, "required must be an array");
      for (auto& r : s["required"]) {
        if (!r.is_string()) bad(where, "required must list strings");
        if (!props.contains(r.get<std::string>()))
          unsupported("required", where, "'" + r.get<std::string>() + "' is not in properties");
        required.insert(r.get<std::string>());
      }
    }
    const json extra = s.value("additionalProperties", json());
    if (!extra.is_null() && !extra.is_boolean() && !extra.is_object())
      bad(where, "additionalProperties must be a boolean or a schema");
    if (props.empty()) {
      // No declared properties: {} , or any members when additional ones are allowed.
      if (extra.is_boolean() && !extra.get<bool>()) return add_rule(hint, "\"{\" ws \"}\" ws");
      const std::string v = extra.is_object() ? visit(extra, where + "/additionalProperties", hint) : "value";
      return add_rule(hint, "\"{\" ws ( string \":\" ws " + v + " ( \",\" ws string \":\" ws " + v + " )* )? \"}\" ws");
    }
    // Declared properties, in declaration order; extra ones are never generated
    // (valid whatever additionalProperties says). first_i: members from i, none
    // written yet; rest_i: members from i after one was written (comma first).
    std::vector<std::string> kv;
    std::vector<bool> req;
    for (auto& [name, sub] : props.items()) {
      const std::string v = visit(sub, where + "/properties/" + name, hint + "-" + name);
      kv.push_back(gbnf_literal(json(name).dump()) + " ws \":\" ws " + v);
      req.push_back(required.count(name) > 0);
    }
    const size_t n = kv.size();
    std::vector<std::string> rest(n + 1), first(n + 1);
    rest[n] = first[n] = "\"\"";
    for (size_t i = n; i-- > 0;) {
      const std::string tail = rest[i + 1] == "\"\"" ? "" : " " + rest[i + 1];
      rest[i] = add_rule(hint + "-rest", req[i] ? "\",\" ws " + kv[i] + tail
                                                  : "( \",\" ws " + kv[i] + " )?" + tail);
      const std::string with = kv[i] + tail;
      first[i] = add_rule(hint + "-first", req[i] ? with : with + " | " + first[i + 1]);
    }
    return add_rule(hint, "\"{\" ws " + first[0] + " \"}\" ws");
  }

  static int64_t count(const json& s, const char* kw, const std::string& where) {
    const json& v = s[kw];
    if (!v.is_number_integer() || v.get<int64_t>() < 0) bad(where, std::string(kw) + " must be a non-negative integer");
    if (v.get<int64_t>() > 10000) unsupported(kw, where, "values above 10000 are not supported");
    return v.get<int64_t>();
  }

  std::string array(const json& s, const std::string& where, const std::string& hint) {
    const std::string item = s.contains("items") ? visit(s["items"], where + "/items", hint + "-item") : "value";
    const int64_t lo = s.contains("minItems") ? count(s, "minItems", where) : 0;
    const int64_t hi = s.contains("maxItems") ? count(s, "maxItems", where) : -1;
    if (hi >= 0 && hi < lo) bad(where, "maxItems is below minItems");
    if (hi == 0) return add_rule(hint, "\"[\" ws \"]\" ws");
    const std::string more = fmt::format("( \",\" ws {} ){{{},{}}}", item, lo > 0 ? lo - 1 : 0,
                                         hi < 0 ? std::string() : std::to_string(hi - 1));
    const std::string list = item + " " + more;
    return add_rule(hint, "\"[\" ws " + (lo > 0 ? list : "( " + list + " )?") + " \"]\" ws");
  }

  std::string string(const json& s, const std::string& where, const std::string& hint) {
    if (s.contains("format")) {
      if (s.contains("minLength") || s.contains("maxLength"))
        unsupported(s.contains("minLength") ? "minLength" : "maxLength", where, "together with format");
      if (!s["format"].is_string()) bad(where, "format must be a string");
      const std::string f = s["format"].get<std::string>();
      // Real calendar days (validators parse them): years 1000-9999, February up to the 28th.
      const std::string d28 = R"("0" [1-9] | "1" [0-9] | "2" [0-8])";
      const std::string date = R"([1-9] [0-9]{3} "-" ( ( "0" [13578] | "1" [02] ) "-" ( )" + d28 +
                               R"( | "29" | "30" | "31" ) | ( "0" [469] | "11" ) "-" ( )" + d28 +
                               R"( | "29" | "30" ) | "02-" ( )" + d28 + " ) )";
      const std::string time =
          R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))";
      std::string body;
      if (f == "date") body = date;
      else if (f == "time") body = time;
      else if (f == "date-time") body = date + " \"T\" " + time;
      else if (f == "uuid") body = R"([0-9a-f]{8} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{4} "-" [0-9a-f]{12})";
      else unsupported("format", where, "'" + f + "': supported are date, time, date-time, uuid");
      return add_rule(hint, "\"\\\"\" " + body + " \"\\\"\" ws");
    }
    const int64_t lo = s.contains("minLength") ? count(s, "minLength", where) : 0;
    const int64_t hi = s.contains("maxLength") ? count(s, "maxLength", where) : -1;
    if (hi >= 0 && hi < lo) bad(where, "maxLength is below minLength");
    if (lo == 0 && hi < 0) return "string";
    return add_rule(hint, fmt::format("\"\\\"\" char{{{},{}}} \"\\\"\" ws", lo, hi < 0 ? std::string() : std::to_string(hi)));
  }
};

}  // namespace

std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema) { return Converter(schema).run(); }

std::string json_schema_to_gbnf(const nlohmann::json& schema) {
  return json_schema_to_gbnf(nlohmann::ordered_json::parse(schema.dump()));
}

std::string json_object_gbnf() { return std::string("root ::= object\n") + kBase; }

}  // namespace pocketllm::grammar
