// Lock annotations the compiler checks (clang's -Wthread-safety), and a mutex that carries
// them. libstdc++'s std::mutex has no annotations, so members guarded by a std::mutex cannot
// be checked; guard them with base::Mutex instead and mark them GUARDED_BY(mu_).
//
// Under GCC the macros expand to nothing; the clang build in CI turns violations into
// errors. Thread-safety: Mutex is a mutex; MutexLock is a scoped lock owned by one thread.
//
//   class Counter {
//    public:
//     void Add() { MutexLock l(mu_); ++n_; }
//    private:
//     Mutex mu_;
//     int n_ GUARDED_BY(mu_) = 0;
//   };
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define REFLEX_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define REFLEX_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) REFLEX_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY REFLEX_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) REFLEX_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) REFLEX_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) REFLEX_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) REFLEX_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) REFLEX_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) REFLEX_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RETURN_CAPABILITY(x) REFLEX_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS REFLEX_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace reflex::base {

// A std::mutex the analysis knows about.
class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // For std::condition_variable: wait through MutexLock::Wait instead where possible.
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope. Wait* release it while blocked and hold it again on return,
// as std::condition_variable does; the analysis treats the lock as held throughout, which
// is what the caller's code after the wait may assume.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.native()) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Wait(std::condition_variable& cv) { cv.wait(lock_); }
  template <typename Clock, typename Duration>
  std::cv_status WaitUntil(std::condition_variable& cv,
                           const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv.wait_until(lock_, deadline);
  }
  template <typename Rep, typename Period>
  std::cv_status WaitFor(std::condition_variable& cv, const std::chrono::duration<Rep, Period>& d) {
    return cv.wait_for(lock_, d);
  }
  // Lets go for a stretch that must not hold the lock (a call out, a slow I/O) and takes it
  // back; the analysis checks that the stretch touches no guarded member.
  void Unlock() RELEASE() { lock_.unlock(); }
  void Lock() ACQUIRE() { lock_.lock(); }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace reflex::base
