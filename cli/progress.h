// A one-line progress bar for long CLI work, drawn on a terminal's stderr.
//
// Not thread-safe; one per loop. Update() is cheap: it redraws at most every 100 ms.
//
//   ProgressBar bar(std::cerr, total_bytes, /*enabled=*/isatty(2));
//   bar.Update(bytes_done, events_done);
//   bar.Finish();
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>

namespace reflex::cli {

class ProgressBar {
 public:
  ProgressBar(std::ostream& out, uint64_t total, bool enabled);
  void Update(uint64_t done, uint64_t events);
  void Finish();
  // The bar text for a fraction done, e.g. "[#####     ]  50%" (exposed for tests).
  static std::string Render(uint64_t done, uint64_t total, uint64_t events, double seconds,
                            int width = 30);

 private:
  std::ostream& out_;
  uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace reflex::cli
