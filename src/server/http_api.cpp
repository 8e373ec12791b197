#include "server/http_api.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

#include "core/error.h"
#include "server/api_error.h"
#include "server/client_connection.h"
#include "server/openai_json.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Per-request figures for the log line: a request is served by one thread from
// routing to logging (the stream's content provider runs on it too).
thread_local Clock::time_point t_start;
thread_local bool t_started = false;
thread_local int64_t t_tokens = 0;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void set_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(dump(j), "application/json");
}

void set_error(httplib::Response& res, int status, const std::string& type, const std::string& message) {
  set_json(res, status, error_body(status, type, message));
}

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  return fmt::format("{}{:x}{:06x}", prefix, salt & 0xffffff, counter.fetch_add(1));
}

bool authorized(const httplib::Request& req, const std::string& key) {
  if (req.get_header_value("Authorization") == "Bearer " + key) return true;
  return req.get_header_value("x-api-key") == key;
}

}  // namespace

HttpApi::HttpApi(ServerOptions o) : opt_(std::move(o)), svr_(std::make_unique<httplib::Server>()) {
  const int n = std::max(4, opt_.http_threads);
  svr_->new_task_queue = [n] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  svr_->set_payload_max_length(opt_.max_body_bytes);
  svr_->set_keep_alive_timeout(5);
  // httplib's default sets SO_REUSEPORT, which lets a second server bind a port that
  // is in use (the two then share its connections): SO_REUSEADDR only, and remember
  // the socket to widen its listen backlog after binding.
  svr_->set_socket_options([this](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd_ = sock;
  });
  install_routes();
}

HttpApi::~HttpApi() = default;

int HttpApi::bind() {
  int port = opt_.port;
  if (port == 0) {
    port = svr_->bind_to_any_port(opt_.host);
    if (port <= 0) fail("cannot bind to {} (any port)", opt_.host);
  } else if (!svr_->bind_to_port(opt_.host, port)) {
    fail("cannot bind to {}:{} (in use, or not an address of this machine)", opt_.host, port);
  }
  // httplib listens with a backlog of 5. A burst of clients overflows that queue; the
  // kernel then drops handshakes and some clients lose their request and get no answer
  // (issue 7). The kernel caps the backlog at net.core.somaxconn.
  if (listen_fd_ < 0 || ::listen(listen_fd_, SOMAXCONN) != 0) fail("cannot listen on {}:{}", opt_.host, port);
  return port;
}

void HttpApi::listen() { svr_->listen_after_bind(); }
void HttpApi::stop() { svr_->stop(); }
bool HttpApi::running() const { return svr_->is_running(); }

void HttpApi::attach(Backend b) {
  backend_ = b;
  ready_.store(true);
}

void HttpApi::install_routes() {
  httplib::Server& s = *svr_;

  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_start = Clock::now();
    t_started = true;
    t_tokens = 0;
    if (!opt_.api_key.empty() && req.path != "/health" && !authorized(req, opt_.api_key)) {
      set_error(res, 401, "authentication_error", "invalid or missing API key (send 'Authorization: Bearer KEY')");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Errors httplib produces itself (no route, body too large, bad HTTP) get OpenAI's shape too.
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    const int st = res.status;
    if (st == 404) set_error(res, 404, "not_found_error", fmt::format("no route for {} {}", req.method, req.path));
    else if (st == 413) set_error(res, 413, "invalid_request_error", "the request body is too large");
    else if (st < 500) set_error(res, st, "invalid_request_error", "malformed HTTP request");
    else set_error(res, st, "server_error", "internal server error");
  });

  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (!opt_.log_requests) return;
    const double ms = t_started ? std::chrono::duration<double, std::milli>(Clock::now() - t_start).count() : 0.0;
    std::fprintf(stderr, "%s %s %d tokens=%lld ms=%.1f\n", req.method.c_str(), req.path.c_str(), res.status,
                 static_cast<long long>(t_tokens), ms);
    t_started = false;
  });

  // Runs a handler with the API's error mapping; before the model is loaded it answers 503.
  using Fn = std::function<void(const httplib::Request&, httplib::Response&)>;
  auto guard = [this](Fn fn) {
    return [this, fn](const httplib::Request& req, httplib::Response& res) {
      try {
        if (!ready_.load()) throw ApiError(503, "unavailable_error", "the model is loading");
        fn(req, res);
      } catch (const ApiError& e) {
        set_error(res, e.status(), e.type(), e.what());
      } catch (const std::exception& e) {
        set_error(res, 500, "server_error", e.what());
      }
    };
  };

  s.Get("/health", guard([this](const httplib::Request&, httplib::Response& res) {
    json st = backend_.scheduler->state();
    set_json(res, 200, {{"status", "ok"}, {"slots_idle", st["slots_idle"]}, {"slots_busy", st["slots_busy"]},
                        {"queued", st["queued"]}});
  }));
  s.Get("/slots", guard([this](const httplib::Request&, httplib::Response& res) {
    set_json(res, 200, backend_.scheduler->state());
  }));

  auto models = guard([this](const httplib::Request&, httplib::Response& res) {
    json m = {{"id", opt_.model_id}, {"object", "model"}, {"created", 0}, {"owned_by", "pocketllm"},
              {"meta", {{"n_ctx_slot", backend_.scheduler->n_ctx()}, {"n_vocab", backend_.model->cfg.n_vocab}}}};
    set_json(res, 200, {{"object", "list"}, {"data", json::array({m})}});
  });
  s.Get("/v1/models", models);
  s.Get("/models", models);

  auto generation = [this, guard](bool chat) {
    return guard([this, chat](const httplib::Request& req, httplib::Response& res) {
      const json body = parse_body(req.body);
      CompletionRequest cr = chat ? parse_chat_request(body, *backend_.fmt, backend_.defaults)
                                  : parse_completion_request(body, *backend_.model->tokenizer, backend_.defaults);
      ResponseMeta meta{new_id(chat ? "chatcmpl-" : "cmpl-"), opt_.model_id,
                        static_cast<int64_t>(std::time(nullptr)), chat};
      std::shared_ptr<GenJob> job = backend_.scheduler->submit(std::move(cr.gen));
      if (!cr.stream) {
        // A client that hangs up frees its slot: look at its connection every 100 ms.
        const ClientConnection conn(req.local_addr, req.local_port, req.remote_addr, req.remote_port);
        auto next_check = Clock::now();
        std::string text;
        GenEvent ev;
        for (;;) {
          const bool got = job->next(ev, std::chrono::milliseconds(100));
          if (Clock::now() >= next_check) {
            if (conn.closed()) {
              job->cancel();  // the scheduler frees the slot at its next step
              t_tokens = job->completion_tokens();
              // Nobody reads this answer; 499 ("client closed request") marks it in the log.
              set_error(res, 499, "invalid_request_error", "the client closed the connection");
              return;
            }
            next_check = Clock::now() + std::chrono::milliseconds(100);
          }
          if (!got) continue;
          if (ev.done) break;
          text += ev.text;
        }
        t_tokens = job->completion_tokens();
        if (!ev.error.empty()) throw ApiError(500, "server_error", ev.error);
        set_json(res, 200, full_response(meta, text, ev.finish_reason,
                                         usage_json(job->prompt_tokens(), job->completion_tokens(), job->cached_tokens())));
        return;
      }
      res.set_header("Cache-Control", "no-cache");
      res.set_chunked_content_provider(
          "text/event-stream",
          [job, meta](size_t, httplib::DataSink& sink) {
            auto send = [&](const json& j) {
              const std::string line = "data: " + dump(j) + "\n\n";
              return sink.write(line.data(), line.size());
            };
            auto gone = [&] {
              job->cancel();  // the scheduler frees the slot at its next step
              t_tokens = job->completion_tokens();
              return false;
            };
            if (meta.chat && !send(stream_chunk(meta, "", true, "", json()))) return gone();
            GenEvent ev;
            for (;;) {
              if (!job->next(ev, std::chrono::milliseconds(200))) {
                if (!sink.is_writable()) return gone();
                continue;
              }
              if (ev.done) break;
              if (!send(stream_chunk(meta, ev.text, false, "", json()))) return gone();
            }
            t_tokens = job->completion_tokens();
            const bool ok = ev.error.empty()
                                ? send(stream_chunk(meta, "", false, ev.finish_reason,
                                                    usage_json(job->prompt_tokens(), job->completion_tokens(), job->cached_tokens())))
                                : send(error_body(500, "server_error", ev.error));
            static const std::string done = "data: [DONE]\n\n";
            if (!ok || !sink.write(done.data(), done.size())) return false;
            sink.done();
            return true;
          },
          [job](bool) { job->cancel(); });
    });
  };
  s.Post("/v1/chat/completions", generation(true));
  s.Post("/chat/completions", generation(true));
  s.Post("/v1/completions", generation(false));
  s.Post("/completions", generation(false));

  s.Post("/tokenize", guard([this](const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req.body);
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
    set_json(res, 200, {{"tokens", ids}});
  }));
  s.Post("/detokenize", guard([this](const httplib::Request& req, httplib::Response& res) {
    const json body = parse_body(req.body);
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
    set_json(res, 200, {{"content", tok.decode(ids)}});
  }));
}

}  // namespace pocketllm::server
