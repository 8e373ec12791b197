// Errors the HTTP API returns, shaped as OpenAI's
// {"error":{"code":STATUS,"message":...,"type":...}}.
#pragma once
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace pocketllm::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string type, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }

 private:
  int status_;
  std::string type_;
};

[[noreturn]] inline void bad_request(const std::string& message) {
  throw ApiError(400, "invalid_request_error", message);
}

inline nlohmann::json error_body(int status, const std::string& type, const std::string& message) {
  return {{"error", {{"code", status}, {"message", message}, {"type", type}}}};
}

}  // namespace pocketllm::server
