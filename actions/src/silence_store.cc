#include "reflex/actions/silence_store.h"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "migrate.h"
#include "sql.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Silence;
using engine::Status;

constexpr const char* kStore = "silence store";
// The component of schema_migrations whose versions are this store's.
constexpr std::string_view kComponent = "silences";

// Version 1 is the schema the store had before versioning, written with IF NOT EXISTS so that
// it applies over a SQLite file of that time and keeps its silences and version.
constexpr std::string_view kSqliteV1 = R"sql(
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

constexpr std::string_view kPostgresV1 = R"sql(
CREATE TABLE silences (
  id TEXT PRIMARY KEY,
  matchers TEXT NOT NULL,
  starts_at BIGINT NOT NULL,
  ends_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  comment TEXT NOT NULL
);
CREATE INDEX silences_ends_at ON silences (ends_at);
CREATE TABLE silence_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO silence_meta (key, value) VALUES ('version', 0) ON CONFLICT DO NOTHING;
)sql";

// Append only: a released migration is never changed (migrate.h).
constexpr sql::Migration kMigrations[] = {
    {1, "silences and silence_meta tables, index on ends_at", kSqliteV1, kPostgresV1},
};

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

Silence RowAt(const sql::Rows& r, int i) {
  Silence s;
  s.id = r.Text(i, 0);
  s.matchers = MatchersFromJson(r.Text(i, 1));
  s.starts_at_ms = r.Int(i, 2);
  s.ends_at_ms = r.Int(i, 3);
  s.updated_at_ms = r.Int(i, 4);
  s.created_by = r.Text(i, 5);
  s.comment = r.Text(i, 6);
  return s;
}

}  // namespace

SilenceStore::SilenceStore(std::unique_ptr<sql::Database> db, SilenceStoreOptions options)
    : db_(std::move(db)), options_(options) {}

SilenceStore::~SilenceStore() = default;

int64_t SilenceStore::Now() const {
  return options_.clock != nullptr ? options_.clock->NowMillis() : system_clock_.NowMillis();
}

Result<std::unique_ptr<SilenceStore>> SilenceStore::Open(const std::string& path,
                                                         SilenceStoreOptions options) {
  return Open(base::StoreConfig{}, path, options);
}

Result<std::unique_ptr<SilenceStore>> SilenceStore::Open(const base::StoreConfig& store,
                                                         const std::string& sqlite_path,
                                                         SilenceStoreOptions options) {
  auto db = sql::Open(store, sql::SqliteFor(sqlite_path, kStore, options));
  if (!db.ok()) return db.status();
  if (auto v = sql::Migrate(**db, kComponent, kMigrations); !v.ok()) return v.status();
  return std::unique_ptr<SilenceStore>(new SilenceStore(std::move(*db), options));
}

Status SilenceStore::BumpLocked() {
  auto r = db_->Exec("UPDATE silence_meta SET value = value + 1 WHERE key = 'version'");
  if (!r.ok()) return r.status();
  if (r->affected() != 1) return engine::Internal("silence store: no version row");
  return Status::Ok();
}

Status SilenceStore::ExpireLocked(const std::string& id, int64_t now) {
  // One conditional update: of two writers expiring the same silence at once, one wins and the
  // other finds it expired.
  auto up = db_->Exec(
      "UPDATE silences SET starts_at = CASE WHEN starts_at > $2 THEN $2 ELSE starts_at END, "
      "ends_at = $2, updated_at = $2 WHERE id = $1 AND ends_at > $2",
      id, now);
  if (!up.ok()) return up.status();
  if (up->affected() == 0) {
    auto get = db_->Exec("SELECT ends_at FROM silences WHERE id = $1", id);
    if (!get.ok()) return get.status();
    if (get->empty()) return engine::NotFound("no silence with id " + id);
    return engine::FailedPrecondition("silence " + id + " already expired");
  }
  return BumpLocked();
}

Result<std::string> SilenceStore::Add(Silence s) {
  const int64_t now = Now();
  if (Status v = engine::ValidateNewSilence(s, now); !v.ok()) return v;
  base::MutexLock lock(mu_);
  sql::Transaction tx(*db_);
  if (Status b = tx.Begin(); !b.ok()) return b;
  if (!s.id.empty()) {
    if (Status e = ExpireLocked(s.id, now);
        !e.ok() && e.code() != engine::StatusCode::kFailedPrecondition) {
      return e;
    }
  }
  s.id = NewId();
  s.updated_at_ms = now;
  auto ins = db_->Exec(
      "INSERT INTO silences (id, matchers, starts_at, ends_at, updated_at, created_by, "
      "comment) VALUES ($1, $2, $3, $4, $5, $6, $7)",
      s.id, MatchersJson(s.matchers), s.starts_at_ms, s.ends_at_ms, now, s.created_by, s.comment);
  if (!ins.ok()) return ins.status();
  if (Status b = BumpLocked(); !b.ok()) return b;
  if (Status c = tx.Commit(); !c.ok()) return c;
  return s.id;
}

Result<Silence> SilenceStore::Get(const std::string& id) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(std::string("SELECT ") + kColumns + " FROM silences WHERE id = $1", id);
  if (!r.ok()) return r.status();
  if (r->empty()) return engine::NotFound("no silence with id " + id);
  return RowAt(*r, 0);
}

Result<std::vector<Silence>> SilenceStore::List() {
  base::MutexLock lock(mu_);
  auto r =
      db_->Exec(std::string("SELECT ") + kColumns + " FROM silences ORDER BY starts_at DESC, id");
  if (!r.ok()) return r.status();
  std::vector<Silence> out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) out.push_back(RowAt(*r, i));
  return out;
}

Status SilenceStore::Expire(const std::string& id) {
  const int64_t now = Now();
  base::MutexLock lock(mu_);
  sql::Transaction tx(*db_);
  if (Status b = tx.Begin(); !b.ok()) return b;
  if (Status e = ExpireLocked(id, now); !e.ok()) return e;
  return tx.Commit();
}

Result<int64_t> SilenceStore::Prune(int64_t max_age_ms) {
  const int64_t now = Now();
  base::MutexLock lock(mu_);
  sql::Transaction tx(*db_);
  if (Status b = tx.Begin(); !b.ok()) return b;
  auto del = db_->Exec("DELETE FROM silences WHERE ends_at < $1", now - max_age_ms);
  if (!del.ok()) return del.status();
  const int64_t n = del->affected();
  if (n > 0) {
    if (Status b = BumpLocked(); !b.ok()) return b;
  }
  if (Status c = tx.Commit(); !c.ok()) return c;
  return n;
}

Result<int64_t> SilenceStore::Version() {
  base::MutexLock lock(mu_);
  auto r = db_->Exec("SELECT value FROM silence_meta WHERE key = 'version'");
  if (!r.ok()) return r.status();
  if (r->empty()) return engine::Internal("silence store: no version row");
  return r->Int(0, 0);
}

}  // namespace reflex::actions

namespace reflex::actions::schema {
int SilencesVersion() { return static_cast<int>(std::size(kMigrations)); }
}  // namespace reflex::actions::schema
