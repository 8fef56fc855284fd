// RetryPolicy: how many times, and how far apart, Reflex tries again something that failed
// for a reason that may pass (an action's request, a notice's delivery).
//
// Attempt n (1-based; the first try is attempt 1) that failed waits
// base * 2^(n-1), capped at `max_ms`, before attempt n+1; with `jitter` the wait is drawn
// uniformly from [0, that] ("full jitter"), so many clients that failed together do not come
// back together. Which failures are worth another attempt is decided in one place too:
// IsRetryableHttpStatus for HTTP answers; transport errors (kUnavailable) always are.
//
// Thread-safety: the policy is a value; DelayMs uses the caller's random engine, which the
// caller guards.
//
//   RetryPolicy p{.max_attempts = 3, .base_ms = 1000, .max_ms = 60000, .jitter = true};
//   if (attempt < p.max_attempts && IsRetryableHttpStatus(status))
//     wait(p.DelayMs(attempt, rng));
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>

namespace reflex::base {

struct RetryPolicy {
  int max_attempts = 3;    // total tries, first included. Default: 3. REQUIRES: >= 1.
  int64_t base_ms = 1000;  // the wait after the first failure. Default: 1 s.
  int64_t max_ms = 60000;  // the longest wait. Default: 60 s.
  bool jitter = true;      // full jitter. Default: on.

  // The wait after failed attempt `attempt` (1-based) without jitter.
  int64_t CeilingMs(int attempt) const {
    int64_t d = base_ms;
    for (int i = 1; i < attempt && d < max_ms; ++i) d *= 2;
    return std::min(d, max_ms);
  }
  // The wait after failed attempt `attempt`, jittered when `jitter` is on.
  template <typename Rng>
  int64_t DelayMs(int attempt, Rng& rng) const {
    const int64_t d = CeilingMs(attempt);
    if (!jitter || d <= 0) return d;
    return std::uniform_int_distribution<int64_t>(0, d)(rng);
  }
};

// True for answers that may differ on a later try: 408 (timeout), 429 (too many requests)
// and every 5xx. Everything else (2xx success aside) is final.
inline bool IsRetryableHttpStatus(long status) {
  return status == 408 || status == 429 || (status >= 500 && status < 600);
}

}  // namespace reflex::base
