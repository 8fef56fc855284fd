// RetentionTask: one thread, woken by Stop or the interval, running store prunes in turn.
#include "reflex/actions/retention.h"

#include <chrono>
#include <utility>

namespace reflex::actions {

RetentionTask::RetentionTask(Journal* journal, EscalationStore* escalations, NoticeOutbox* outbox,
                             RetentionOptions options, const engine::Clock& clock,
                             std::function<void(const RetentionPass&)> on_pass)
    : journal_(journal),
      escalations_(escalations),
      outbox_(outbox),
      options_(std::move(options)),
      clock_(clock),
      on_pass_(std::move(on_pass)),
      keep_recent_ms_(options_.runs.keep_recent_ms) {}

RetentionTask::~RetentionTask() { Stop(); }

void RetentionTask::Start() {
  {
    base::MutexLock lock(mu_);
    if (thread_.joinable() || stop_) return;
  }
  thread_ = std::thread([this] {
    const auto interval =
        std::chrono::milliseconds(options_.interval_ms > 0 ? options_.interval_ms : 5 * 60 * 1000);
    while (true) {
      {
        base::MutexLock lock(mu_);
        if (stop_) return;
      }
      (void)RunOnce();
      base::MutexLock lock(mu_);
      const auto until = std::chrono::steady_clock::now() + interval;
      while (!stop_ && lock.WaitUntil(cv_, until) != std::cv_status::timeout) {
      }
      if (stop_) return;
    }
  });
}

void RetentionTask::Stop() {
  {
    base::MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

RetentionPass RetentionTask::RunOnce() {
  base::MutexLock pass_lock(pass_mu_);
  RetentionPass pass;
  const int64_t now = clock_.NowMillis();
  pass.skipped = options_.duty != nullptr && !options_.duty->Held();
  if (pass.skipped) {
    // Another replica prunes the shared store.
  } else if (journal_ != nullptr) {
    JournalRetention runs = options_.runs;
    {
      base::MutexLock lock(mu_);
      runs.keep_recent_ms = keep_recent_ms_;
    }
    auto r = journal_->Prune(runs, now);
    if (r.ok()) {
      pass.runs = *r;
    } else if (pass.status.ok()) {
      pass.status = r.status();
    }
  }
  if (!pass.skipped && escalations_ != nullptr) {
    auto r = escalations_->Prune(options_.escalations, now);
    if (r.ok()) {
      pass.escalations = *r;
    } else if (pass.status.ok()) {
      pass.status = r.status();
    }
  }
  if (!pass.skipped && outbox_ != nullptr) {
    auto r = outbox_->Prune(options_.notices_max_age_ms, options_.max_notices, now);
    if (r.ok()) {
      pass.notices = *r;
    } else if (pass.status.ok()) {
      pass.status = r.status();
    }
  }
  {
    base::MutexLock lock(mu_);
    ++passes_;
  }
  if (on_pass_) on_pass_(pass);
  return pass;
}

int64_t RetentionTask::passes() const {
  base::MutexLock lock(mu_);
  return passes_;
}

void RetentionTask::SetKeepRecentMs(int64_t keep_recent_ms) {
  base::MutexLock lock(mu_);
  keep_recent_ms_ = keep_recent_ms;
}

}  // namespace reflex::actions
