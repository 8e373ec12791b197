#include "server/http/router.h"

namespace pocketllm::server::http {

void Router::add(std::string method, std::string path, Handler handler) {
  routes_.push_back({std::move(method), std::move(path), std::move(handler)});
}

Router::Match Router::find(std::string_view method, std::string_view path) const {
  Match m;
  const std::string_view as = method == "HEAD" ? "GET" : method;
  for (const Route& r : routes_) {
    if (r.path != path) continue;
    if (r.method == as) return {&r.handler, ""};
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += r.method;
    if (r.method == "GET") m.allow += ", HEAD";
  }
  return m;
}

}  // namespace pocketllm::server::http
