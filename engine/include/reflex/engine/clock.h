// Clock: the only way engine code reads the time, so tests and replays are deterministic.
//
// Thread-safety: SystemClock is stateless; ManualClock is safe for concurrent reads and
// writes (atomic).
//
//   ManualClock clock(1700000000000);
//   pipeline.Process(line, clock.NowMillis());
//   clock.Advance(1000);
#pragma once

#include <atomic>
#include <cstdint>

namespace reflex::engine {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (UTC).
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 0) : now_ms_(now_ms) {}
  int64_t NowMillis() const override { return now_ms_.load(std::memory_order_relaxed); }
  void Set(int64_t ms) { now_ms_.store(ms, std::memory_order_relaxed); }
  void Advance(int64_t ms) { now_ms_.fetch_add(ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace reflex::engine
