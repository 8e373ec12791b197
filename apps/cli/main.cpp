// pocketllm: one binary, one subcommand per job (see apps/cli/cmd_*.cpp).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "cli/command.h"
#include "core/error.h"

namespace pocketllm::cli {
std::vector<Command>& command_registry() {
  static std::vector<Command> r;
  return r;
}
}  // namespace pocketllm::cli

namespace {
// llama.cpp spells some long options with one dash (-sys, -np, -ngl, -hf): CLI11 only
// knows single-letter short options (it would read -hf as -h -f), so map them to
// their long forms, also in the -hf=VALUE spelling. Nothing after "--" is touched.
std::vector<std::string> normalize_args(int argc, char** argv) {
  static const std::pair<std::string_view, const char*> aliases[] = {
      {"-sys", "--system-prompt"}, {"-np", "--parallel"}, {"-ctk", "--kv-type"},
      {"-hf", "--hf-repo"},        {"-hfr", "--hf-repo"}, {"-hff", "--hf-file"}};
  std::vector<std::string> out;
  bool options_done = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    options_done = options_done || a == "--";
    for (auto& [from, to] : aliases)
      if (!options_done && (a == from || (a.starts_with(from) && a.size() > from.size() && a[from.size()] == '=')))
        a = to + a.substr(from.size());
    out.push_back(a);
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace pocketllm::cli;
  CLI::App app{"pocketllm: run, chat with, quantize and serve small LLMs on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "pocketllm 0.1.0");
  auto& reg = command_registry();
  std::sort(reg.begin(), reg.end(), [](const Command& a, const Command& b) { return a.order < b.order; });
  std::function<int()> to_run;
  for (auto& c : reg) {
    CLI::App* sub = app.add_subcommand(c.name, c.description);
    auto fn = c.setup(*sub);
    sub->callback([fn, &to_run] { to_run = fn; });
  }
  auto args = normalize_args(argc, argv);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return to_run ? to_run() : 0;
  } catch (const pocketllm::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
