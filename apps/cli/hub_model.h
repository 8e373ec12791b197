// Models named on the Hugging Face Hub: -hf OWNER/REPO[:QUANT] (llama.cpp's
// spelling; CLI11 cannot declare a two-letter single-dash option, so main.cpp
// rewrites -hf/-hfr/-hff to --hf-repo/--hf-file before parsing) on every command
// that loads a model, and the pull itself with a progress bar and Ctrl-C.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "hub/pull.h"

namespace pocketllm::cli {

// Adds --hf-repo (also -hf, -hfr) and --hf-file (also -hff), an alternative to
// the command's -m / MODEL (when both are given, -hf wins).
void add_hf_options(CLI::App& app, std::string& repo, std::vector<std::string>& files);

// With repo set: pulls it (or finds it in the cache) and sets model to the local
// path. Without: checks that model is set. Exits 130 on Ctrl-C during a download.
void resolve_hf_model(std::string& model, const std::string& repo, const std::vector<std::string>& files);

// Runs a pull with Ctrl-C handled (the partial file is kept, exit status 130).
hub::PullResult pull_with_interrupt(const hub::PullRequest& req, const hub::HubConfig& cfg);

}  // namespace pocketllm::cli
