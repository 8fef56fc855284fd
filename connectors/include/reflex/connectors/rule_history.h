// Rule-set history: every rule set that goes live is kept on disk so an operator can see
// what ran when and roll back to an earlier set.
//
// Layout under the state directory:
//   <state_dir>/rules-history/<version>/              a copy of every file the loader read
//       manifest.json                                 (tables, cases, labeling.yaml, lookups,
//       actions.yaml, tables/..., lookups/...)         actions.yaml) in the rules-dir layout
//   <state_dir>/rules-history/activations.jsonl       one line per activation, oldest first
// The manifest holds version, activated_at (first activation), trigger, previous version,
// table and row counts and the file list with sizes. A version already recorded is not
// copied again; its new activation is appended to activations.jsonl. The newest `keep`
// versions (by last activation) are kept, older ones pruned. Because a history copy has the
// rules-directory layout, it loads with the ordinary loader and gives the same version hash.
//
// Rollback(version, rules_dir) checks that the version is recorded, that its copy still
// loads and compiles with no error and hashes to the same version, then writes its files
// into the rules directory, one temp file + rename per file, and removes the table,
// cases, labeling.yaml and actions.yaml files the old set did not have (nothing else). The
// running engine's watcher (or SIGHUP) then reloads the directory.
//
// Thread-safety: one RuleHistory may be shared by threads (Record is serialised by a
// mutex). Several processes may read the same state directory; only the run mode writes it.
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

struct RuleHistoryOptions {
  std::string state_dir = ".reflex";     // Default: ".reflex"
  size_t keep = 10;                      // versions kept; REQUIRES: >= 1. Default: 10
  const engine::Clock* clock = nullptr;  // activation times; Default: the system clock
  // kFsync: every written file is synced, and its directory after the rename. Default: normal.
  base::Durability durability = base::Durability::kNormal;
};

class RuleHistory {
 public:
  // Creates <state_dir>/rules-history when missing. Fails when it cannot be created.
  static engine::Result<std::unique_ptr<RuleHistory>> Open(RuleHistoryOptions options);
  // For readers (the CLI): does not create anything; a missing history is an empty one.
  static std::unique_ptr<RuleHistory> OpenReadOnly(RuleHistoryOptions options);

  // Records that `snap` went live. REQUIRES: snap.ok(). Copies its files unless the
  // version is already recorded, appends the activation, prunes beyond `keep`.
  engine::Status Record(const RuleSnapshot& snap, std::string_view trigger);

  // Recorded versions, most recently activated first; the first one is `current`.
  engine::Result<std::vector<HistoryEntry>> List() const;

  // Restores `version` into `rules_dir` (see the file comment). NotFound (with the known
  // versions) for an unknown version; FailedPrecondition (with the diagnostics) when its
  // copy no longer compiles; Internal on I/O errors.
  engine::Result<RollbackReport> Rollback(std::string_view version,
                                          const std::string& rules_dir) const;

  // <state_dir>/rules-history
  const std::string& dir() const { return dir_; }
  // <state_dir>/rules-history/<version>
  std::string VersionDir(std::string_view version) const;

 private:
  explicit RuleHistory(RuleHistoryOptions options);
  engine::Status Prune();

  RuleHistoryOptions options_;
  std::string dir_;
  const engine::Clock* clock_;
  base::Mutex mu_;  // serialises Record
};

}  // namespace reflex::connectors
