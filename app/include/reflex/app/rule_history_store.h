// Where `reflex run` and the operator commands keep the rule-set history
// (connectors/rule_history.h): with `storage.store` on PostgreSQL, in the shared database
// (actions/rule_set_store.h), so that the replicas sharing the store share one history; on
// SQLite (the embedded default), in the state directory's files as always
// (<state_dir>/rules-history).
//
// StoreRuleHistoryStorage is the wiring between the two layers: connectors'
// RuleHistoryStorage interface over actions' RuleSetStore, converting plain types only. It
// owns its store. Its Location() is what the caller names it ("postgresql store"), and a
// version's pseudo-directory is "rules-history/<version>" (Rollback loads it from memory
// there, so diagnostics name it). Thread-safety: as the RuleSetStore (any thread). Errors:
// the store's.
//
//   auto history = OpenRunRuleHistory(c.storage, c.state_dir, db_path, replica);
//   Status s = (*history)->Record(snap, "start");
#pragma once

#include <memory>
#include <string>

#include "reflex/actions/rule_set_store.h"
#include "reflex/connectors/config.h"
#include "reflex/connectors/rule_history.h"
#include "reflex/engine/status.h"

namespace reflex::app {

class StoreRuleHistoryStorage final : public connectors::RuleHistoryStorage {
 public:
  // REQUIRES: store != nullptr.
  StoreRuleHistoryStorage(std::unique_ptr<actions::RuleSetStore> store, std::string location);

  std::string Location() const override { return location_; }
  std::string VersionLocation(std::string_view version) const override;
  engine::Result<bool> HasVersion(std::string_view version) override;
  engine::Status PutVersion(const connectors::HistoryVersionRecord& record,
                            const std::map<std::string, std::string>& files) override;
  engine::Status AppendActivation(const connectors::HistoryActivation& activation) override;
  engine::Result<std::vector<connectors::HistoryActivation>> Activations() override;
  engine::Result<std::vector<connectors::HistoryVersionRecord>> Versions() override;
  engine::Result<std::map<std::string, std::string>> Files(std::string_view version) override;
  engine::Status Prune(const std::vector<std::string>& versions, size_t max_activations) override;

 private:
  const std::unique_ptr<actions::RuleSetStore> store_;
  const std::string location_;
};

// The description of a history kept in the PostgreSQL store (RuleHistory::dir()).
inline constexpr const char* kStoreRuleHistoryLocation = "postgresql store";

// The history `reflex run` records into: on PostgreSQL (storage.store) the shared database,
// each activation recorded as `replica`'s; on SQLite <state_dir>/rules-history (created).
// `db_path` is the SQLite state file (unused on PostgreSQL). Errors: the store's
// (kUnavailable, kFailedPrecondition for a newer database, ...), or kInternal when the
// history directory cannot be created.
engine::Result<std::unique_ptr<connectors::RuleHistory>> OpenRunRuleHistory(
    const connectors::StorageConfig& storage, const std::string& state_dir,
    const std::string& db_path, const std::string& replica);

}  // namespace reflex::app
