// Routes by exact path and method. A known path asked with another method is a
// 405 with the methods it allows (RFC 9110 15.5.6), not a 404; HEAD runs GET's
// handler (Exchange leaves the body out).
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/exchange.h"

namespace pocketllm::server::http {

class Router {
 public:
  using Handler = std::function<void(Exchange&)>;

  void add(std::string method, std::string path, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: no route
    std::string allow;                 // without a handler: the path's methods ("" when the path is unknown)
  };
  Match find(std::string_view method, std::string_view path) const;

 private:
  struct Route {
    std::string method, path;
    Handler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace pocketllm::server::http
