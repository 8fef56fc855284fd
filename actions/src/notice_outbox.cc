// NoticeOutbox on the store layer (SQLite or PostgreSQL), and the notice's JSON form.
#include "reflex/actions/notice_outbox.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "json_util.h"
#include "migrate.h"
#include "reflex/actions/notifier.h"
#include "sql.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;
using json = nlohmann::ordered_json;

constexpr const char* kStore = "notice outbox";
// The component of schema_migrations whose versions are this store's.
constexpr std::string_view kComponent = "notice_outbox";

// Version 1 is the schema the outbox had before versioning, written with IF NOT EXISTS so that
// it applies over a SQLite file of that time and keeps its notices.
constexpr std::string_view kSqliteV1 = R"sql(
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

constexpr std::string_view kPostgresV1 = R"sql(
CREATE TABLE notice_outbox (
  id BIGSERIAL PRIMARY KEY,
  target TEXT NOT NULL,
  notice TEXT NOT NULL,
  state TEXT NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX notice_outbox_pending ON notice_outbox (state, target, id);
)sql";

// Version 2: who holds a pending notice, and until when (NULL: nobody).
constexpr std::string_view kSqliteV2 = R"sql(
ALTER TABLE notice_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE notice_outbox ADD COLUMN lease_until INTEGER;
)sql";

constexpr std::string_view kPostgresV2 = R"sql(
ALTER TABLE notice_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE notice_outbox ADD COLUMN lease_until BIGINT;
)sql";

// Append only: a released migration is never changed (migrate.h).
constexpr sql::Migration kMigrations[] = {
    {1, "notice_outbox table and its index on (state, target, id)", kSqliteV1, kPostgresV1},
    {2, "claims: claimed_by and lease_until", kSqliteV2, kPostgresV2},
};

std::string HostName() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "reflex";
  return std::string(buf.data());
}

std::vector<OutboxEntry> Entries(const sql::Rows& r) {
  std::vector<OutboxEntry> out;
  out.reserve(static_cast<size_t>(r.size()));
  for (int i = 0; i < r.size(); ++i) out.push_back({r.Int(i, 0), r.Text(i, 1), r.Text(i, 2)});
  return out;
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

NoticeOutbox::NoticeOutbox(std::unique_ptr<sql::Database> db, std::string owner, int64_t lease_ms)
    : db_(std::move(db)), owner_(std::move(owner)), lease_ms_(lease_ms) {}

NoticeOutbox::~NoticeOutbox() = default;

int NoticeOutbox::SynchronousLevel() const {
  base::MutexLock lock(mu_);
  if (db_->dialect() != sql::Dialect::kSqlite) return -1;
  auto r = db_->Exec("PRAGMA synchronous");
  if (!r.ok() || r->empty()) return -1;
  return static_cast<int>(r->Int(0, 0));
}

Result<std::unique_ptr<NoticeOutbox>> NoticeOutbox::Open(const std::string& path,
                                                         int busy_timeout_ms,
                                                         base::Durability durability) {
  return Open(base::StoreConfig{}, path,
              {.busy_timeout_ms = busy_timeout_ms, .durability = durability});
}

Result<std::unique_ptr<NoticeOutbox>> NoticeOutbox::Open(const base::StoreConfig& store,
                                                         const std::string& sqlite_path,
                                                         NoticeOutboxOptions options) {
  if (options.lease_ms <= 0) return engine::InvalidArgument("notice outbox: lease must be > 0");
  auto db = sql::Open(store, sql::SqliteFor(sqlite_path, kStore, options));
  if (!db.ok()) return db.status();
  if (auto v = sql::Migrate(**db, kComponent, kMigrations); !v.ok()) return v.status();
  std::string owner = options.owner.empty() ? HostName() : options.owner;
  return std::unique_ptr<NoticeOutbox>(
      new NoticeOutbox(std::move(*db), std::move(owner), options.lease_ms));
}

Result<int64_t> NoticeOutbox::Add(std::string_view target, const Notice& notice, int64_t now_ms) {
  const std::string text = NoticeToJson(notice);
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "INSERT INTO notice_outbox (target, notice, state, created_at, updated_at, claimed_by, "
      "lease_until) VALUES ($1, $2, 'pending', $3, $3, $4, $5) RETURNING id",
      target, text, now_ms, owner_, now_ms + lease_ms_);
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<std::vector<OutboxEntry>> NoticeOutbox::Claim(std::string_view target, int64_t limit,
                                                     int64_t now_ms, bool include_own) {
  // One statement picks and claims: on PostgreSQL its rows are locked as picked and rows
  // another claimer holds locked are skipped; on SQLite the write lock is taken at BEGIN.
  std::string q =
      "UPDATE notice_outbox SET claimed_by = $1, lease_until = $2 WHERE id IN (SELECT id FROM "
      "notice_outbox WHERE state = 'pending' AND target = $3 AND (claimed_by IS NULL OR ";
  q += include_own ? "lease_until <= $4 OR claimed_by = $1)"
                   : "(lease_until <= $4 AND claimed_by <> $1))";
  q += " ORDER BY id LIMIT $5";
  base::MutexLock lock(mu_);
  if (db_->dialect() == sql::Dialect::kPostgresql) q += " FOR UPDATE SKIP LOCKED";
  q += ") RETURNING id, target, notice";
  sql::Transaction tx(*db_);
  if (Status b = tx.Begin(); !b.ok()) return b;
  auto r = db_->Exec(q, owner_, now_ms + lease_ms_, target, now_ms, limit);
  if (!r.ok()) return r.status();
  if (Status c = tx.Commit(); !c.ok()) return c;
  std::vector<OutboxEntry> out = Entries(*r);
  std::sort(out.begin(), out.end(),
            [](const OutboxEntry& a, const OutboxEntry& b) { return a.id < b.id; });
  return out;
}

Result<bool> NoticeOutbox::Renew(int64_t id, int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE notice_outbox SET lease_until = $3 WHERE id = $1 AND claimed_by = $2 AND "
      "state = 'pending'",
      id, owner_, now_ms + lease_ms_);
  if (!r.ok()) return r.status();
  return r->affected() > 0;
}

Status NoticeOutbox::Release(int64_t id) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE notice_outbox SET claimed_by = NULL, lease_until = NULL WHERE id = $1 AND "
      "claimed_by = $2 AND state = 'pending'",
      id, owner_);
  return r.ok() ? Status::Ok() : r.status();
}

Status NoticeOutbox::MarkDelivered(int64_t id, int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE notice_outbox SET state = 'delivered', updated_at = $2 WHERE id = $1 AND "
      "claimed_by = $3",
      id, now_ms, owner_);
  if (!r.ok()) return r.status();
  if (r->affected() == 0) {
    return engine::FailedPrecondition("notice outbox: notice " + std::to_string(id) +
                                      " is not claimed by " + owner_ +
                                      " (another replica took it over)");
  }
  return Status::Ok();
}

Status NoticeOutbox::MarkFailed(int64_t id, std::string_view error, int64_t now_ms) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "UPDATE notice_outbox SET state = 'failed', last_error = $2, updated_at = $3 WHERE id = $1 "
      "AND claimed_by = $4",
      id, error, now_ms, owner_);
  if (!r.ok()) return r.status();
  if (r->affected() == 0) {
    return engine::FailedPrecondition("notice outbox: notice " + std::to_string(id) +
                                      " is not claimed by " + owner_ +
                                      " (another replica took it over)");
  }
  return Status::Ok();
}

Result<std::vector<OutboxEntry>> NoticeOutbox::Pending(std::string_view target, int64_t limit) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "SELECT id, target, notice FROM notice_outbox WHERE state = 'pending' AND target = $1 "
      "ORDER BY id LIMIT $2",
      target, limit);
  if (!r.ok()) return r.status();
  return Entries(*r);
}

Result<int64_t> NoticeOutbox::Count(std::string_view state) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec("SELECT COUNT(*) FROM notice_outbox WHERE state = $1", state);
  if (!r.ok()) return r.status();
  return r->Int(0, 0);
}

Result<PruneResult> NoticeOutbox::Prune(int64_t max_age_ms, int64_t max_rows, int64_t now_ms) {
  PruneResult r;
  base::MutexLock lock(mu_);
  sql::Transaction tx(*db_);
  if (Status b = tx.Begin(); !b.ok()) return b;
  if (max_age_ms > 0) {
    auto d = db_->Exec("DELETE FROM notice_outbox WHERE state <> 'pending' AND updated_at < $1",
                       now_ms - max_age_ms);
    if (!d.ok()) return d.status();
    r.deleted += d->affected();
  }
  if (max_rows > 0) {
    const char* greatest = db_->dialect() == sql::Dialect::kPostgresql ? "GREATEST" : "max";
    auto d = db_->Exec(
        std::string("DELETE FROM notice_outbox WHERE id IN (SELECT id FROM notice_outbox WHERE "
                    "state <> 'pending' ORDER BY id LIMIT ") +
            greatest + "(0, (SELECT COUNT(*) FROM notice_outbox) - $1))",
        max_rows);
    if (!d.ok()) return d.status();
    r.deleted += d->affected();
  }
  auto n = db_->Exec("SELECT COUNT(*) FROM notice_outbox");
  if (!n.ok()) return n.status();
  r.kept = n->Int(0, 0);
  if (Status c = tx.Commit(); !c.ok()) return c;
  return r;
}

}  // namespace reflex::actions

namespace reflex::actions::schema {
int NoticeOutboxVersion() { return static_cast<int>(std::size(kMigrations)); }
}  // namespace reflex::actions::schema
