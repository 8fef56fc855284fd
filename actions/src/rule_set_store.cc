#include "reflex/actions/rule_set_store.h"

#include <array>

#include "migrate.h"
#include "sql.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;

constexpr const char* kStore = "rule history";
// The component of schema_migrations whose versions are this store's.
constexpr std::string_view kComponent = "rule_history";

constexpr std::string_view kSqliteV1 = R"sql(
CREATE TABLE rule_history_versions (
  version TEXT PRIMARY KEY,
  first_activated_at INTEGER NOT NULL,
  activation_trigger TEXT NOT NULL,
  previous TEXT NOT NULL,
  rules_dir TEXT NOT NULL,
  table_count INTEGER NOT NULL,
  row_count INTEGER NOT NULL,
  replica TEXT NOT NULL
);
CREATE TABLE rule_history_files (
  version TEXT NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (version, path)
);
CREATE TABLE rule_history_activations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL,
  activated_at INTEGER NOT NULL,
  activation_trigger TEXT NOT NULL,
  previous TEXT NOT NULL,
  replica TEXT NOT NULL
);
CREATE INDEX rule_history_activations_version ON rule_history_activations (version);
)sql";

constexpr std::string_view kPostgresV1 = R"sql(
CREATE TABLE rule_history_versions (
  version TEXT PRIMARY KEY,
  first_activated_at BIGINT NOT NULL,
  activation_trigger TEXT NOT NULL,
  previous TEXT NOT NULL,
  rules_dir TEXT NOT NULL,
  table_count BIGINT NOT NULL,
  row_count BIGINT NOT NULL,
  replica TEXT NOT NULL
);
CREATE TABLE rule_history_files (
  version TEXT NOT NULL,
  path TEXT NOT NULL,
  size BIGINT NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (version, path)
);
CREATE TABLE rule_history_activations (
  id BIGSERIAL PRIMARY KEY,
  version TEXT NOT NULL,
  activated_at BIGINT NOT NULL,
  activation_trigger TEXT NOT NULL,
  previous TEXT NOT NULL,
  replica TEXT NOT NULL
);
CREATE INDEX rule_history_activations_version ON rule_history_activations (version);
)sql";

// Append only: a released migration is never changed (migrate.h).
constexpr sql::Migration kMigrations[] = {
    {1, "rule_history_versions, rule_history_files and rule_history_activations tables", kSqliteV1,
     kPostgresV1},
};

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Standard base64 (RFC 4648) with padding.
std::string EncodeBase64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                       static_cast<unsigned char>(in[i + 2]);
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += kBase64[(n >> 6) & 63];
    out += kBase64[n & 63];
  }
  if (const size_t rest = in.size() - i; rest > 0) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kBase64[(n >> 18) & 63];
    out += kBase64[(n >> 12) & 63];
    out += rest == 2 ? kBase64[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// The bytes of EncodeBase64's text; false for anything else.
bool DecodeBase64(std::string_view in, std::string* out) {
  static const std::array<int8_t, 256> kValue = [] {
    std::array<int8_t, 256> v{};
    v.fill(-1);
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(kBase64[i])] = static_cast<int8_t>(i);
    return v;
  }();
  if (in.size() % 4 != 0) return false;
  out->clear();
  out->reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    const size_t pad = last ? (in[i + 3] == '=' ? (in[i + 2] == '=' ? 2 : 1) : 0) : 0;
    uint32_t n = 0;
    for (size_t k = 0; k < 4; ++k) {
      int v = 0;
      if (k < 4 - pad) {
        v = kValue[static_cast<unsigned char>(in[i + k])];
        if (v < 0) return false;
      }
      n = n << 6 | static_cast<uint32_t>(v);
    }
    out->push_back(static_cast<char>((n >> 16) & 0xff));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xff));
  }
  return true;
}

}  // namespace

RuleSetStore::RuleSetStore(std::unique_ptr<sql::Database> db) : db_(std::move(db)) {}

RuleSetStore::~RuleSetStore() = default;

Result<std::unique_ptr<RuleSetStore>> RuleSetStore::Open(const base::StoreConfig& store,
                                                         const std::string& sqlite_path,
                                                         RuleSetStoreOptions options) {
  auto db = sql::Open(store, sql::SqliteFor(sqlite_path, kStore, options));
  if (!db.ok()) return db.status();
  if (auto v = sql::Migrate(**db, kComponent, kMigrations); !v.ok()) return v.status();
  return std::unique_ptr<RuleSetStore>(new RuleSetStore(std::move(*db)));
}

Result<bool> RuleSetStore::HasVersion(const std::string& version) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec("SELECT 1 FROM rule_history_versions WHERE version = $1", version);
  if (!r.ok()) return r.status();
  return !r->empty();
}

Status RuleSetStore::PutVersion(const RuleSetVersion& v,
                                const std::map<std::string, std::string>& files) {
  base::MutexLock lock(mu_);
  sql::Transaction tx(*db_);
  if (Status b = tx.Begin(); !b.ok()) return b;
  auto ins = db_->Exec(
      "INSERT INTO rule_history_versions (version, first_activated_at, activation_trigger, "
      "previous, rules_dir, table_count, row_count, replica) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      v.version, v.first_activated_at_ms, v.trigger, v.previous, v.rules_dir, v.tables, v.rows,
      v.replica);
  // Another process or replica stored it first: its copy has the same bytes (the version is
  // their hash). The transaction rolls back on return.
  if (!ins.ok() && sql::IsUniqueViolation(ins.status())) return Status::Ok();
  if (!ins.ok()) return ins.status();
  for (const auto& [path, bytes] : files) {
    auto f = db_->Exec(
        "INSERT INTO rule_history_files (version, path, size, content) VALUES ($1, $2, $3, $4)",
        v.version, path, static_cast<int64_t>(bytes.size()), EncodeBase64(bytes));
    if (!f.ok()) return f.status();
  }
  return tx.Commit();
}

Status RuleSetStore::AppendActivation(const RuleSetActivation& a) {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "INSERT INTO rule_history_activations (version, activated_at, activation_trigger, "
      "previous, replica) VALUES ($1, $2, $3, $4, $5)",
      a.version, a.at_ms, a.trigger, a.previous, a.replica);
  return r.ok() ? Status::Ok() : r.status();
}

Result<std::vector<RuleSetActivation>> RuleSetStore::Activations() {
  base::MutexLock lock(mu_);
  auto r = db_->Exec(
      "SELECT version, activated_at, activation_trigger, previous, replica "
      "FROM rule_history_activations ORDER BY id");
  if (!r.ok()) return r.status();
  std::vector<RuleSetActivation> out;
  out.reserve(static_cast<size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i) {
    out.push_back({.version = r->Text(i, 0),
                   .at_ms = r->Int(i, 1),
                   .trigger = r->Text(i, 2),
                   .previous = r->Text(i, 3),
                   .replica = r->Text(i, 4)});
  }
  return out;
}

Result<std::vector<RuleSetVersion>> RuleSetStore::Versions() {
  base::MutexLock lock(mu_);
  // One statement, so that a version pruned meanwhile is listed whole or not at all.
  auto r = db_->Exec(
      "SELECT v.version, v.first_activated_at, v.activation_trigger, v.previous, v.rules_dir, "
      "v.table_count, v.row_count, v.replica, f.path, f.size FROM rule_history_versions v "
      "LEFT JOIN rule_history_files f ON f.version = v.version ORDER BY v.version, f.path");
  if (!r.ok()) return r.status();
  std::vector<RuleSetVersion> out;
  for (int i = 0; i < r->size(); ++i) {
    if (out.empty() || out.back().version != r->Text(i, 0)) {
      out.push_back({.version = r->Text(i, 0),
                     .first_activated_at_ms = r->Int(i, 1),
                     .trigger = r->Text(i, 2),
                     .previous = r->Text(i, 3),
                     .rules_dir = r->Text(i, 4),
                     .tables = r->Int(i, 5),
                     .rows = r->Int(i, 6),
                     .replica = r->Text(i, 7)});
    }
    if (!r->IsNull(i, 8)) out.back().files.push_back({.path = r->Text(i, 8), .size = r->Int(i, 9)});
  }
  return out;
}

Result<std::map<std::string, std::string>> RuleSetStore::Files(const std::string& version) {
  base::MutexLock lock(mu_);
  // One statement: no row for an unknown version, one row with a NULL path for a version
  // without files.
  auto r = db_->Exec(
      "SELECT f.path, f.content FROM rule_history_versions v LEFT JOIN rule_history_files f ON "
      "f.version = v.version WHERE v.version = $1",
      version);
  if (!r.ok()) return r.status();
  if (r->empty()) return engine::NotFound("no rule-set version " + version + " is stored");
  std::map<std::string, std::string> out;
  for (int i = 0; i < r->size(); ++i) {
    if (r->IsNull(i, 0)) continue;
    std::string bytes;
    if (!DecodeBase64(r->Text(i, 1), &bytes)) {
      return engine::Internal(std::string(kStore) + ": the stored content of " + version + " " +
                              r->Text(i, 0) + " is not base64");
    }
    out.emplace(r->Text(i, 0), std::move(bytes));
  }
  return out;
}

Status RuleSetStore::Prune(const std::vector<std::string>& versions, int64_t max_activations) {
  base::MutexLock lock(mu_);
  sql::Transaction tx(*db_);
  if (Status b = tx.Begin(); !b.ok()) return b;
  for (const auto& v : versions) {
    for (const char* q : {"DELETE FROM rule_history_files WHERE version = $1",
                          "DELETE FROM rule_history_activations WHERE version = $1",
                          "DELETE FROM rule_history_versions WHERE version = $1"}) {
      auto d = db_->Exec(q, v);
      if (!d.ok()) return d.status();
    }
  }
  auto trim = db_->Exec(
      "DELETE FROM rule_history_activations WHERE id NOT IN (SELECT id FROM "
      "rule_history_activations ORDER BY id DESC LIMIT CAST($1 AS BIGINT))",
      max_activations);
  if (!trim.ok()) return trim.status();
  return tx.Commit();
}

}  // namespace reflex::actions

namespace reflex::actions::schema {
int RuleHistoryVersion() { return static_cast<int>(std::size(kMigrations)); }
}  // namespace reflex::actions::schema
