// ThreadSanitizer builds only (REFLEX_TSAN): C11 <threads.h> functions routed through the
// pthread functions that ThreadSanitizer intercepts.
//
// Debian's librdkafka starts its threads with thrd_create and locks with mtx_* / cnd_*.
// glibc implements those by calling its internal pthread functions directly, past the
// interceptors of the ThreadSanitizer runtime (GCC 12 and clang 14 intercept no C11 thread
// function). A thread started that way has no ThreadSanitizer state: its first malloc
// crashes the process (SEGV in the sanitizer allocator), and locks taken in it are invisible.
// Linked into every executable of the tsan preset, these definitions take precedence over
// glibc's for librdkafka (the executable is searched first), so its threads are registered
// and its mutexes and condition variables order memory as they do at run time. librdkafka's
// own memory accesses stay uninstrumented; tests/tsan.supp covers what that leaves.
//
// The mutex and condition-variable calls are made with ThreadSanitizer's memory-access
// checks off (synchronisation still recorded), as for any call from an uninstrumented
// library: librdkafka publishes the objects holding its mutexes through its own lock-free
// queues, which ThreadSanitizer cannot see, so the first lock of a mutex another thread
// initialised would otherwise be reported as a race on the mutex itself.
//
// The types match glibc's: thrd_t is pthread_t, mtx_t and cnd_t have the size and alignment
// of pthread_mutex_t and pthread_cond_t (glibc casts them the same way).
//
// Thread-safety: the same as the pthread functions they call.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <threads.h>

extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();

namespace {

// Memory-access checks off for the scope; synchronisation is still recorded.
class IgnoreAccesses {
 public:
  IgnoreAccesses() { __tsan_ignore_thread_begin(); }
  ~IgnoreAccesses() { __tsan_ignore_thread_end(); }
  IgnoreAccesses(const IgnoreAccesses&) = delete;
  IgnoreAccesses& operator=(const IgnoreAccesses&) = delete;
};

int ToThrd(int pthread_error) {
  switch (pthread_error) {
    case 0:
      return thrd_success;
    case ETIMEDOUT:
      return thrd_timedout;
    case EBUSY:
      return thrd_busy;
    case ENOMEM:
      return thrd_nomem;
    default:
      return thrd_error;
  }
}

struct Start {
  thrd_start_t func;
  void* arg;
};

void* RunThread(void* p) {
  Start s = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(s.func(s.arg)));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* s = new Start{func, arg};
  const int rc = pthread_create(thr, nullptr, &RunThread, s);
  if (rc != 0) delete s;
  return ToThrd(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* ret = nullptr;
  const int rc = pthread_join(thr, &ret);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(ret));
  return ToThrd(rc);
}

int thrd_detach(thrd_t thr) { return ToThrd(pthread_detach(thr)); }

int mtx_init(mtx_t* m, int type) {
  IgnoreAccesses ignore;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if ((type & mtx_recursive) != 0) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(reinterpret_cast<pthread_mutex_t*>(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return ToThrd(rc);
}

int mtx_lock(mtx_t* m) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_mutex_lock(reinterpret_cast<pthread_mutex_t*>(m)));
}

int mtx_trylock(mtx_t* m) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_mutex_trylock(reinterpret_cast<pthread_mutex_t*>(m)));
}

int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict ts) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_mutex_timedlock(reinterpret_cast<pthread_mutex_t*>(m), ts));
}

int mtx_unlock(mtx_t* m) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_mutex_unlock(reinterpret_cast<pthread_mutex_t*>(m)));
}

void mtx_destroy(mtx_t* m) {
  IgnoreAccesses ignore;
  pthread_mutex_destroy(reinterpret_cast<pthread_mutex_t*>(m));
}

int cnd_init(cnd_t* c) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_cond_init(reinterpret_cast<pthread_cond_t*>(c), nullptr));
}

int cnd_signal(cnd_t* c) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_cond_signal(reinterpret_cast<pthread_cond_t*>(c)));
}

int cnd_broadcast(cnd_t* c) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_cond_broadcast(reinterpret_cast<pthread_cond_t*>(c)));
}

int cnd_wait(cnd_t* c, mtx_t* m) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_cond_wait(reinterpret_cast<pthread_cond_t*>(c),
                                  reinterpret_cast<pthread_mutex_t*>(m)));
}

int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict ts) {
  IgnoreAccesses ignore;
  return ToThrd(pthread_cond_timedwait(reinterpret_cast<pthread_cond_t*>(c),
                                       reinterpret_cast<pthread_mutex_t*>(m), ts));
}

void cnd_destroy(cnd_t* c) {
  IgnoreAccesses ignore;
  pthread_cond_destroy(reinterpret_cast<pthread_cond_t*>(c));
}

void call_once(once_flag* flag, void (*func)(void)) {
  pthread_once(reinterpret_cast<pthread_once_t*>(flag), func);
}

}  // extern "C"
