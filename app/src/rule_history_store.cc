#include "reflex/app/rule_history_store.h"

#include <utility>

namespace reflex::app {

using connectors::HistoryActivation;
using connectors::HistoryVersionRecord;

StoreRuleHistoryStorage::StoreRuleHistoryStorage(std::unique_ptr<actions::RuleSetStore> store,
                                                 std::string location)
    : store_(std::move(store)), location_(std::move(location)) {}

std::string StoreRuleHistoryStorage::VersionLocation(std::string_view version) const {
  return "rules-history/" + std::string(version);
}

engine::Result<bool> StoreRuleHistoryStorage::HasVersion(std::string_view version) {
  return store_->HasVersion(std::string(version));
}

engine::Status StoreRuleHistoryStorage::PutVersion(
    const HistoryVersionRecord& r, const std::map<std::string, std::string>& files) {
  return store_->PutVersion({.version = r.version,
                             .first_activated_at_ms = r.first_activated_at_ms,
                             .trigger = r.trigger,
                             .previous = r.previous,
                             .rules_dir = r.rules_dir,
                             .tables = static_cast<int64_t>(r.tables),
                             .rows = static_cast<int64_t>(r.rows),
                             .replica = r.replica},
                            files);
}

engine::Status StoreRuleHistoryStorage::AppendActivation(const HistoryActivation& a) {
  return store_->AppendActivation({.version = a.version,
                                   .at_ms = a.at_ms,
                                   .trigger = a.trigger,
                                   .previous = a.previous,
                                   .replica = a.replica});
}

engine::Result<std::vector<HistoryActivation>> StoreRuleHistoryStorage::Activations() {
  auto got = store_->Activations();
  if (!got.ok()) return got.status();
  std::vector<HistoryActivation> out;
  out.reserve(got->size());
  for (auto& a : *got) {
    out.push_back({.version = std::move(a.version),
                   .at_ms = a.at_ms,
                   .trigger = std::move(a.trigger),
                   .previous = std::move(a.previous),
                   .replica = std::move(a.replica)});
  }
  return out;
}

engine::Result<std::vector<HistoryVersionRecord>> StoreRuleHistoryStorage::Versions() {
  auto got = store_->Versions();
  if (!got.ok()) return got.status();
  std::vector<HistoryVersionRecord> out;
  out.reserve(got->size());
  for (auto& v : *got) {
    HistoryVersionRecord r;
    r.version = std::move(v.version);
    r.first_activated_at_ms = v.first_activated_at_ms;
    r.trigger = std::move(v.trigger);
    r.previous = std::move(v.previous);
    r.rules_dir = std::move(v.rules_dir);
    r.tables = static_cast<size_t>(v.tables);
    r.rows = static_cast<size_t>(v.rows);
    r.replica = std::move(v.replica);
    for (auto& f : v.files) r.files.push_back({std::move(f.path), static_cast<uint64_t>(f.size)});
    out.push_back(std::move(r));
  }
  return out;
}

engine::Result<std::map<std::string, std::string>> StoreRuleHistoryStorage::Files(
    std::string_view version) {
  return store_->Files(std::string(version));
}

engine::Status StoreRuleHistoryStorage::Prune(const std::vector<std::string>& versions,
                                              size_t max_activations) {
  return store_->Prune(versions, static_cast<int64_t>(max_activations));
}

engine::Result<std::unique_ptr<connectors::RuleHistory>> OpenRunRuleHistory(
    const connectors::StorageConfig& storage, const std::string& state_dir,
    const std::string& db_path, const std::string& replica) {
  connectors::RuleHistoryOptions o;
  o.state_dir = state_dir;
  o.durability = storage.durability;
  o.replica = replica;
  if (storage.store.kind != base::StoreKind::kPostgresql) {
    return connectors::RuleHistory::Open(std::move(o));
  }
  auto store =
      actions::RuleSetStore::Open(storage.store, db_path, {.durability = storage.durability});
  if (!store.ok()) return store.status();
  return connectors::RuleHistory::WithStorage(
      std::make_unique<StoreRuleHistoryStorage>(std::move(*store), kStoreRuleHistoryLocation),
      std::move(o));
}

}  // namespace reflex::app
