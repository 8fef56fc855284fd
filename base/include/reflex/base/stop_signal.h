// StopSignal: a one-way "stop now" flag that threads can wait on instead of sleeping.
//
// A worker that must pause between steps (polling a job API every few seconds) waits on the
// signal with WaitFor; Stop() wakes every waiter at once, so a shutdown never waits out a
// sleep. Once stopped, the signal stays stopped.
//
// Thread-safety: every method may be called from any thread at once. The owner must keep the
// signal alive while any thread may wait on it.
//
//   base::StopSignal stop;
//   while (!done) { Poll(); if (stop.WaitFor(std::chrono::seconds(5))) return; }
//   // elsewhere: stop.Stop();
#pragma once

#include <chrono>
#include <condition_variable>

#include "reflex/base/thread_annotations.h"

namespace reflex::base {

class StopSignal {
 public:
  StopSignal() = default;
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  // Sets the flag and wakes every waiter. Idempotent.
  void Stop() {
    {
      MutexLock lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  bool stopped() const {
    MutexLock lock(mu_);
    return stopped_;
  }

  // Waits (real time) until Stop() or until `d` has passed. True when stopped.
  template <typename Rep, typename Period>
  bool WaitFor(const std::chrono::duration<Rep, Period>& d) const {
    const auto deadline = std::chrono::steady_clock::now() + d;
    MutexLock lock(mu_);
    while (!stopped_) {
      if (lock.WaitUntil(cv_, deadline) == std::cv_status::timeout) break;
    }
    return stopped_;
  }

 private:
  mutable Mutex mu_;
  mutable std::condition_variable cv_;
  bool stopped_ GUARDED_BY(mu_) = false;
};

}  // namespace reflex::base
