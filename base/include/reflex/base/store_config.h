// StoreConfig: which database the durable stores keep their state in, chosen once for every
// store (`storage.store` in the run config; docs/operations.md, "Shared store (PostgreSQL)").
//
//   sqlite      the embedded default: one file per replica, <state_dir>/reflex.db.
//   postgresql  a PostgreSQL database shared by the replicas, reached with a libpq
//               connection string read from the environment variable that `dsn_env` names
//               (the string may hold a password, so it never lives in the file).
//
// Every durable store follows it (the journal, escalations, silences, notice outbox and audit
// log); the rule-set history stays in files under the state directory.
//
// Thread-safety: plain values.
//
//   base::StoreConfig store{.kind = base::StoreKind::kPostgresql, .dsn = "host=db dbname=reflex"};
//   auto audit = actions::AuditLog::Open(store, "/var/lib/reflex/reflex.db", {});
#pragma once

#include <cstdint>
#include <string>

#include "reflex/base/enum_names.h"

namespace reflex::base {

enum class StoreKind : uint8_t { kSqlite, kPostgresql };
inline constexpr EnumNames<StoreKind, 2> kStoreKindNames{
    {{{StoreKind::kSqlite, "sqlite"}, {StoreKind::kPostgresql, "postgresql"}}}};

struct StoreConfig {
  StoreKind kind = StoreKind::kSqlite;  // Default: sqlite
  // The libpq connection string (from the variable `dsn_env` names). REQUIRES: non-empty when
  // kind is kPostgresql; empty otherwise.
  std::string dsn;
};

}  // namespace reflex::base
