#include "progress.h"

#include <cstdio>
#include <string>

namespace reflex::cli {

ProgressBar::ProgressBar(std::ostream& out, uint64_t total, bool enabled)
    : out_(out),
      total_(total),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

std::string ProgressBar::Render(uint64_t done, uint64_t total, uint64_t events, double seconds,
                                int width) {
  const double frac =
      total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  const int fill = static_cast<int>(frac * width);
  std::string s = "[" + std::string(static_cast<size_t>(fill), '#') +
                  std::string(static_cast<size_t>(width - fill), ' ') + "]";
  char buf[96];
  const double rate = seconds > 0 ? static_cast<double>(events) / seconds : 0;
  std::snprintf(buf, sizeof(buf), " %3d%%  %llu events  %.0f events/s",
                static_cast<int>(frac * 100), static_cast<unsigned long long>(events), rate);
  return s + buf;
}

void ProgressBar::Update(uint64_t done, uint64_t events) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  const double secs = std::chrono::duration<double>(now - start_).count();
  out_ << "\r" << Render(done, total_, events, secs) << std::flush;
}

void ProgressBar::Finish() {
  if (enabled_ && drawn_) out_ << "\r\033[K" << std::flush;
}

}  // namespace reflex::cli
