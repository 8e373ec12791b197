#include "server/tool_calls.h"

#include <set>

#include "core/error.h"
#include "grammar/json_schema.h"
#include "server/api_error.h"
#include "server/tool_call_stream.h"

namespace pocketllm::server {
namespace {

using ojson = nlohmann::ordered_json;

bool valid_function_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

const ToolSpec* find_tool(const std::vector<ToolSpec>& tools, const std::string& name) {
  for (auto& t : tools)
    if (t.name == name) return &t;
  return nullptr;
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

ParsedAnswer parse_tool_calls(ToolFormat f, const std::string& text, const std::vector<ToolSpec>& tools) {
  ToolCallStream stream(f, tools);
  std::vector<ToolCallEvent> events = stream.feed(text);
  for (ToolCallEvent& e : stream.finish()) events.push_back(std::move(e));
  ParsedAnswer out;
  for (const ToolCallEvent& e : events) {
    if (e.kind == ToolCallEvent::Content) out.content += e.text;
    else if (e.kind == ToolCallEvent::CallStart) out.calls.push_back({e.text, ""});
    else if (e.kind == ToolCallEvent::Arguments) out.calls.at(e.call).arguments += e.text;
  }
  return out;
}

}  // namespace pocketllm::server
