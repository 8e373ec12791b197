// Reads user input: libedit line editing and history on a terminal, plain lines
// from a pipe. `"""` opens and closes a multi-line message (as in Ollama).
#pragma once
#include <optional>
#include <string>

namespace pocketllm::cli {

class LineReader {
 public:
  LineReader();
  bool interactive() const { return tty_; }
  // One logical message (multi-line blocks joined with '\n'); nullopt at end of input.
  std::optional<std::string> read_message();

 private:
  std::optional<std::string> read_line(const char* prompt);
  bool tty_;
};

}  // namespace pocketllm::cli
