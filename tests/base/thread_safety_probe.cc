// Compiled (not run) by two ctest cases with clang's -Wthread-safety -Werror: with
// REFLEX_PROBE_LOCKED the guarded member is touched under its lock and the file compiles;
// without it the access is unlocked and the compiler must refuse it. This is what makes the
// GUARDED_BY annotations in the tree a check rather than a comment.
#include "reflex/base/thread_annotations.h"

namespace {

class Counter {
 public:
  void Add() {
#ifdef REFLEX_PROBE_LOCKED
    reflex::base::MutexLock l(mu_);
#endif
    ++n_;
  }

 private:
  reflex::base::Mutex mu_;
  int n_ GUARDED_BY(mu_) = 0;
};

}  // namespace

int main() {
  Counter c;
  c.Add();
  return 0;
}
