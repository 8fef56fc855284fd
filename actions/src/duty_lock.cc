#include "reflex/actions/duty_lock.h"

#include "reflex/base/hash.h"
#include "sql.h"

namespace reflex::actions {

engine::Result<std::unique_ptr<DutyLock>> DutyLock::Open(const base::StoreConfig& store,
                                                         std::string duty) {
  std::unique_ptr<sql::Database> db;
  if (store.kind == base::StoreKind::kPostgresql) {
    auto opened = sql::OpenPostgres(store.dsn, "duty " + duty);
    if (!opened.ok()) return opened.status();
    db = std::move(*opened);
  }
  return std::unique_ptr<DutyLock>(new DutyLock(std::move(db), std::move(duty)));
}

DutyLock::DutyLock(std::unique_ptr<sql::Database> db, std::string duty)
    : db_(std::move(db)),
      duty_(std::move(duty)),
      key_(static_cast<int64_t>(base::Fnv1a64("reflex-duty:" + duty_))) {}

DutyLock::~DutyLock() = default;

bool DutyLock::Held() {
  base::MutexLock lock(mu_);
  if (db_ == nullptr) return true;
  // Taken again on every call: advisory locks stack within a session, and after a lost
  // connection (reopened by the next statement) this asks for it on the new session.
  auto r = db_->Exec("SELECT CASE WHEN pg_try_advisory_lock($1::bigint) THEN 1 ELSE 0 END", key_);
  return r.ok() && !r->empty() && r->Int(0, 0) == 1;
}

}  // namespace reflex::actions
