// Errors are exceptions carrying one user-facing message; the CLI prints it and exits 1.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace pocketllm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace pocketllm
