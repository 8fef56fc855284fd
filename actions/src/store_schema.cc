#include "reflex/actions/store_schema.h"

#include <filesystem>

#include "migrate.h"
#include "reflex/actions/audit.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notice_outbox.h"
#include "reflex/actions/rule_set_store.h"
#include "reflex/actions/silence_store.h"
#include "sql.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;

struct Component {
  const char* name;
  int (*known)();
  // Only in a PostgreSQL store: on SQLite the rule history stays in the state directory's
  // files (connectors/rule_history.h), so the run never creates its tables there.
  bool postgresql_only = false;
};
// In the order they are reported.
constexpr Component kComponents[] = {
    {"audit_log", schema::AuditLogVersion},
    {"escalations", schema::EscalationsVersion},
    {"journal", schema::JournalVersion},
    {"notice_outbox", schema::NoticeOutboxVersion},
    {"rule_history", schema::RuleHistoryVersion, true},
    {"silences", schema::SilencesVersion},
};

bool Applies(const Component& c, const base::StoreConfig& store) {
  return !c.postgresql_only || store.kind == base::StoreKind::kPostgresql;
}

Result<std::unique_ptr<sql::Database>> Connect(const base::StoreConfig& store,
                                               const std::string& sqlite_path, bool create) {
  return sql::Open(store, {.path = sqlite_path, .store = "store", .create_if_missing = create});
}

Result<std::vector<StoreSchemaVersion>> Read(sql::Database& db, const base::StoreConfig& store) {
  std::vector<StoreSchemaVersion> out;
  for (const Component& c : kComponents) {
    if (!Applies(c, store)) continue;
    auto v = sql::AppliedVersion(db, c.name);
    if (!v.ok()) return v.status();
    out.push_back({.component = c.name, .before = *v, .after = *v, .known = c.known()});
  }
  return out;
}

// Opens (and so migrates) every store once.
Status OpenEach(const base::StoreConfig& store, const std::string& path, base::Durability d) {
  if (auto a = AuditLog::Open(store, path, {.durability = d}); !a.ok()) return a.status();
  if (auto e = EscalationStore::Open(store, path, {.durability = d}); !e.ok()) return e.status();
  if (auto j = Journal::Open(store, path, {.recover = false, .durability = d}); !j.ok()) {
    return j.status();
  }
  if (auto o = NoticeOutbox::Open(store, path, {.durability = d}); !o.ok()) return o.status();
  if (store.kind == base::StoreKind::kPostgresql) {
    if (auto r = RuleSetStore::Open(store, path, {.durability = d}); !r.ok()) return r.status();
  }
  if (auto s = SilenceStore::Open(store, path, {.durability = d}); !s.ok()) return s.status();
  return Status::Ok();
}

}  // namespace

Result<std::vector<StoreSchemaVersion>> MigrateStores(const base::StoreConfig& store,
                                                      const std::string& sqlite_path,
                                                      base::Durability durability) {
  auto db = Connect(store, sqlite_path, /*create=*/true);
  if (!db.ok()) return db.status();
  auto before = Read(**db, store);
  if (!before.ok()) return before.status();
  if (Status s = OpenEach(store, sqlite_path, durability); !s.ok()) return s;
  auto after = Read(**db, store);
  if (!after.ok()) return after.status();
  for (size_t i = 0; i < after->size(); ++i) (*after)[i].before = (*before)[i].before;
  return after;
}

Result<std::vector<StoreSchemaVersion>> StoreVersions(const base::StoreConfig& store,
                                                      const std::string& sqlite_path) {
  auto db = Connect(store, sqlite_path, /*create=*/false);
  if (!db.ok()) return db.status();
  return Read(**db, store);
}

}  // namespace reflex::actions
