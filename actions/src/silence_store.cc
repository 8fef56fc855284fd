#include "reflex/actions/silence_store.h"

#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "sqlite_util.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Silence;
using engine::Status;
using sqlite::Stmt;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS silences (
  id TEXT PRIMARY KEY,
  matchers TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  comment TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS silences_ends_at ON silences (ends_at);
CREATE TABLE IF NOT EXISTS silence_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO silence_meta (key, value) VALUES ('version', 0);
)sql";

Status SqlError(sqlite3* db, std::string_view what) {
  return sqlite::SqlError(db, "silence store", what);
}

std::string MatchersJson(const std::vector<engine::LabelMatcher>& ms) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& m : ms) {
    a.push_back(
        {{"name", m.name}, {"value", m.value}, {"isRegex", m.is_regex}, {"isEqual", m.is_equal}});
  }
  return a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<engine::LabelMatcher> MatchersFromJson(const std::string& text) {
  std::vector<engine::LabelMatcher> out;
  auto a = nlohmann::json::parse(text, nullptr, false);
  if (!a.is_array()) return out;
  for (const auto& m : a) {
    if (!m.is_object()) continue;
    out.push_back({m.value("name", ""), m.value("value", ""), m.value("isRegex", false),
                   m.value("isEqual", true)});
  }
  return out;
}

// A random (version 4) UUID, as Alertmanager's silence ids.
std::string NewId() {
  static thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xffff),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

constexpr const char* kColumns =
    "id, matchers, starts_at, ends_at, updated_at, created_by, comment";

Silence Row(const Stmt& q) {
  Silence s;
  s.id = q.Text(0);
  s.matchers = MatchersFromJson(q.Text(1));
  s.starts_at_ms = q.Int(2);
  s.ends_at_ms = q.Int(3);
  s.updated_at_ms = q.Int(4);
  s.created_by = q.Text(5);
  s.comment = q.Text(6);
  return s;
}

}  // namespace

SilenceStore::SilenceStore(sqlite3* db, SilenceStoreOptions options) : db_(db), options_(options) {}

SilenceStore::~SilenceStore() { sqlite3_close(db_); }

int64_t SilenceStore::Now() const {
  return options_.clock != nullptr ? options_.clock->NowMillis() : system_clock_.NowMillis();
}

Result<std::unique_ptr<SilenceStore>> SilenceStore::Open(const std::string& path,
                                                         SilenceStoreOptions options) {
  auto db = sqlite::OpenDatabase(path, "silence store", options.create_if_missing,
                                 options.busy_timeout_ms, options.durability, kSchema);
  if (!db.ok()) return db.status();
  std::unique_ptr<SilenceStore> store(new SilenceStore(*db, options));
  return store;
}

Status SilenceStore::BumpLocked() {
  Stmt st(db_, "UPDATE silence_meta SET value = value + 1 WHERE key = 'version'");
  if (st.Step() != SQLITE_DONE) return SqlError(db_, "version");
  return Status::Ok();
}

Status SilenceStore::ExpireLocked(const std::string& id, int64_t now) {
  Stmt get(db_, "SELECT starts_at, ends_at FROM silences WHERE id = ?1");
  get.Bind(1, id);
  const int rc = get.Step();
  if (rc == SQLITE_DONE) return engine::NotFound("no silence with id " + id);
  if (rc != SQLITE_ROW) return SqlError(db_, "get");
  const int64_t starts = get.Int(0), ends = get.Int(1);
  if (ends <= now) return engine::FailedPrecondition("silence " + id + " already expired");
  Stmt up(db_, "UPDATE silences SET starts_at = ?2, ends_at = ?3, updated_at = ?3 WHERE id = ?1");
  up.Bind(1, id).Bind(2, starts > now ? now : starts).Bind(3, now);
  if (up.Step() != SQLITE_DONE) return SqlError(db_, "expire");
  return BumpLocked();
}

Result<std::string> SilenceStore::Add(Silence s) {
  const int64_t now = Now();
  if (Status v = engine::ValidateNewSilence(s, now); !v.ok()) return v;
  base::MutexLock lock(mu_);
  sqlite::Transaction tx(db_, "silence store");
  if (Status b = tx.Begin(); !b.ok()) return b;
  if (!s.id.empty()) {
    if (Status e = ExpireLocked(s.id, now);
        !e.ok() && e.code() != engine::StatusCode::kFailedPrecondition) {
      return e;
    }
  }
  s.id = NewId();
  s.updated_at_ms = now;
  Stmt ins(db_,
           "INSERT INTO silences (id, matchers, starts_at, ends_at, updated_at, created_by, "
           "comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  ins.Bind(1, s.id)
      .Bind(2, MatchersJson(s.matchers))
      .Bind(3, s.starts_at_ms)
      .Bind(4, s.ends_at_ms)
      .Bind(5, now)
      .Bind(6, s.created_by)
      .Bind(7, s.comment);
  if (ins.Step() != SQLITE_DONE) return SqlError(db_, "add");
  if (Status b = BumpLocked(); !b.ok()) return b;
  if (Status c = tx.Commit(); !c.ok()) return c;
  return s.id;
}

Result<Silence> SilenceStore::Get(const std::string& id) {
  base::MutexLock lock(mu_);
  Stmt q(db_, (std::string("SELECT ") + kColumns + " FROM silences WHERE id = ?1").c_str());
  q.Bind(1, id);
  const int rc = q.Step();
  if (rc == SQLITE_DONE) return engine::NotFound("no silence with id " + id);
  if (rc != SQLITE_ROW) return SqlError(db_, "get");
  return Row(q);
}

Result<std::vector<Silence>> SilenceStore::List() {
  base::MutexLock lock(mu_);
  Stmt q(
      db_,
      (std::string("SELECT ") + kColumns + " FROM silences ORDER BY starts_at DESC, id").c_str());
  std::vector<Silence> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(Row(q));
  if (rc != SQLITE_DONE) return SqlError(db_, "list");
  return out;
}

Status SilenceStore::Expire(const std::string& id) {
  const int64_t now = Now();
  base::MutexLock lock(mu_);
  sqlite::Transaction tx(db_, "silence store");
  if (Status b = tx.Begin(); !b.ok()) return b;
  if (Status e = ExpireLocked(id, now); !e.ok()) return e;
  return tx.Commit();
}

Result<int64_t> SilenceStore::Prune(int64_t max_age_ms) {
  const int64_t now = Now();
  base::MutexLock lock(mu_);
  sqlite::Transaction tx(db_, "silence store");
  if (Status b = tx.Begin(); !b.ok()) return b;
  Stmt del(db_, "DELETE FROM silences WHERE ends_at < ?1");
  del.Bind(1, now - max_age_ms);
  if (del.Step() != SQLITE_DONE) return SqlError(db_, "prune");
  const int64_t n = sqlite3_changes(db_);
  if (n > 0) {
    if (Status b = BumpLocked(); !b.ok()) return b;
  }
  if (Status c = tx.Commit(); !c.ok()) return c;
  return n;
}

Result<int64_t> SilenceStore::Version() {
  base::MutexLock lock(mu_);
  Stmt q(db_, "SELECT value FROM silence_meta WHERE key = 'version'");
  if (q.Step() != SQLITE_ROW) return SqlError(db_, "version");
  return q.Int(0);
}

}  // namespace reflex::actions
