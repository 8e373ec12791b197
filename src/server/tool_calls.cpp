#include "server/tool_calls.h"

#include <set>

#include "core/error.h"
#include "grammar/json_schema.h"
#include "server/api_error.h"

namespace pocketllm::server {
namespace {

using ojson = nlohmann::ordered_json;

bool valid_function_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

const ToolSpec* find_tool(const std::vector<ToolSpec>& tools, const std::string& name) {
  for (auto& t : tools)
    if (t.name == name) return &t;
  return nullptr;
}

// One call object {"name": ..., <args_key>: {...}} of a known tool, or false.
bool read_call(const ojson& j, const char* args_key, const std::vector<ToolSpec>& tools, ToolCall& out) {
  if (!j.is_object()) return false;
  auto n = j.find("name");
  if (n == j.end() || !n->is_string() || !find_tool(tools, n->get<std::string>())) return false;
  auto a = j.find(args_key);
  if (a == j.end()) a = j.find("arguments");  // Llama 3 models sometimes write "arguments"
  if (a == j.end()) a = j.find("parameters");
  out.name = n->get<std::string>();
  if (a == j.end() || a->is_null()) {
    out.arguments = "{}";
  } else if (a->is_object()) {
    out.arguments = a->dump();
  } else if (a->is_string() && ojson::parse(a->get<std::string>(), nullptr, false).is_object()) {
    out.arguments = ojson::parse(a->get<std::string>()).dump();  // arguments written as a JSON string
  } else {
    return false;
  }
  return true;
}

// The JSON value at text[pos] parsed (discarded when it is not one, or does not end).
ojson json_at(std::string_view text, size_t pos, size_t& end) {
  end = json_value_end(text, pos);
  if (end == std::string_view::npos) return ojson(ojson::value_t::discarded);
  return ojson::parse(text.substr(pos, end - pos), nullptr, false);
}

// The JSON schema of one call, or of a choice between the calls of `tools`.
ojson call_schema(const std::vector<ToolSpec>& tools, const char* args_key, ojson& defs) {
  ojson alts = ojson::array();
  for (const ToolSpec& t : tools) {
    ojson params = t.parameters;
    // $refs point at the root of the parameters schema: its $defs move to the root of the whole.
    for (const char* container : {"$defs", "definitions"}) {
      auto it = params.find(container);
      if (it == params.end()) continue;
      if (!it->is_object()) bad_request(fmt::format("tools: function '{}': '{}' must be an object", t.name, container));
      for (auto& [k, v] : it->items()) {
        ojson& slot = defs[container][k];
        if (!slot.is_null() && slot != v)
          bad_request(fmt::format("tools: two functions define {}/{} differently; give their definitions distinct names",
                                  container, k));
        slot = v;
      }
      params.erase(container);
    }
    ojson call = {{"type", "object"},
                  {"properties", {{"name", {{"const", t.name}}}, {args_key, params}}},
                  {"required", {"name", args_key}},
                  {"additionalProperties", false}};
    alts.push_back(std::move(call));
  }
  if (alts.size() == 1) return alts[0];
  return {{"anyOf", alts}};
}

std::string schema_gbnf(ojson schema, const ojson& defs) {
  for (auto& [k, v] : defs.items()) schema[k] = v;
  try {
    return grammar::json_schema_to_gbnf(schema);
  } catch (const Error& e) {
    bad_request(std::string("tools: ") + e.what());
  }
}

}  // namespace

const char* tool_format_name(ToolFormat f) {
  switch (f) {
    case ToolFormat::Llama3: return "llama3";
    case ToolFormat::Qwen: return "qwen";
    case ToolFormat::Mistral: return "mistral";
    default: return "generic";
  }
}

ToolFormat tool_format_for_template(std::string_view t) {
  if (t.find("<tool_call>") != std::string_view::npos) return ToolFormat::Qwen;
  if (t.find("[TOOL_CALLS]") != std::string_view::npos) return ToolFormat::Mistral;
  if (t.find("<|start_header_id|>") != std::string_view::npos && t.find("\"parameters\"") != std::string_view::npos &&
      t.find("tools") != std::string_view::npos)
    return ToolFormat::Llama3;
  return ToolFormat::Generic;
}

std::vector<ToolSpec> parse_tools(const ojson& tools) {
  if (!tools.is_array()) bad_request("'tools' must be an array");
  if (tools.size() > 128) bad_request("'tools' may hold at most 128 functions");
  std::vector<ToolSpec> out;
  std::set<std::string> names;
  for (size_t i = 0; i < tools.size(); ++i) {
    const ojson& t = tools[i];
    const std::string where = fmt::format("tools[{}]", i);
    if (!t.is_object()) bad_request(where + " must be an object");
    auto type = t.find("type");
    if (type == t.end() || *type != "function") bad_request(where + ".type must be 'function'");
    auto fn = t.find("function");
    if (fn == t.end() || !fn->is_object()) bad_request(where + ".function must be an object");
    auto name = fn->find("name");
    if (name == fn->end() || !name->is_string()) bad_request(where + ".function.name must be a string");
    ToolSpec s;
    s.name = name->get<std::string>();
    if (!valid_function_name(s.name))
      bad_request(where + ".function.name must be 1 to 64 characters of a-z, A-Z, 0-9, '_' and '-'");
    if (!names.insert(s.name).second) bad_request(fmt::format("tools: the function name '{}' is given twice", s.name));
    if (auto d = fn->find("description"); d != fn->end() && !d->is_string() && !d->is_null())
      bad_request(where + ".function.description must be a string");
    if (auto st = fn->find("strict"); st != fn->end() && !st->is_boolean() && !st->is_null())
      bad_request(where + ".function.strict must be a boolean");
    auto p = fn->find("parameters");
    if (p == fn->end() || p->is_null()) {
      s.parameters = {{"type", "object"}};
    } else {
      if (!p->is_object()) bad_request(where + ".function.parameters must be a JSON schema (an object)");
      s.parameters = *p;
    }
    out.push_back(std::move(s));
  }
  return out;
}

ToolChoice parse_tool_choice(const ojson* v, const std::vector<ToolSpec>& tools) {
  ToolChoice c;
  if (!v || v->is_null()) {
    c.mode = tools.empty() ? ToolChoice::None : ToolChoice::Auto;
    return c;
  }
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    if (s == "auto") c.mode = ToolChoice::Auto;
    else if (s == "none") c.mode = ToolChoice::None;
    else if (s == "required") c.mode = ToolChoice::Required;
    else bad_request("'tool_choice' must be 'auto', 'none', 'required' or {\"type\":\"function\",\"function\":{\"name\":...}}");
  } else if (v->is_object()) {
    auto type = v->find("type");
    auto fn = v->find("function");
    if (type == v->end() || *type != "function" || fn == v->end() || !fn->is_object() || !fn->contains("name") ||
        !(*fn)["name"].is_string())
      bad_request("'tool_choice' as an object must be {\"type\":\"function\",\"function\":{\"name\":...}}");
    c.mode = ToolChoice::Named;
    c.name = (*fn)["name"].get<std::string>();
    if (!find_tool(tools, c.name)) bad_request(fmt::format("'tool_choice' names the function '{}', which is not in 'tools'", c.name));
  } else {
    bad_request("'tool_choice' must be a string or an object");
  }
  if (c.mode != ToolChoice::None && tools.empty()) bad_request("'tool_choice' needs 'tools'");
  return c;
}

std::string tool_call_grammar(ToolFormat f, const std::vector<ToolSpec>& tools, int max_calls) {
  if (max_calls < 1) fail("tools: at least one call must be allowed");
  // Each function's schema alone first, so an error names the function.
  for (const ToolSpec& t : tools) {
    try {
      grammar::json_schema_to_gbnf(t.parameters);
    } catch (const Error& e) {
      bad_request(fmt::format("tools: function '{}': parameters: {}", t.name, e.what()));
    }
  }
  ojson defs = ojson::object();
  const char* args_key = f == ToolFormat::Llama3 ? "parameters" : "arguments";
  const ojson call = call_schema(tools, args_key, defs);
  ojson value;
  if (f == ToolFormat::Generic) {
    value = {{"type", "object"},
             {"properties", {{"tool_calls", {{"type", "array"}, {"items", call}, {"minItems", 1}, {"maxItems", max_calls}}}}},
             {"required", {"tool_calls"}},
             {"additionalProperties", false}};
  } else if (f == ToolFormat::Mistral) {
    value = {{"type", "array"}, {"items", call}, {"minItems", 1}, {"maxItems", max_calls}};
  } else {
    value = call;
  }
  std::string g = schema_gbnf(value, defs);
  // The converter's start rule becomes a rule of ours, wrapped in the family's markers.
  const std::string start = "root ::= ";
  if (g.rfind(start, 0) != 0) fail("tools: the schema converter's grammar does not start with its root rule");
  g = "tool-calls-value ::= " + g.substr(start.size());
  switch (f) {
    case ToolFormat::Qwen:
      return (max_calls == 1 ? std::string("root ::= tool-call\n")
                             : fmt::format("root ::= tool-call (\"\\n\" tool-call){{0,{}}}\n", max_calls - 1)) +
             "tool-call ::= \"<tool_call>\\n\" tool-calls-value \"\\n</tool_call>\"\n" + g;
    case ToolFormat::Mistral: return "root ::= \"[TOOL_CALLS]\" tool-calls-value\n" + g;
    default: return "root ::= tool-calls-value\n" + g;
  }
}

std::string generic_tool_instructions(const ojson& tools) {
  std::string list;
  for (auto& t : tools) list += t.dump() + "\n";
  return "You can call these functions:\n" + list +
         "To call functions, answer with only a JSON object of this form, and nothing else:\n"
         "{\"tool_calls\": [{\"name\": \"<function name>\", \"arguments\": {<arguments as a JSON object>}}]}\n"
         "Otherwise answer normally.";
}

size_t streamable_content(ToolFormat f, std::string_view text, bool& hold) {
  const size_t p = text.find_first_not_of(" \t\r\n");
  if (p == std::string_view::npos) return 0;  // whitespace may still precede a call
  const std::string_view s = text.substr(p);
  auto starts = [&](std::string_view marker) { return s.substr(0, marker.size()) == marker; };
  auto could_become = [&](std::string_view marker) { return s.size() < marker.size() && marker.starts_with(s); };
  if ((f == ToolFormat::Generic || f == ToolFormat::Llama3) && s[0] == '{') {
    hold = true;
    return 0;
  }
  if (f == ToolFormat::Generic) return text.size();
  if (f == ToolFormat::Llama3) {
    const std::string_view tag = "<|python_tag|>";
    if (starts(tag)) hold = true;
    return hold || could_become(tag) ? 0 : text.size();
  }
  if (f == ToolFormat::Mistral && s[0] == '[') {  // the marker, or a bare array of calls
    hold = true;
    return 0;
  }
  // Qwen and Mistral: content may come before the first call's marker.
  const std::string_view marker = f == ToolFormat::Qwen ? "<tool_call>" : "[TOOL_CALLS]";
  if (const size_t at = text.find(marker); at != std::string_view::npos) {
    hold = true;
    return at > p ? at : 0;
  }
  size_t keep = 0;  // a tail that may be the marker's beginning
  for (size_t k = std::min(marker.size() - 1, text.size()); k > 0; --k)
    if (marker.starts_with(text.substr(text.size() - k))) {
      keep = k;
      break;
    }
  return text.size() - keep;
}

size_t json_value_end(std::string_view text, size_t pos) {
  if (pos >= text.size()) return std::string_view::npos;
  int depth = 0;
  bool in_string = false;
  for (size_t i = pos; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth <= 0) return depth == 0 ? i + 1 : std::string_view::npos;
    } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n')) {
      return i;  // a bare scalar
    }
  }
  return std::string_view::npos;
}

ParsedAnswer parse_tool_calls(ToolFormat f, const std::string& text, const std::vector<ToolSpec>& tools) {
  ParsedAnswer none{text, {}};
  const std::string_view t = trim(text);
  ParsedAnswer out;
  size_t end = 0;
  switch (f) {
    case ToolFormat::Qwen: {
      const std::string_view open = "<tool_call>", close = "</tool_call>";
      size_t pos = 0;
      for (;;) {
        const size_t at = t.find(open, pos);
        out.content += t.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos);
        if (at == std::string_view::npos) break;
        size_t start = at + open.size();
        while (start < t.size() && (t[start] == ' ' || t[start] == '\n')) ++start;
        const ojson j = json_at(t, start, end);
        ToolCall c;
        if (!read_call(j, "arguments", tools, c)) return none;
        out.calls.push_back(std::move(c));
        const std::string_view rest = trim(t.substr(end));
        if (rest.substr(0, close.size()) == close) {
          pos = static_cast<size_t>(rest.data() - t.data()) + close.size();
        } else if (rest.empty()) {
          pos = t.size();  // the model ended without the closing tag
        } else {
          return none;
        }
      }
      break;
    }
    case ToolFormat::Mistral: {
      const std::string_view marker = "[TOOL_CALLS]";
      // [TOOL_CALLS] is a control token the detokenizer drops: a bare array of calls counts too.
      const size_t at = t.find(marker);
      if (at == std::string_view::npos && (t.empty() || t[0] != '[')) return none;
      out.content = at == std::string_view::npos ? std::string_view() : t.substr(0, at);
      size_t start = at == std::string_view::npos ? 0 : at + marker.size();
      while (start < t.size() && t[start] == ' ') ++start;
      const ojson j = json_at(t, start, end);
      if (!j.is_array() || j.empty() || !trim(t.substr(end)).empty()) return none;
      for (auto& item : j) {
        ToolCall c;
        if (!read_call(item, "arguments", tools, c)) return none;
        out.calls.push_back(std::move(c));
      }
      break;
    }
    case ToolFormat::Llama3: {
      std::string_view body = t;
      if (body.substr(0, 14) == "<|python_tag|>") body = trim(body.substr(14));
      if (body.empty() || body[0] != '{') return none;
      const ojson j = json_at(body, 0, end);
      ToolCall c;
      if (!read_call(j, "parameters", tools, c) || !trim(body.substr(end)).empty()) return none;
      out.calls.push_back(std::move(c));
      break;
    }
    case ToolFormat::Generic: {
      if (t.empty() || t[0] != '{') return none;
      const ojson j = json_at(t, 0, end);
      if (!j.is_object() || !j.contains("tool_calls") || !j["tool_calls"].is_array() || j["tool_calls"].empty() ||
          !trim(t.substr(end)).empty())
        return none;
      for (auto& item : j["tool_calls"]) {
        ToolCall c;
        if (!read_call(item, "arguments", tools, c)) return none;
        out.calls.push_back(std::move(c));
      }
      break;
    }
  }
  out.content = std::string(trim(out.content));
  return out;
}

}  // namespace pocketllm::server
