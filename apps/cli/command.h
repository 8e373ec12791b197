// Each CLI command lives in its own cmd_<name>.cpp and registers itself here,
// so adding a command never touches main.cpp.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace pocketllm::cli {

struct Command {
  std::string name;
  std::string description;
  int order;  // position in `pocketllm --help`
  // Adds the subcommand's options to sub and returns the function that runs it
  // (after parsing) and yields the exit code.
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

std::vector<Command>& command_registry();

struct RegisterCommand {
  explicit RegisterCommand(Command c) { command_registry().push_back(std::move(c)); }
};

}  // namespace pocketllm::cli
