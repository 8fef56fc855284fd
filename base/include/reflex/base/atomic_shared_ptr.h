// AtomicSharedPtr<T>: a shared_ptr that one thread replaces while others take copies of it,
// e.g. the published rule set: readers Load() a snapshot and keep it for as long as they use
// it; a writer Store()s a new one; the old object dies with its last reader.
//
// Why not std::atomic<std::shared_ptr<T>>: libstdc++ 12 (Debian 12's GCC) implements it with
// a lock bit whose load() lets go of the lock with a relaxed store, so a reader's read of the
// stored pointer is not ordered before a later writer's replacement of it: a data race by the
// C++ memory model (ThreadSanitizer reports it), and a reader could in principle pair one
// version's pointer with another's reference count. This holds a mutex for the copy instead:
// an uncontended lock and a reference-count increment per Load, no slower than the lock bit.
//
// Thread-safety: Load and Store may be called from any thread at once. The object replaced by
// Store is released after the lock is let go, so a destructor never runs under it.
//
//   AtomicSharedPtr<const Config> current(std::make_shared<const Config>());
//   std::shared_ptr<const Config> c = current.Load();   // a snapshot, valid while held
//   current.Store(std::make_shared<const Config>(next));
#pragma once

#include <memory>
#include <utility>

#include "reflex/base/thread_annotations.h"

namespace reflex::base {

template <typename T>
class AtomicSharedPtr {
 public:
  AtomicSharedPtr() = default;
  explicit AtomicSharedPtr(std::shared_ptr<T> value) : value_(std::move(value)) {}
  AtomicSharedPtr(const AtomicSharedPtr&) = delete;
  AtomicSharedPtr& operator=(const AtomicSharedPtr&) = delete;

  std::shared_ptr<T> Load() const {
    MutexLock l(mu_);
    return value_;
  }

  void Store(std::shared_ptr<T> value) {
    {
      MutexLock l(mu_);
      value_.swap(value);
    }
    // `value` now holds the previous object; it is released here, outside the lock.
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<T> value_ GUARDED_BY(mu_);
};

}  // namespace reflex::base
