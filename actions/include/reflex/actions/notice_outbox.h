// NoticeOutbox: the durable queue of notices, so a notice that was due when the process died
// is sent after the restart instead of being lost.
//
// The Notifier (notifier.h, NotifierOptions.outbox) adds each notice for each target here
// before queueing it in memory, marks it delivered (2xx) or failed (retries exhausted, or a
// final HTTP status) when its worker is done, and on creation queues again every notice
// still pending for its targets (by target name: the URL and secrets come from the current
// configuration, never from the file). Delivery is at least once: a crash between the
// target's answer and MarkDelivered sends it again, so webhook requests carry
// `Idempotency-Key: reflex-notice-<id>` and PagerDuty events their dedup_key.
//
// Storage: table `notice_outbox` in a SQLite file (WAL, busy_timeout), usually the state
// database shared with the journal and the escalation store, on its own connection. The
// notice is kept as JSON (its event as the original bytes when the pipeline kept them, else
// as its fields with an RFC 3339 timestamp, read back with the same time).
//
// Thread-safety: every method may be called from any thread (one connection, one mutex).
//
//   auto outbox = NoticeOutbox::Open(".reflex/reflex.db");
//   auto notifier = Notifier::Create(targets, {.outbox = outbox->get()});
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/actions/journal.h"
#include "reflex/base/durability.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/status.h"

struct sqlite3;

namespace reflex::actions {

struct Notice;

// Notice <-> JSON text (the outbox's format). NoticeFromJson: kInvalidArgument for text that
// is not a notice.
std::string NoticeToJson(const Notice& notice);
engine::Result<Notice> NoticeFromJson(std::string_view text);

struct OutboxEntry {
  int64_t id = 0;
  std::string target;
  std::string notice_json;
};

class NoticeOutbox {
 public:
  // Opens (creating the file and table when needed). kUnavailable when it cannot be opened.
  // `durability` chooses synchronous=NORMAL (kNormal) or FULL (kFsync).
  static engine::Result<std::unique_ptr<NoticeOutbox>> Open(
      const std::string& path, int busy_timeout_ms = 5000,
      base::Durability durability = base::Durability::kNormal);
  // PRAGMA synchronous of this connection (1 = NORMAL, 2 = FULL), or -1 when unreadable.
  int SynchronousLevel() const;
  ~NoticeOutbox();
  NoticeOutbox(const NoticeOutbox&) = delete;
  NoticeOutbox& operator=(const NoticeOutbox&) = delete;

  // Stores a pending notice for `target`; returns its id.
  engine::Result<int64_t> Add(std::string_view target, const Notice& notice, int64_t now_ms);
  engine::Status MarkDelivered(int64_t id, int64_t now_ms);
  engine::Status MarkFailed(int64_t id, std::string_view error, int64_t now_ms);
  // Pending notices of `target`, oldest first, up to `limit`.
  engine::Result<std::vector<OutboxEntry>> Pending(std::string_view target, int64_t limit);
  // Rows per state ("pending", "delivered", "failed").
  engine::Result<int64_t> Count(std::string_view state);
  // Deletes delivered and failed notices older than max_age_ms (0: no age limit), then the
  // oldest of them beyond max_rows (0: no cap). Pending notices are never deleted.
  engine::Result<PruneResult> Prune(int64_t max_age_ms, int64_t max_rows, int64_t now_ms);

 private:
  explicit NoticeOutbox(sqlite3* db) : db_(db) {}
  base::Mutex mu_;
  sqlite3* db_;
};

}  // namespace reflex::actions
