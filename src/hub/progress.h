// Download progress on stderr: a bar redrawn in place (bytes, rate, ETA) on a
// terminal, a plain line every few seconds in logs, and one summary line at the end.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace pocketllm::hub {

class Progress {
 public:
  // total = 0 when unknown; `start` bytes were already on disk (a resumed download).
  Progress(std::string label, uint64_t total, uint64_t start);
  void advance(uint64_t n);
  void restart();  // the server sent the file from its start again
  void finish();   // the summary line
  void abandon();  // ends the bar's line without a summary (an error follows)

 private:
  void draw(bool force);

  std::string label_;
  uint64_t total_, done_, start_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point t0_, last_;
};

std::string human_bytes(double n);  // "1.5 MiB"

}  // namespace pocketllm::hub
