// Shared helpers for the harnesses: the readers take paths, so each input is
// written to a scratch file (in a per-process folder under /dev/shm when present).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace fuzzutil {

inline const std::filesystem::path& scratch_dir() {
  // Never destroyed, so the exit handler below can still read it.
  static const std::filesystem::path* dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    auto* d = new std::filesystem::path(base / ("pocketllm-fuzz-" + std::to_string(getpid())));
    std::filesystem::create_directories(*d);
    // libFuzzer ends a timed run with exit(): leave no scratch folder behind.
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return *dir;
}

inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  auto p = scratch_dir() / name;
  std::ofstream(p, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                             static_cast<std::streamsize>(size));
  return p.string();
}

inline std::string shared_data(const std::string& rel) {
  const char* env = std::getenv("POCKETLLM_SHARED");
  return (env ? std::string(env) + "/data" : std::string(POCKETLLM_SHARED_DATA)) + "/" + rel;
}

// Runs `f`; pocketllm::Error (a clean rejection) is the expected outcome for bad input.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const pocketllm::Error&) {
  }
}

}  // namespace fuzzutil
