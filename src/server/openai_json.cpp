#include "server/openai_json.h"

#include <limits>

#include "core/bounded_json.h"
#include "core/error.h"
#include "runtime/grammar_constraint.h"
#include "server/api_error.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::server {
namespace {

using nlohmann::json;

// The field's value, or nullptr when absent or null (both mean "default").
const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

void read_float(const json& body, const char* name, float& out, double lo, double hi) {
  const json* v = field(body, name);
  if (!v) return;
  if (!v->is_number()) bad_request(fmt::format("'{}' must be a number", name));
  const double d = v->get<double>();
  if (!(d >= lo && d <= hi)) bad_request(fmt::format("'{}' must be between {} and {}", name, lo, hi));
  out = static_cast<float>(d);
}

bool read_int(const json& body, const char* name, int64_t& out, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return false;
  if (!v->is_number_integer()) bad_request(fmt::format("'{}' must be an integer", name));
  const int64_t i = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(hi) ? hi + 1 : v->get<int64_t>();
  if (i < lo || i > hi) bad_request(fmt::format("'{}' must be between {} and {}", name, lo, hi));
  out = i;
  return true;
}

std::vector<std::string> read_stop(const json& body) {
  const json* v = field(body, "stop");
  std::vector<std::string> out;
  if (!v) return out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > 4) bad_request("'stop' may hold at most 4 strings");
    for (auto& s : *v) {
      if (!s.is_string()) bad_request("'stop' must be a string or an array of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    bad_request("'stop' must be a string or an array of strings");
  }
  for (auto& s : out)
    if (s.empty()) bad_request("'stop' strings must not be empty");
  return out;
}

// "grammar" (GBNF, llama.cpp's field) or OpenAI's response_format: json_object, or
// json_schema {name, schema, strict}. A bad one is a 400 with the parser's message.
std::shared_ptr<const grammar::Grammar> read_grammar(const json& body, std::string_view raw) {
  GrammarSpec spec;
  if (const json* g = field(body, "grammar")) {
    if (!g->is_string()) bad_request("'grammar' must be a string (a GBNF grammar)");
    spec.gbnf = g->get<std::string>();
  }
  if (const json* rf = field(body, "response_format")) {
    if (!rf->is_object()) bad_request("'response_format' must be an object");
    const json* type = field(*rf, "type");
    if (!type || !type->is_string()) bad_request("'response_format.type' must be a string");
    const std::string t = type->get<std::string>();
    if (t == "json_object") {
      spec.json_object = true;
    } else if (t == "json_schema") {
      const json* js = field(*rf, "json_schema");
      if (!js || !js->is_object()) bad_request("'response_format.json_schema' must be an object");
      if (const json* n = field(*js, "name"); n && !n->is_string())
        bad_request("'response_format.json_schema.name' must be a string");
      if (const json* st = field(*js, "strict"); st && !st->is_boolean())
        bad_request("'response_format.json_schema.strict' must be a boolean");
      const json* schema = field(*js, "schema");
      if (!schema) bad_request("'response_format.json_schema.schema' is required");
      if (!schema->is_object() && !schema->is_boolean())
        bad_request("'response_format.json_schema.schema' must be a JSON schema (an object)");
      spec.json_schema = schema->dump();
      if (!raw.empty()) {
        // Again from the text, in document order (json sorts object keys).
        const auto ordered = parse_json_bounded<nlohmann::ordered_json>(raw, "the request body");
        spec.json_schema = ordered["response_format"]["json_schema"]["schema"].dump();
      }
    } else if (t != "text") {
      bad_request("'response_format.type' must be 'text', 'json_object' or 'json_schema'");
    }
    if (t != "text" && !spec.gbnf.empty()) bad_request("give 'grammar' or 'response_format', not both");
  }
  try {
    return compile_grammar(spec);
  } catch (const Error& e) {
    bad_request(e.what());
  }
}

}  // namespace

json parse_body(const std::string& body) {
  json j;
  try {
    j = parse_json_bounded(body, "the request body");
  } catch (const json::exception&) {
    bad_request("the request body is not valid JSON");
  } catch (const JsonTooDeep& e) {
    bad_request(e.what());
  }
  if (!j.is_object()) bad_request("the request body must be a JSON object");
  return j;
}

CompletionRequest parse_common(const json& body, const SamplingParams& defaults, std::string_view raw) {
  CompletionRequest r;
  SamplingParams& s = r.gen.sampling;
  s = defaults;
  read_float(body, "temperature", s.temp, 0, 100);
  read_float(body, "top_p", s.top_p, 0, 1);
  read_float(body, "min_p", s.min_p, 0, 1);
  read_float(body, "frequency_penalty", s.frequency_penalty, -2, 2);
  read_float(body, "presence_penalty", s.presence_penalty, -2, 2);
  read_float(body, "repeat_penalty", s.repeat_penalty, 0, 100);
  int64_t i = 0;
  if (read_int(body, "top_k", i, -1, std::numeric_limits<int32_t>::max())) s.top_k = static_cast<int32_t>(i);
  if (read_int(body, "repeat_last_n", i, 0, 1 << 20)) s.repeat_last_n = static_cast<int32_t>(i);
  if (read_int(body, "seed", i, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()))
    s.seed = i;
  const int64_t max_limit = int64_t{1} << 40;
  if (!read_int(body, "max_completion_tokens", r.gen.max_tokens, 0, max_limit))
    read_int(body, "max_tokens", r.gen.max_tokens, 0, max_limit);
  if (read_int(body, "n", i, 1, kMaxChoices)) r.n = static_cast<int>(i);
  r.gen.stop = read_stop(body);
  if (const json* v = field(body, "stream")) {
    if (!v->is_boolean()) bad_request("'stream' must be a boolean");
    r.stream = v->get<bool>();
  }
  // OpenAI: only meaningful with stream: true; ignored otherwise (as llama.cpp does).
  if (const json* v = field(body, "stream_options")) {
    if (!v->is_object()) bad_request("'stream_options' must be an object");
    if (const json* u = field(*v, "include_usage")) {
      if (!u->is_boolean()) bad_request("'stream_options.include_usage' must be a boolean");
      r.include_usage = u->get<bool>();
    }
  }
  if (const json* v = field(body, "model"); v && !v->is_string()) bad_request("'model' must be a string");
  r.gen.grammar = read_grammar(body, raw);
  return r;
}

CompletionRequest parse_completion_request(const json& body, const Tokenizer& tok, const SamplingParams& defaults,
                                           std::string_view raw) {
  CompletionRequest r = parse_common(body, defaults, raw);
  int64_t lp = 0;
  if (read_int(body, "logprobs", lp, 0, kMaxTopLogprobs)) r.gen.logprobs = static_cast<int32_t>(lp);
  if (const json* e = field(body, "echo"); e && (!e->is_boolean() || e->get<bool>()))
    bad_request("'echo' is not supported (only false)");
  const json* p = field(body, "prompt");
  if (!p) bad_request("'prompt' is required");
  const json* one = p;
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) one = &(*p)[0];
  if (one->is_string()) {
    r.gen.prompt = tok.encode(one->get<std::string>(), true, true);
  } else if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
    for (auto& t : *p) {
      if (!t.is_number_integer()) bad_request("'prompt' token arrays must hold only integers");
      const int64_t id = t.get<int64_t>();
      if (id < 0 || id >= tok.n_vocab()) bad_request(fmt::format("token id {} is outside the vocabulary", id));
      r.gen.prompt.push_back(static_cast<int32_t>(id));
    }
  } else {
    bad_request("'prompt' must be a string, a one-string array or an array of token ids");
  }
  return r;
}

json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", cached_tokens}}}};
}

json timings_json(const GenTimings& t) {
  const auto rate = [](int64_t n, double ms) { return n > 0 && ms > 0 ? json(1000.0 * static_cast<double>(n) / ms) : json(); };
  return {{"prompt_n", t.prompt_n},
          {"prompt_ms", t.prompt_ms},
          {"prompt_per_second", rate(t.prompt_n, t.prompt_ms)},
          {"predicted_n", t.predicted_n},
          {"predicted_ms", t.predicted_ms},
          {"predicted_per_second", rate(t.predicted_n, t.predicted_ms)}};
}

static json base(const ResponseMeta& m, const char* object) {
  return {{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model}};
}

json full_response(const ResponseMeta& m, const std::vector<ChoiceOut>& choices, const json& usage) {
  json r = base(m, m.chat ? "chat.completion" : "text_completion");
  r["choices"] = json::array();
  for (const ChoiceOut& c : choices) {
    json choice = {{"index", c.index}, {"finish_reason", c.finish_reason},
                   {"logprobs", c.with_logprobs ? logprobs_json(m, c.logprobs) : json()}};
    if (m.chat) {
      json msg = {{"role", "assistant"}, {"content", c.calls.empty() || !c.text.empty() ? json(c.text) : json()}};
      if (!c.calls.empty()) {
        msg["tool_calls"] = json::array();
        for (size_t i = 0; i < c.calls.size(); ++i)
          msg["tool_calls"].push_back({{"id", c.call_ids.at(i)},
                                       {"type", "function"},
                                       {"function", {{"name", c.calls[i].name}, {"arguments", c.calls[i].arguments}}}});
      }
      choice["message"] = std::move(msg);
    } else {
      choice["text"] = c.text;
    }
    r["choices"].push_back(std::move(choice));
  }
  r["usage"] = usage;
  return r;
}

json stream_chunk(const ResponseMeta& m, const std::string& text, bool role_only, const std::string& finish_reason,
                  int index, const std::vector<TokenLogprob>* logprobs) {
  json r = base(m, m.chat ? "chat.completion.chunk" : "text_completion");
  json choice = {{"index", index}, {"logprobs", logprobs ? logprobs_json(m, *logprobs) : json()},
                 {"finish_reason", finish_reason.empty() ? json() : json(finish_reason)}};
  if (m.chat) {
    json delta = json::object();
    if (role_only) delta["role"] = "assistant";
    else if (finish_reason.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  r["choices"] = json::array({choice});
  return r;
}

namespace {
json tool_call_chunk(const ResponseMeta& m, int index, json call, const std::vector<TokenLogprob>* logprobs) {
  json r = base(m, "chat.completion.chunk");
  r["choices"] = json::array({{{"index", index},
                               {"delta", {{"tool_calls", json::array({std::move(call)})}}},
                               {"logprobs", logprobs ? logprobs_json(m, *logprobs) : json()},
                               {"finish_reason", nullptr}}});
  return r;
}
}  // namespace

json stream_call_start_chunk(const ResponseMeta& m, int index, int call, const std::string& id, const std::string& name,
                             const std::vector<TokenLogprob>* logprobs) {
  return tool_call_chunk(
      m, index,
      {{"index", call}, {"id", id}, {"type", "function"}, {"function", {{"name", name}, {"arguments", ""}}}}, logprobs);
}

json stream_call_arguments_chunk(const ResponseMeta& m, int index, int call, const std::string& fragment,
                                 const std::vector<TokenLogprob>* logprobs) {
  return tool_call_chunk(m, index, {{"index", call}, {"function", {{"arguments", fragment}}}}, logprobs);
}

json logprobs_json(const ResponseMeta& m, const std::vector<TokenLogprob>& lp) {
  auto spell = [&](int32_t id) { return m.tok ? m.tok->decode_piece(-1, id) : std::to_string(id); };
  auto bytes = [](const std::string& s) {
    json b = json::array();
    for (unsigned char c : s) b.push_back(c);
    return b;
  };
  if (m.chat) {
    json content = json::array();
    for (const TokenLogprob& t : lp) {
      json top = json::array();
      for (const TokenProb& p : t.top) {
        const std::string s = spell(p.id);
        top.push_back({{"token", s}, {"logprob", p.logprob}, {"bytes", bytes(s)}});
      }
      content.push_back({{"token", t.bytes}, {"logprob", t.logprob}, {"bytes", bytes(t.bytes)}, {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
  }
  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(), offsets = json::array();
  for (const TokenLogprob& t : lp) {
    tokens.push_back(t.bytes);
    token_logprobs.push_back(t.logprob);
    json top = json::object();
    for (const TokenProb& p : t.top) {
      const std::string s = spell(p.id);
      if (!top.contains(s)) top[s] = p.logprob;  // two ids with one spelling: the likelier one
    }
    top_logprobs.push_back(std::move(top));
    offsets.push_back(t.offset);
  }
  return {{"tokens", tokens}, {"token_logprobs", token_logprobs}, {"top_logprobs", top_logprobs}, {"text_offset", offsets}};
}

json stream_usage_chunk(const ResponseMeta& m, const json& usage) {
  json r = base(m, m.chat ? "chat.completion.chunk" : "text_completion");
  r["choices"] = json::array();
  r["usage"] = usage;
  return r;
}

}  // namespace pocketllm::server
