#include "server/http_api.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <algorithm>
#include <iterator>
#include <random>

#include "core/error.h"
#include "server/api_error.h"
#include "server/chat_page.h"
#include "server/openai_json.h"
#include "server/request_log.h"
#include "server/tool_call_stream.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* error_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 404: return "not_found_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

http::Response json_response(int status, const json& j, std::vector<http::Header> headers = {}) {
  return {status, "application/json", dump(j), std::move(headers)};
}

http::Response error_response(int status, const std::string& type, const std::string& message,
                              std::vector<http::Header> headers = {}) {
  return json_response(status, error_body(status, type, message), std::move(headers));
}

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  return fmt::format("{}{:x}{:06x}", prefix, salt & 0xffffff, counter.fetch_add(1));
}

// The key is a secret: the comparison takes a time that depends only on what the client sent.
bool same_secret(std::string_view given, std::string_view secret) {
  unsigned diff = given.size() == secret.size() ? 0u : 1u;
  for (size_t i = 0; i < given.size(); ++i)
    diff |= static_cast<unsigned char>(given[i]) ^ static_cast<unsigned char>(i < secret.size() ? secret[i] : 0);
  return diff == 0;
}

bool authorized(const http::Request& req, const std::string& key) {
  return same_secret(req.header("authorization"), "Bearer " + key) || same_secret(req.header("x-api-key"), key);
}

// The client went away, or the handler ended early: the scheduler frees the slots at their next step.
struct CancelOnExit {
  std::vector<std::shared_ptr<GenJob>> jobs;
  CancelOnExit() = default;
  CancelOnExit(const CancelOnExit&) = delete;
  CancelOnExit& operator=(const CancelOnExit&) = delete;
  ~CancelOnExit() {
    for (auto& j : jobs) j->cancel();
  }
};

// One choice being received.
struct ChoiceState {
  ChoiceOut out;
  bool done = false;
  std::string error;
  // Streaming with tools: the choice's own call parser, and logprobs of tokens
  // whose text it still holds (they go with the next chunk sent).
  std::unique_ptr<ToolCallStream> calls;
  std::vector<TokenLogprob> pending;
};

// A finished choice of a chat with tools: its text parsed for calls, each given an id.
void find_tool_calls(const CompletionRequest& cr, ChoiceOut& c) {
  if (!cr.tools_active()) return;
  ParsedAnswer a = parse_tool_calls(cr.tool_format, c.text, cr.tools);
  if (a.calls.empty()) return;
  c.text = a.content;
  c.calls = std::move(a.calls);
  for (size_t i = 0; i < c.calls.size(); ++i) c.call_ids.push_back(new_id("call_"));
  if (c.finish_reason == "stop") c.finish_reason = "tool_calls";
}

}  // namespace

HttpApi::HttpApi(ServerOptions o) : opt_(std::move(o)) {
  http::ServerLimits lim;
  lim.parser.max_body_bytes = opt_.max_body_bytes;
  lim.parser.max_header_bytes = opt_.max_header_bytes;
  lim.max_connections = opt_.max_connections;
  lim.max_workers = static_cast<size_t>(std::max(1, opt_.http_threads));
  lim.request_timeout = milliseconds(static_cast<int64_t>(opt_.request_timeout_s * 1000));
  http::ServerHooks hooks;
  hooks.handle = [this](http::Exchange& ex) { handle(ex); };
  hooks.error = [](int status, const std::string& message) {
    return error_response(status, error_type(status), message);
  };
  hooks.log = [this](const http::LogEntry& e) {
    if (!opt_.log_requests) return;
    const std::string line = request_log_line(e.method, e.path, e.status, e.tokens, e.ms);
    std::fwrite(line.data(), 1, line.size(), stderr);
  };
  server_ = std::make_unique<http::Server>(lim, std::move(hooks));
  install_routes();
}

HttpApi::~HttpApi() = default;

int HttpApi::bind() { return server_->bind(opt_.host, opt_.port); }
void HttpApi::listen() { server_->run(); }
void HttpApi::stop() { server_->stop(); }
bool HttpApi::running() const { return server_->running(); }

void HttpApi::attach(Backend b) {
  backend_ = b;
  ready_.store(true);
}

void HttpApi::handle(http::Exchange& ex) {
  const http::Request& req = ex.request();
  // The chat page holds no secret and asks for the key itself: it is served without one,
  // and while the model loads.
  const bool open_route = req.path == "/health" || req.path == "/";
  if (!opt_.api_key.empty() && !open_route && !authorized(req, opt_.api_key)) {
    ex.send(error_response(401, "authentication_error", "invalid or missing API key (send 'Authorization: Bearer KEY')"));
    return;
  }
  const http::Router::Match route = router_.find(req.method, req.path);
  if (!route.handler && route.allow.empty()) {
    ex.send(error_response(404, "not_found_error", fmt::format("no route for {} {}", req.method, req.path)));
    return;
  }
  if (!route.handler) {
    ex.send(error_response(405, "invalid_request_error",
                           fmt::format("{} is not allowed on {} (allowed: {})", req.method, req.path, route.allow),
                           {{"Allow", route.allow}}));
    return;
  }
  try {
    if (!ready_.load() && req.path != "/") throw ApiError(503, "unavailable_error", "the model is loading");
    (*route.handler)(ex);
  } catch (const ApiError& e) {
    if (!ex.responded()) ex.send(error_response(e.status(), e.type(), e.what()));
  } catch (const std::exception& e) {
    if (!ex.responded()) ex.send(error_response(500, "server_error", e.what()));
  }
}

void HttpApi::install_routes() {
  // The chat page (src/server/chat_page/index.html). Its policy allows its own inline script
  // and style (by hash) and requests to this server only.
  router_.add("GET", "/", [](http::Exchange& ex) {
    const std::string csp = fmt::format(
        "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        chat_page_html_script_sha256(), chat_page_html_style_sha256());
    ex.send({200, "text/html; charset=utf-8", std::string(chat_page_html()),
             {{"Content-Security-Policy", csp},
              {"X-Content-Type-Options", "nosniff"},
              {"Referrer-Policy", "no-referrer"},
              {"Cache-Control", "no-cache"}}});
  });
  router_.add("GET", "/health", [this](http::Exchange& ex) {
    json st = backend_.scheduler->state();
    ex.send(json_response(200, {{"status", "ok"}, {"slots_idle", st["slots_idle"]}, {"slots_busy", st["slots_busy"]},
                                {"queued", st["queued"]}}));
  });
  router_.add("GET", "/slots", [this](http::Exchange& ex) { ex.send(json_response(200, backend_.scheduler->state())); });

  auto models = [this](http::Exchange& ex) {
    json m = {{"id", opt_.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "pocketllm"},
              {"meta", {{"n_ctx_slot", backend_.scheduler->n_ctx()}, {"n_vocab", backend_.model->cfg.n_vocab}}}};
    ex.send(json_response(200, {{"object", "list"}, {"data", json::array({m})}}));
  };
  router_.add("GET", "/v1/models", models);
  router_.add("GET", "/models", models);

  for (const char* path : {"/v1/chat/completions", "/chat/completions"})
    router_.add("POST", path, [this](http::Exchange& ex) { generate(ex, true); });
  for (const char* path : {"/v1/completions", "/completions"})
    router_.add("POST", path, [this](http::Exchange& ex) { generate(ex, false); });

  router_.add("POST", "/tokenize", [this](http::Exchange& ex) {
    const json body = parse_body(ex.request().body);
    auto it = body.find("content");
    if (it == body.end() || !it->is_string()) bad_request("'content' must be a string");
    bool add_special = false, parse_special = true;
    if (body.contains("add_special")) {
      if (!body["add_special"].is_boolean()) bad_request("'add_special' must be a boolean");
      add_special = body["add_special"].get<bool>();
    }
    if (body.contains("parse_special")) {
      if (!body["parse_special"].is_boolean()) bad_request("'parse_special' must be a boolean");
      parse_special = body["parse_special"].get<bool>();
    }
    const auto ids = backend_.model->tokenizer->encode(it->get<std::string>(), add_special, parse_special);
    ex.send(json_response(200, {{"tokens", ids}}));
  });
  router_.add("POST", "/detokenize", [this](http::Exchange& ex) {
    const json body = parse_body(ex.request().body);
    auto it = body.find("tokens");
    if (it == body.end() || !it->is_array()) bad_request("'tokens' must be an array of token ids");
    const Tokenizer& tok = *backend_.model->tokenizer;
    std::vector<int32_t> ids;
    for (auto& t : *it) {
      if (!t.is_number_integer()) bad_request("'tokens' must be an array of token ids");
      const int64_t id = t.get<int64_t>();
      if (id < 0 || id >= tok.n_vocab()) bad_request(fmt::format("token id {} is outside the vocabulary", id));
      ids.push_back(static_cast<int32_t>(id));
    }
    ex.send(json_response(200, {{"content", tok.decode(ids)}}));
  });
}

// /v1/chat/completions and /v1/completions, whole or streamed as server-sent events;
// `n` choices are `n` independent requests to the scheduler.
void HttpApi::generate(http::Exchange& ex, bool chat) {
  const json body = parse_body(ex.request().body);
  CompletionRequest cr = chat ? parse_chat_request(body, *backend_.fmt, backend_.defaults, ex.request().body)
                              : parse_completion_request(body, *backend_.model->tokenizer, backend_.defaults,
                                                         ex.request().body);
  const ResponseMeta meta{new_id(chat ? "chatcmpl-" : "cmpl-"), opt_.model_id, static_cast<int64_t>(std::time(nullptr)),
                          chat, backend_.model->tokenizer.get()};
  CancelOnExit run;
  for (int i = 0; i < cr.n; ++i) {
    GenRequest g = cr.gen;
    if (i > 0 && g.sampling.seed >= 0) g.sampling.seed += i;  // same seed, yet distinct choices
    run.jobs.push_back(backend_.scheduler->submit(std::move(g)));
  }
  std::vector<ChoiceState> choices(run.jobs.size());
  for (size_t i = 0; i < choices.size(); ++i) {
    choices[i].out.index = static_cast<int>(i);
    choices[i].out.with_logprobs = cr.gen.logprobs >= 0;
  }
  const auto completion_tokens = [&] {
    int64_t n = 0;
    for (auto& j : run.jobs) n += j->completion_tokens();
    return n;
  };
  // The prompt is counted once, as OpenAI does for n > 1.
  const auto usage = [&] {
    return usage_json(run.jobs[0]->prompt_tokens(), completion_tokens(), run.jobs[0]->cached_tokens());
  };
  // llama.cpp's speeds, of the first choice: sent where the usage is.
  const auto timings = [&] { return timings_json(run.jobs[0]->timings()); };
  const auto gone = [&] {
    ex.set_log_tokens(completion_tokens());
    ex.abandon(499);  // nobody reads the answer; 499 ("client closed request") marks it in the log
  };
  // One event of any unfinished choice (false when none came within `wait`).
  size_t turn = 0;
  const auto next_event = [&](GenEvent& ev, size_t& which, milliseconds wait) {
    const milliseconds each = choices.size() == 1 ? wait : milliseconds(5);
    for (size_t k = 0; k < choices.size(); ++k) {
      const size_t i = (turn + k) % choices.size();
      if (choices[i].done || !run.jobs[i]->next(ev, each)) continue;
      turn = i + 1;
      which = i;
      return true;
    }
    return false;
  };
  const auto all_done = [&] {
    return std::all_of(choices.begin(), choices.end(), [](const ChoiceState& c) { return c.done; });
  };
  GenEvent ev;
  size_t which = 0;
  if (!cr.stream) {
    // A client that hangs up frees its slots: look at its connection every 100 ms.
    auto next_check = Clock::now();
    while (!all_done()) {
      const bool got = next_event(ev, which, milliseconds(100));
      if (Clock::now() >= next_check) {
        if (ex.client_gone()) return gone();
        next_check = Clock::now() + milliseconds(100);
      }
      if (!got) continue;
      ChoiceState& c = choices[which];
      c.out.text += ev.text;
      std::move(ev.logprobs.begin(), ev.logprobs.end(), std::back_inserter(c.out.logprobs));
      if (!ev.done) continue;
      c.done = true;
      c.error = ev.error;
      c.out.finish_reason = ev.finish_reason;
      if (!c.error.empty()) break;
    }
    ex.set_log_tokens(completion_tokens());
    std::vector<ChoiceOut> outs;
    for (auto& c : choices) {
      if (!c.error.empty()) throw ApiError(500, "server_error", c.error);
      find_tool_calls(cr, c.out);
      outs.push_back(std::move(c.out));
    }
    json r = full_response(meta, outs, usage());
    r["timings"] = timings();
    ex.send(json_response(200, r));
    return;
  }
  // stream_options.include_usage (OpenAI): every chunk carries "usage": null and an extra
  // last chunk with "choices": [] has the usage. Without it the last finish chunk carries it.
  const auto send = [&](json j) {
    if (cr.include_usage && !j.contains("usage")) j["usage"] = nullptr;
    return ex.write("data: " + dump(j) + "\n\n");
  };
  // An SSE comment: what a client that only half-closed gets to prove it still reads.
  if (!ex.begin_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}}, ":\n\n")) return gone();
  if (meta.chat)
    for (auto& c : choices)
      if (!send(stream_chunk(meta, "", true, "", c.out.index))) return gone();
  const bool with_lp = cr.gen.logprobs >= 0;
  if (cr.tools_active())
    for (auto& c : choices) c.calls = std::make_unique<ToolCallStream>(cr.tool_format, cr.tools);
  // One chunk per event of a choice's call parser; held logprobs ride on the first.
  const auto send_tool_events = [&](ChoiceState& c, const std::vector<ToolCallEvent>& events) {
    for (const ToolCallEvent& e : events) {
      const std::vector<TokenLogprob>* lp = with_lp && !c.pending.empty() ? &c.pending : nullptr;
      json chunk;
      if (e.kind == ToolCallEvent::Content) {
        chunk = stream_chunk(meta, e.text, false, "", c.out.index, lp);
      } else if (e.kind == ToolCallEvent::CallStart) {
        c.out.calls.push_back({e.text, ""});
        c.out.call_ids.push_back(new_id("call_"));
        chunk = stream_call_start_chunk(meta, c.out.index, e.call, c.out.call_ids.back(), e.text, lp);
      } else if (e.kind == ToolCallEvent::Arguments) {
        c.out.calls.at(e.call).arguments += e.text;
        chunk = stream_call_arguments_chunk(meta, c.out.index, e.call, e.text, lp);
      } else {
        continue;
      }
      if (!send(std::move(chunk))) return false;
      c.pending.clear();
    }
    return true;
  };
  std::string error;
  while (!all_done() && error.empty()) {
    if (!next_event(ev, which, milliseconds(200))) {
      if (ex.client_gone()) return gone();
      continue;
    }
    ChoiceState& c = choices[which];
    if (cr.tools_active()) {
      // Content and calls go out as the parser decides them (text that may start a call waits).
      std::move(ev.logprobs.begin(), ev.logprobs.end(), std::back_inserter(c.pending));
      if (!send_tool_events(c, c.calls->feed(ev.text))) return gone();
    } else if (!ev.text.empty() || !ev.logprobs.empty()) {
      if (!send(stream_chunk(meta, ev.text, false, "", c.out.index, with_lp ? &ev.logprobs : nullptr))) return gone();
    }
    if (!ev.done) continue;
    c.done = true;
    if (!ev.error.empty()) {
      error = ev.error;
      break;
    }
    c.out.finish_reason = ev.finish_reason;
    if (cr.tools_active()) {
      if (!send_tool_events(c, c.calls->finish())) return gone();
      if (with_lp && !c.pending.empty() && !send(stream_chunk(meta, "", false, "", c.out.index, &c.pending)))
        return gone();
      if (!c.out.calls.empty() && c.out.finish_reason == "stop") c.out.finish_reason = "tool_calls";
    }
    json last = stream_chunk(meta, "", false, c.out.finish_reason, c.out.index);
    if (!cr.include_usage && all_done()) {
      last["usage"] = usage();
      last["timings"] = timings();
    }
    if (!send(std::move(last))) return gone();
  }
  ex.set_log_tokens(completion_tokens());
  bool ok = true;
  if (!error.empty()) {
    ok = ex.write("data: " + dump(error_body(500, "server_error", error)) + "\n\n");
  } else if (cr.include_usage) {
    json u = stream_usage_chunk(meta, usage());
    u["timings"] = timings();
    ok = send(std::move(u));
  }
  if (!ok || !ex.write("data: [DONE]\n\n") || !ex.end_stream()) gone();
}

}  // namespace pocketllm::server
