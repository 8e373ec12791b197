// pocketllm serve: an OpenAI-compatible HTTP server with continuous batching
// over -np slots (each with a -c token context).
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/command.h"
#include "cli/common_options.h"
#include "cli/speculation_options.h"
#include "core/error.h"
#include "server/http_api.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct ServeOptions {
  ModelOptions model;
  SamplingParams sampling;
  SpeculationOptions spec;
  server::ServerOptions http;
  std::string alias, template_file, template_name;
  int parallel = 1;
  size_t max_queue = 64;
  int http_threads = 0;  // 0: parallel + max_queue + 8
  bool no_log = false;
};

server::HttpApi* g_api = nullptr;

void on_stop_signal(int) {
  if (g_api) g_api->stop();
}

int run(ServeOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server
  o.http.log_requests = !o.no_log;
  o.http.model_id = !o.alias.empty() ? o.alias : std::filesystem::path(o.model.model).filename().string();
  // Every generation holds a worker until it ends (and at most parallel + queue-size of
  // them are admitted), so this many workers leave some for /health and the rest.
  const size_t auto_threads = static_cast<size_t>(o.parallel) + o.max_queue + 8;
  o.http.http_threads = o.http_threads > 0 ? o.http_threads
                                           : static_cast<int>(std::min(auto_threads, o.http.max_connections));
  server::HttpApi api(o.http);
  const int port = api.bind();
  g_api = &api;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::fprintf(stderr, "listening on http://%s:%d\n", o.http.host.c_str(), port);
  std::fflush(stderr);
  std::thread http([&] { api.listen(); });

  int rc = 0;
  std::unique_ptr<Model> model;
  std::unique_ptr<ChatFormatter> fmt;
  std::unique_ptr<server::Scheduler> sched;
  try {
    model = load_model_or_fail(o.model, true);
    const ChatTemplateChoice tmpl = resolve_chat_template(*model, o.template_file, o.template_name);
    if (!tmpl.notice.empty()) std::fprintf(stderr, "note: %s\n", tmpl.notice.c_str());
    fmt = std::make_unique<ChatFormatter>(*model->tokenizer, tmpl.text);
    server::SchedulerOptions so;
    so.n_slots = o.parallel;
    so.ctx = context_params(o.model, *model);
    so.max_queue = o.max_queue;
    so.lookup = o.spec.lookup;
    if (!o.spec.draft_model.empty()) so.draft = load_draft_model(o.spec, o.model, *model);
    so.spec = {o.spec.draft_max, o.spec.draft_min};
    sched = std::make_unique<server::Scheduler>(*model, so);
    api.attach({model.get(), fmt.get(), sched.get(), o.sampling});
    std::fprintf(stderr, "model %s loaded: %d slots of %lld tokens\n", o.http.model_id.c_str(), o.parallel,
                 static_cast<long long>(sched->n_ctx()));
    std::fflush(stderr);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    api.stop();
    rc = 1;
  }
  http.join();
  g_api = nullptr;
  return rc;
}

RegisterCommand register_serve({"serve", "Serve the model over an OpenAI-compatible HTTP API", 40, [](CLI::App& sub) {
                       auto o = std::make_shared<ServeOptions>();
                       add_model_options(sub, o->model);
                       add_sampling_options(sub, o->sampling);
                       add_speculation_options(sub, o->spec);
                       sub.add_option("--host", o->http.host, "Address to bind")->capture_default_str();
                       sub.add_option("--port", o->http.port, "Port (0: any free port, printed on stderr)")
                           ->check(CLI::Range(0, 65535))
                           ->capture_default_str();
                       sub.add_option("--api-key", o->http.api_key, "Require 'Authorization: Bearer KEY'")
                           ->envname("POCKETLLM_API_KEY");
                       sub.add_option("--parallel", o->parallel, "Conversations decoded together (also -np)")
                           ->check(CLI::Range(1, 256))
                           ->capture_default_str();
                       sub.add_option("--alias", o->alias, "Model name shown by /v1/models");
                       sub.add_option("--queue-size", o->max_queue, "Requests waiting for a slot before 503")
                           ->check(CLI::Range(size_t{0}, size_t{1} << 20))
                           ->capture_default_str();
                       sub.add_option("--max-body", o->http.max_body_bytes,
                                      "Largest request body in bytes, however it is framed (else 413)")
                           ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
                           ->capture_default_str();
                       sub.add_option("--max-connections", o->http.max_connections,
                                      "Open connections at once; more are answered 503 and closed")
                           ->check(CLI::Range(size_t{4}, size_t{65536}))
                           ->capture_default_str();
                       sub.add_option("--request-timeout", o->http.request_timeout_s,
                                      "Seconds to receive a whole request (headers and body) from its first byte (else 408)")
                           ->check(CLI::Range(0.1, 3600.0))
                           ->capture_default_str();
                       sub.add_option("--http-threads", o->http_threads,
                                      "Requests handled at once (threads started on demand; default: parallel + "
                                      "queue-size + 8). Idle and slow connections take no thread")
                           ->check(CLI::Range(1, 4096));
                       sub.add_flag("--no-log", o->no_log, "Do not log one line per request on stderr");
                       sub.add_option("--chat-template-file", o->template_file, "Jinja chat template file");
                       sub.add_option("--chat-template", o->template_name, chat_template_help());
                       return std::function<int()>([o] {
                         resolve_model_source(o->model);
                         if (o->alias.empty()) o->alias = o->model.hf_repo;  // the name the client asked for
                         return run(*o);
                       });
                     }});

}  // namespace
}  // namespace pocketllm::cli
