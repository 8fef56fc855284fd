// NoticeOutbox on SQLite, and the notice's JSON form.
#include "reflex/actions/notice_outbox.h"

#include <sqlite3.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "json_util.h"
#include "reflex/actions/notifier.h"
#include "sqlite_util.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;
using json = nlohmann::ordered_json;
using sqlite::Stmt;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS notice_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  notice TEXT NOT NULL,
  state TEXT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS notice_outbox_pending ON notice_outbox (state, target, id);
)sql";

Status SqlError(sqlite3* db, std::string_view what) {
  return sqlite::SqlError(db, "notice outbox", what);
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The event as JSON text: its original bytes when kept, else its fields.
std::string EventText(const engine::Event& ev) {
  return ev.raw.empty() ? Dump(EventFieldsJson(ev)) : ev.raw;
}

}  // namespace

std::string NoticeToJson(const Notice& n) {
  json j;
  j["kind"] = NoticeKindName(n.kind);
  j["at"] = n.at_ms;
  if (n.event) {
    j["event"] = EventText(*n.event);
    j["event_time"] = n.event->time_ms;
  }
  j["escalation_id"] = n.escalation_id;
  j["fingerprint"] = n.fingerprint;
  j["count"] = n.count;
  j["reopened"] = n.reopened;
  j["action"] = n.action;
  j["table"] = n.table;
  j["row"] = n.row;
  j["reason"] = n.reason;
  j["runbook"] = n.runbook;
  json d = json::array();
  for (const auto& [k, v] : n.details) d.push_back({k, v});
  j["details"] = std::move(d);
  return Dump(j);
}

Result<Notice> NoticeFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string()) {
    return engine::InvalidArgument("notice outbox: not a notice");
  }
  auto kind = ParseNoticeKind(j["kind"].get<std::string>());
  if (!kind.ok()) return kind.status();
  Notice n;
  n.kind = *kind;
  auto str = [&j](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  auto num = [&j](const char* k) {
    return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : int64_t{0};
  };
  n.at_ms = num("at");
  if (j.contains("event") && j["event"].is_string()) {
    engine::EventParser parser;
    engine::Event ev;
    if (parser.Parse(j["event"].get<std::string>(), num("event_time"), &ev).ok()) {
      n.event = std::move(ev);
    }
  }
  n.escalation_id = num("escalation_id");
  n.fingerprint = str("fingerprint");
  n.count = num("count");
  n.reopened = j.contains("reopened") && j["reopened"].is_boolean() && j["reopened"].get<bool>();
  n.action = str("action");
  n.table = str("table");
  n.row = str("row");
  n.reason = str("reason");
  n.runbook = str("runbook");
  if (j.contains("details") && j["details"].is_array()) {
    for (const auto& e : j["details"]) {
      if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
        n.details.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      }
    }
  }
  return n;
}

int NoticeOutbox::SynchronousLevel() const { return sqlite::SynchronousLevel(db_); }

Result<std::unique_ptr<NoticeOutbox>> NoticeOutbox::Open(const std::string& path,
                                                         int busy_timeout_ms,
                                                         base::Durability durability) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return engine::Unavailable("notice outbox: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<NoticeOutbox> o(new NoticeOutbox(db));
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // WAL switch and table creation may meet another opener's lock: retry up to the timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (true) {
    std::string m;
    bool ok = sqlite::ExecSql(db, "PRAGMA journal_mode=WAL", &m) &&
              sqlite::ExecSql(db, base::SqliteSynchronousPragma(durability), &m) &&
              sqlite::ExecSql(db, kSchema, &m);
    if (ok) break;
    int code = sqlite3_errcode(db) & 0xff;
    if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
        std::chrono::steady_clock::now() >= deadline) {
      return engine::Unavailable("notice outbox: " + path + ": " + m);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return o;
}

NoticeOutbox::~NoticeOutbox() { sqlite3_close(db_); }

Result<int64_t> NoticeOutbox::Add(std::string_view target, const Notice& notice, int64_t now_ms) {
  const std::string text = NoticeToJson(notice);
  base::MutexLock lock(mu_);
  Stmt st(db_,
          "INSERT INTO notice_outbox (target, notice, state, created_at, updated_at) "
          "VALUES (?1, ?2, 'pending', ?3, ?3)");
  st.Bind(1, target).Bind(2, text).Bind(3, now_ms);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "add");
  return static_cast<int64_t>(sqlite3_last_insert_rowid(db_));
}

Status NoticeOutbox::MarkDelivered(int64_t id, int64_t now_ms) {
  base::MutexLock lock(mu_);
  Stmt st(db_, "UPDATE notice_outbox SET state='delivered', updated_at=?2 WHERE id=?1");
  st.Bind(1, id).Bind(2, now_ms);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "mark delivered");
  return Status::Ok();
}

Status NoticeOutbox::MarkFailed(int64_t id, std::string_view error, int64_t now_ms) {
  base::MutexLock lock(mu_);
  Stmt st(db_, "UPDATE notice_outbox SET state='failed', last_error=?2, updated_at=?3 WHERE id=?1");
  st.Bind(1, id).Bind(2, error).Bind(3, now_ms);
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "mark failed");
  return Status::Ok();
}

Result<std::vector<OutboxEntry>> NoticeOutbox::Pending(std::string_view target, int64_t limit) {
  base::MutexLock lock(mu_);
  Stmt st(db_,
          "SELECT id, target, notice FROM notice_outbox WHERE state='pending' AND target=?1 "
          "ORDER BY id LIMIT ?2");
  st.Bind(1, target).Bind(2, limit);
  std::vector<OutboxEntry> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out.push_back({st.Int(0), st.Text(1), st.Text(2)});
  if (rc != SQLITE_DONE) return SqlError(db_, "pending");
  return out;
}

Result<int64_t> NoticeOutbox::Count(std::string_view state) {
  base::MutexLock lock(mu_);
  Stmt st(db_, "SELECT count(*) FROM notice_outbox WHERE state=?1");
  st.Bind(1, state);
  if (st.Step() != SQLITE_ROW) return SqlError(db_, "count");
  return st.Int(0);
}

Result<PruneResult> NoticeOutbox::Prune(int64_t max_age_ms, int64_t max_rows, int64_t now_ms) {
  PruneResult r;
  base::MutexLock lock(mu_);
  if (max_age_ms > 0) {
    Stmt st(db_, "DELETE FROM notice_outbox WHERE state != 'pending' AND updated_at < ?1");
    st.Bind(1, now_ms - max_age_ms);
    if (st.Step() != SQLITE_DONE) return SqlError(db_, "prune");
    r.deleted += sqlite3_changes(db_);
  }
  if (max_rows > 0) {
    Stmt st(db_,
            "DELETE FROM notice_outbox WHERE id IN (SELECT id FROM notice_outbox WHERE state != "
            "'pending' ORDER BY id LIMIT max(0, (SELECT count(*) FROM notice_outbox) - ?1))");
    st.Bind(1, max_rows);
    if (st.Step() != SQLITE_DONE) return SqlError(db_, "prune");
    r.deleted += sqlite3_changes(db_);
  }
  Stmt n(db_, "SELECT count(*) FROM notice_outbox");
  if (n.Step() != SQLITE_ROW) return SqlError(db_, "prune count");
  r.kept = n.Int(0);
  return r;
}

}  // namespace reflex::actions
