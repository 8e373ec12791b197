#include "cli/line_reader.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace pocketllm::cli {

LineReader::LineReader() : tty_(isatty(0) && isatty(1)) {}

std::optional<std::string> LineReader::read_line(const char* prompt) {
  if (!tty_) {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  char* p = readline(prompt);
  if (!p) {  // Ctrl-D: end the prompt's line so the shell's prompt starts on its own
    std::fputs("\n", stdout);
    std::fflush(stdout);
    return std::nullopt;
  }
  std::string line(p);
  std::free(p);
  if (!line.empty()) add_history(line.c_str());
  return line;
}

std::optional<std::string> LineReader::read_message() {
  auto first = read_line(">>> ");
  if (!first) return std::nullopt;
  if (first->rfind("\"\"\"", 0) != 0) return first;
  std::string body = first->substr(3);
  // """text""" on one line
  if (body.size() >= 3 && body.compare(body.size() - 3, 3, "\"\"\"") == 0) return body.substr(0, body.size() - 3);
  std::string msg = body;
  bool first_line = true;
  for (;;) {
    auto line = read_line("... ");
    if (!line) return msg;  // input ended inside the block: take what we have
    const bool closes = line->size() >= 3 && line->compare(line->size() - 3, 3, "\"\"\"") == 0;
    std::string part = closes ? line->substr(0, line->size() - 3) : *line;
    if (!(first_line && msg.empty())) msg += "\n";
    msg += part;
    first_line = false;
    if (closes) {
      // A closing line with nothing before the quotes adds no trailing newline.
      if (part.empty() && !msg.empty() && msg.back() == '\n') msg.pop_back();
      return msg;
    }
  }
}

}  // namespace pocketllm::cli
