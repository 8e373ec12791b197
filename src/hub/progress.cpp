#include "hub/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace pocketllm::hub {

namespace {
constexpr std::chrono::milliseconds kTtyInterval{200}, kLogInterval{5000};

std::string duration(double s) {
  const long t = static_cast<long>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{}:{:02}", t / 60, t % 60);
}
}  // namespace

std::string human_bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (n >= 1024 && u < 4) {
    n /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", n) : fmt::format("{:.1f} {}", n, units[u]);
}

Progress::Progress(std::string label, uint64_t total, uint64_t start)
    : label_(std::move(label)), total_(total), done_(start), start_(start), tty_(isatty(STDERR_FILENO) == 1),
      t0_(std::chrono::steady_clock::now()), last_(t0_) {
  if (start > 0)
    std::fprintf(stderr, "%s: resuming at %s\n", label_.c_str(), human_bytes(static_cast<double>(start)).c_str());
  draw(true);
}

void Progress::advance(uint64_t n) {
  done_ += n;
  draw(false);
}

void Progress::restart() {
  done_ = start_ = 0;
  t0_ = std::chrono::steady_clock::now();
}

void Progress::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < (tty_ ? kTtyInterval : kLogInterval)) return;
  if (!tty_ && force) return;  // logs get a line per interval, not one at the start
  last_ = now;
  const double secs = std::chrono::duration<double>(now - t0_).count();
  const double rate = secs > 0 ? static_cast<double>(done_ - start_) / secs : 0;
  std::string amount = human_bytes(static_cast<double>(done_));
  std::string pct, eta;
  if (total_ > 0) {
    const double f = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    amount += " / " + human_bytes(static_cast<double>(total_));
    pct = fmt::format("{:3.0f}%", 100 * f);
    if (rate > 0) eta = " ETA " + duration(static_cast<double>(total_ - std::min(done_, total_)) / rate);
    if (tty_) {
      const int width = 24, full = static_cast<int>(f * width);
      pct += " [" + std::string(full, '#') + std::string(width - full, ' ') + "]";
    }
  }
  const std::string rate_s = human_bytes(rate) + "/s";
  if (tty_) {
    std::fprintf(stderr, "\r%s %s %s %s%s\x1b[K", label_.c_str(), pct.c_str(), amount.c_str(), rate_s.c_str(), eta.c_str());
    drawn_ = true;
  } else {
    std::fprintf(stderr, "%s: %s%s%s, %s%s\n", label_.c_str(), amount.c_str(), pct.empty() ? "" : " ", pct.c_str(),
                 rate_s.c_str(), eta.c_str());
  }
  std::fflush(stderr);
}

void Progress::abandon() {
  if (drawn_) std::fputc('\n', stderr);
  drawn_ = false;
}

void Progress::finish() {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double got = static_cast<double>(done_ - start_);
  std::fprintf(stderr, "%s%s: %s in %.1f s (%s/s)\n", drawn_ ? "\r\x1b[K" : "", label_.c_str(),
               human_bytes(got).c_str(), secs, human_bytes(secs > 0 ? got / secs : got).c_str());
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace pocketllm::hub
