// pocketllm serve: an OpenAI-compatible HTTP server with continuous batching
// over -np slots (each with a -c token context).
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <chrono>
#include <thread>

#include "cli/command.h"
#include "cli/common_options.h"
#include "core/error.h"
#include "server/http_api.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace pocketllm::cli {
namespace {

struct ServeOptions {
  ModelOptions model;
  SamplingParams sampling;
  server::ServerOptions http;
  std::string alias, template_file, template_name;
  int parallel = 1;
  size_t max_queue = 64;
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
    const std::string tmpl = resolve_chat_template(*model, o.template_file, o.template_name);
    if (tmpl.empty())
      std::fprintf(stderr, "warning: %s has no chat template; chat messages are joined as plain text\n",
                   o.model.model.c_str());
    fmt = std::make_unique<ChatFormatter>(*model->tokenizer, tmpl);
    server::SchedulerOptions so;
    so.n_slots = o.parallel;
    so.ctx = context_params(o.model, *model);
    so.max_queue = o.max_queue;
    sched = std::make_unique<server::Scheduler>(*model, so);
    api.attach({model.get(), fmt.get(), sched.get(), o.sampling});
    std::fprintf(stderr, "model %s loaded: %d slots of %lld tokens\n", o.http.model_id.c_str(), o.parallel,
                 static_cast<long long>(sched->n_ctx()));
    std::fflush(stderr);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    while (!api.running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // stop() needs a running server
    api.stop();
    rc = 1;
  }
  http.join();
  g_api = nullptr;
  return rc;
}

RegisterCommand reg({"serve", "Serve the model over an OpenAI-compatible HTTP API", 40, [](CLI::App& sub) {
                       auto o = std::make_shared<ServeOptions>();
                       add_model_options(sub, o->model);
                       add_sampling_options(sub, o->sampling);
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
                       sub.add_option("--max-body", o->http.max_body_bytes, "Largest request body in bytes")
                           ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
                           ->capture_default_str();
                       sub.add_option("--http-threads", o->http.http_threads, "Connections served at once")
                           ->check(CLI::Range(4, 1024))
                           ->capture_default_str();
                       sub.add_flag("--no-log", o->no_log, "Do not log one line per request on stderr");
                       sub.add_option("--chat-template-file", o->template_file, "Jinja chat template file");
                       sub.add_option("--chat-template", o->template_name,
                                      chat_template_help());
                       return std::function<int()>([o] { return run(*o); });
                     }});

}  // namespace
}  // namespace pocketllm::cli
