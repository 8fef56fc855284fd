// Rule-set history: every rule set that goes live is kept so an operator can see what ran
// when and roll back to an earlier set.
//
// RuleHistory holds the logic (what an activation records, which versions are kept, how a
// rollback checks and writes a set); a RuleHistoryStorage holds the data. Two storages:
//
// * The files of the state directory (RuleHistory::Open / OpenReadOnly; the embedded
//   default, the SQLite store):
//     <state_dir>/rules-history/<version>/              a copy of every file the loader read
//         manifest.json                                 (tables, cases, labeling.yaml,
//         actions.yaml, tables/..., lookups/...)         lookups, actions.yaml) in the
//                                                        rules-dir layout
//     <state_dir>/rules-history/activations.jsonl       one line per activation, oldest first
//   A copy has the rules-directory layout, so it loads with the ordinary loader and gives the
//   same version hash (`reflex check .reflex/rules-history/v-...`).
// * A shared database (RuleHistory::WithStorage over the app's adapter of the PostgreSQL
//   store, actions/rule_set_store.h), so that replicas sharing one store share one history.
//
// A version's record (the manifest) holds version, activated_at (first activation), trigger,
// previous version, rules directory, table and row counts, the replica that recorded it and
// the file list with sizes. A version already recorded is not stored again (by this process
// or by another replica, even at the same moment); its new activation is appended. Each
// activation holds the version, time, trigger, the version live before it in this history
// and the replica ("" in files written before replicas were recorded). The newest `keep`
// versions (by last activation) are kept, older ones pruned, and at most 1000 activations.
//
// Rollback(version, rules_dir) checks that the version is recorded, loads its stored bytes
// (from memory, under VersionDir(version)) and checks that they compile with no error and
// hash to the same version, then writes its files into the rules directory, one temp file +
// rename per file, and removes the table, cases, labeling.yaml and actions.yaml files the old
// set did not have (nothing else). The running engine's watcher (or SIGHUP) then reloads the
// directory.
//
// Ownership: a RuleHistory owns its storage. Thread-safety: one RuleHistory may be shared by
// threads (Record is serialised by a mutex; List and Rollback only read). Several processes
// may read the same history; with files only the run mode writes it, with a shared database
// every replica's run mode writes it. A RuleHistoryStorage is called by one RuleHistory,
// Record under its mutex, List and Rollback from any thread: implementations must allow
// concurrent calls.
//
// Errors: kInvalidArgument (Record of a set with errors or a malformed version); kNotFound
// (Rollback of an unknown version, naming the known ones); kFailedPrecondition (a stored
// copy that no longer compiles or hashes to another version); kInternal on I/O errors; a
// database storage adds its own (kUnavailable for an unreachable database).
//
//   auto history = RuleHistory::Open({.state_dir = ".reflex"});
//   RuleSnapshot snap = LoadRuleSnapshot("rules");            // at start, or from RuleStore
//   Status s = (*history)->Record(snap, "start");
//   auto report = (*history)->Rollback("v-0123456789abcdef", "rules");
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/status.h"
#include "reflex/rules/diagnostics.h"

namespace reflex::connectors {

// A rules directory loaded and compiled, with the exact bytes of every file the loader
// read (so what is recorded is what was compiled, even if the files change meanwhile).
struct RuleSnapshot {
  std::string dir;      // the rules directory, without a trailing '/'
  std::string version;  // "v-" + 16 hex digits (rules/loader.h); set even when errors
  std::shared_ptr<const engine::CompiledRuleSet> rules;  // null when there are errors
  rules::Diagnostics diags;                              // errors and warnings
  std::map<std::string, std::string> files;              // path relative to `dir` -> bytes
  size_t tables = 0;
  size_t rows = 0;

  bool ok() const { return rules != nullptr; }
  // Error diagnostics as "file:line:col: error: message", sorted.
  std::vector<std::string> Errors() const;
};

// Loads and compiles `dir` from disk (rules::LoadRules + rules::Compile), recording every
// file read plus the test-case files beside the tables.
RuleSnapshot LoadRuleSnapshot(const std::string& dir);

struct HistoryFile {
  std::string path;  // relative to the rules directory
  uint64_t size = 0;
};

struct HistoryEntry {
  std::string version;
  int64_t activated_at_ms = 0;  // its latest activation
  std::string trigger;          // of its latest activation ("start", "sighup", "watch", ...)
  std::string previous;         // the version live before that activation ("" for none)
  int64_t first_activated_at_ms = 0;
  size_t activations = 0;
  size_t tables = 0;
  size_t rows = 0;
  std::vector<HistoryFile> files;
  std::string replica;   // who made its latest activation ("" when not recorded)
  bool current = false;  // the most recent activation
};

struct RollbackReport {
  std::string version;               // the version restored
  std::string previous_version;      // of the rules directory before ("" if it did not load)
  std::vector<std::string> added;    // relative paths written that did not exist
  std::vector<std::string> changed;  // relative paths rewritten with other bytes
  std::vector<std::string> removed;  // relative paths deleted
  size_t unchanged = 0;              // files already identical
  std::string resulting_version;     // the rules directory's version afterwards
};

// A recorded version without its file bytes (a manifest).
struct HistoryVersionRecord {
  std::string version;
  int64_t first_activated_at_ms = 0;
  std::string trigger;    // of the first activation
  std::string previous;   // the version live before the first activation ("" for none)
  std::string rules_dir;  // the rules directory it was loaded from
  size_t tables = 0;
  size_t rows = 0;
  std::string replica;  // who recorded it ("" when not known)
  std::vector<HistoryFile> files;
};

// One activation of a version.
struct HistoryActivation {
  std::string version;
  int64_t at_ms = 0;
  std::string trigger;
  std::string previous;  // the version live before ("" for none)
  std::string replica;   // who activated it ("" in files written before it was recorded)
};

// Where a RuleHistory keeps its data (see the file comment). Paths in file maps are relative
// to the rules directory and safe (no "..", no absolute path).
class RuleHistoryStorage {
 public:
  virtual ~RuleHistoryStorage() = default;

  // Where the history is, for messages: a directory, or a description of the store.
  virtual std::string Location() const = 0;
  // The directory of a version's copy, or a pseudo-directory naming it: Rollback loads the
  // version's files from memory under it (so diagnostics name it).
  virtual std::string VersionLocation(std::string_view version) const = 0;

  // Whether `version` is recorded (with its files).
  virtual engine::Result<bool> HasVersion(std::string_view version) = 0;
  // Records a version and its files, whole or not at all. A version already recorded (say by
  // another replica at the same moment) is success and keeps the first copy.
  virtual engine::Status PutVersion(const HistoryVersionRecord& record,
                                    const std::map<std::string, std::string>& files) = 0;
  virtual engine::Status AppendActivation(const HistoryActivation& activation) = 0;
  // Every activation, oldest first.
  virtual engine::Result<std::vector<HistoryActivation>> Activations() = 0;
  // Every recorded version (records with file sizes, no bytes), in no particular order; an
  // absent history is an empty one.
  virtual engine::Result<std::vector<HistoryVersionRecord>> Versions() = 0;
  // A recorded version's files, path -> bytes. kNotFound for an unknown version.
  virtual engine::Result<std::map<std::string, std::string>> Files(std::string_view version) = 0;
  // Removes `versions` (their files and activations), then the oldest activations beyond
  // `max_activations`.
  virtual engine::Status Prune(const std::vector<std::string>& versions,
                               size_t max_activations) = 0;
};

// The file layout of the state directory: <state_dir>/rules-history (see the file comment).
// Nothing is created until the first write.
std::unique_ptr<RuleHistoryStorage> NewFileHistoryStorage(const std::string& state_dir,
                                                          base::Durability durability);

struct RuleHistoryOptions {
  std::string state_dir = ".reflex";     // Default: ".reflex" (the file storage only)
  size_t keep = 10;                      // versions kept; REQUIRES: >= 1. Default: 10
  const engine::Clock* clock = nullptr;  // activation times; Default: the system clock
  // kFsync: every written file is synced, and its directory after the rename. Default: normal.
  base::Durability durability = base::Durability::kNormal;
  // Who records the activations (a replica of a shared store). Default: "".
  std::string replica = {};
};

class RuleHistory {
 public:
  // The files of options.state_dir: creates <state_dir>/rules-history when missing. Fails
  // when it cannot be created.
  static engine::Result<std::unique_ptr<RuleHistory>> Open(RuleHistoryOptions options);
  // For readers (the CLI): does not create anything; a missing history is an empty one.
  static std::unique_ptr<RuleHistory> OpenReadOnly(RuleHistoryOptions options);
  // The history kept in `storage` (options.state_dir unused). REQUIRES: storage != nullptr.
  static std::unique_ptr<RuleHistory> WithStorage(std::unique_ptr<RuleHistoryStorage> storage,
                                                  RuleHistoryOptions options);

  // Records that `snap` went live. REQUIRES: snap.ok(). Stores its files unless the
  // version is already recorded, appends the activation, prunes beyond `keep`.
  engine::Status Record(const RuleSnapshot& snap, std::string_view trigger);

  // Recorded versions, most recently activated first; the first one is `current`.
  engine::Result<std::vector<HistoryEntry>> List() const;

  // Restores `version` into `rules_dir` (see the file comment). NotFound (with the known
  // versions) for an unknown version; FailedPrecondition (with the diagnostics) when its
  // copy no longer compiles; Internal on I/O errors.
  engine::Result<RollbackReport> Rollback(std::string_view version,
                                          const std::string& rules_dir) const;

  // <state_dir>/rules-history, or the storage's description ("postgresql store").
  const std::string& dir() const { return dir_; }
  // <state_dir>/rules-history/<version> (the storage's VersionLocation).
  std::string VersionDir(std::string_view version) const;

 private:
  RuleHistory(std::unique_ptr<RuleHistoryStorage> storage, RuleHistoryOptions options);
  engine::Status Prune() REQUIRES(mu_);

  RuleHistoryOptions options_;
  const std::unique_ptr<RuleHistoryStorage> storage_;
  std::string dir_;
  const engine::Clock* clock_;
  base::Mutex mu_;  // serialises Record
};

}  // namespace reflex::connectors
