// EscalationStore: the durable list of things a person has to look at.
//
// Unknown events (no table matched), failed actions, expired approvals and rows whose
// action is `escalate` are recorded here, grouped by a shape fingerprint so that a storm of
// one alert becomes one group with a count, not ten thousand rows. For unknown events the
// fingerprint is a hash over configurable fields (default `source`, `labels.alertname`,
// `labels.severity`, named as in docs/events.md); for action escalations it is the kind,
// action, table and row. Each group keeps its first and last time seen, its count, the
// field values that make its shape, a few sample events (bounded in number and bytes) and
// a state: open -> acknowledged -> resolved (who, when, note; every change is kept in the
// group's history). A new occurrence of a resolved group reopens it; the count continues.
//
// Incident lifecycle: an unknown event that is resolved (engine::IsResolved: label
// `status` = `resolved`, as Alertmanager's resolved notifications carry) is not an
// occurrence. It resolves the open (or acknowledged) group of its fingerprint (kResolved:
// not counted, state resolved by "reflex"); for a group that is resolved already, or none,
// it changes nothing (kNoOpenGroup). Only a firing event reopens a resolved group.
// RecordResult.notify says whether the occurrence is worth telling people: a new group, a
// reopened one, a resolution; an action escalation's repeat only once dedup_window_ms has
// passed since the group was last seen (repeats within it are counted, not told).
//
// Storage: tables prefixed `escalation_`, on the store's own connection, either in a SQLite
// file (WAL, busy timeout; usually the state database shared with the journal and the audit
// log) or in a PostgreSQL database the replicas share (base::StoreConfig, storage.store).
// Their schema is versioned (component `escalations` in schema_migrations, migrate.h): Open
// applies the versions the database lacks; a SQLite file from before versioning (either of
// its two earlier layouts) opens with its rows.
//
// Replicas: several processes (or stores) may record into one database at once and the
// counts stay whole. Recording is one transaction per call; an occurrence is one atomic
// upsert of its group, keyed by the fingerprint (unique: one group per shape, whatever its
// state), so two replicas seeing one shape at the same moment end with one group whose count
// is the sum. An event id is claimed in the same transaction, so a redelivery to another
// replica is kReplayed there. The store keeps no groups in memory: every answer is the
// database's.
//
// Errors: kInvalidArgument for bad options or events; kUnavailable when the database cannot be
// opened or reached, or is busy; kFailedPrecondition from Open when its escalation schema is
// newer than this binary ("... upgrade reflex"); kInvalidArgument for a malformed PostgreSQL
// connection string; kInternal for anything else the database says.
//
// Thread-safety: all methods may be called from any thread; one connection per store,
// guarded by a mutex. Several stores (or processes) may open the same database.
//
//   auto store = EscalationStore::Open(".reflex/reflex.db", {});  // or Open(store, path, {})
//   Result<RecordResult> r = (*store)->RecordUnknown(event_json, clock.NowMillis());
//   if (r.ok() && r->outcome != RecordOutcome::kRepeat) notifier.Notify(...);
//   (*store)->Ack(r->group_id, "alice", "looking");
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/base/durability.h"
#include "reflex/base/enum_names.h"
#include "reflex/base/store_config.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

namespace sql {
class Database;
}  // namespace sql

enum class EscalationKind { kUnknownEvent, kActionFailed, kApprovalExpired, kEscalateAction };
inline constexpr base::EnumNames<EscalationKind, 4> kEscalationKindNames{
    {{{EscalationKind::kUnknownEvent, "unknown_event"},
      {EscalationKind::kActionFailed, "action_failed"},
      {EscalationKind::kApprovalExpired, "approval_expired"},
      {EscalationKind::kEscalateAction, "escalate_action"}}}};
enum class EscalationState { kOpen, kAcknowledged, kResolved };
inline constexpr base::EnumNames<EscalationState, 3> kEscalationStateNames{
    {{{EscalationState::kOpen, "open"},
      {EscalationState::kAcknowledged, "acknowledged"},
      {EscalationState::kResolved, "resolved"}}}};

// "unknown_event", "action_failed", "approval_expired", "escalate_action".
std::string_view EscalationKindName(EscalationKind kind);
engine::Result<EscalationKind> ParseEscalationKind(std::string_view name);
// "open", "acknowledged", "resolved".
std::string_view EscalationStateName(EscalationState state);
engine::Result<EscalationState> ParseEscalationState(std::string_view name);

struct EscalationOptions {
  // Fields whose values make an unknown event's shape (docs/events.md field names).
  // Default: source, labels.alertname, labels.severity. REQUIRES: at least one, each valid.
  std::vector<std::string> fingerprint_fields = {"source", "labels.alertname", "labels.severity"};
  // Sample events kept per group. Default: 5.
  size_t max_samples = 5;
  // Bytes kept of each sample; longer events are cut (at a UTF-8 boundary) and marked
  // truncated. Default: 16 KiB.
  size_t max_sample_bytes = 16 * 1024;
  // How long the id an unknown event carries is remembered: the same id recorded again
  // within it (a redelivery after a restart, at-least-once) is kReplayed and not counted
  // again. Events without an id of their own (engine::IsDerivedEventId) count every time.
  // Ids older than this are forgotten by Prune. Default: 24 h. 0 = remember none.
  int64_t replay_window_ms = 24 * 3600 * 1000LL;
  // Action escalations (failed actions, expired approvals, `escalate` rows) of one group seen
  // again within this long of the previous occurrence are counted, not re-notified
  // (RecordResult.notify false). 0: every occurrence is notified. Unknown-event repeats are
  // never re-notified while their group is open. Default: 0.
  int64_t dedup_window_ms = 0;
  // How long a write waits for another connection's lock (SQLite). Default: 5 s.
  int busy_timeout_ms = 5000;
  // Create the SQLite file (and its parent directories) when missing. Default: true.
  bool create_if_missing = true;
  // SQLite: synchronous=NORMAL (kNormal) or FULL (kFsync). Default: normal.
  base::Durability durability = base::Durability::kNormal;
  // Time source for Ack/Resolve. Default (nullptr): the system clock. When set, it must
  // outlive the store.
  const engine::Clock* clock = nullptr;
};

// An escalation raised by the action side (executor, approval gate, `escalate` rows).
struct ActionEscalation {
  EscalationKind kind = EscalationKind::kActionFailed;  // REQUIRES: not kUnknownEvent
  std::string action;                                   // action name from the catalog
  std::string table;       // decision table of the row that asked for it
  std::string row;         // row id
  std::string reason;      // why: the last error, "approval expired after 1h", ...
  std::string event_json;  // the event that led to it; kept as a sample when non-empty
  std::string event_id;
};

enum class RecordOutcome {
  kNew,          // first occurrence: a new group
  kRepeat,       // the group exists and is open or acknowledged
  kReopened,     // the group was resolved; this occurrence opened it again
  kReplayed,     // this event id was recorded within replay_window: nothing counted again
  kResolved,     // a resolved event resolved the open group of its fingerprint (not counted)
  kNoOpenGroup,  // a resolved event whose group is resolved already, or absent: no change
};
inline constexpr base::EnumNames<RecordOutcome, 6> kRecordOutcomeNames{
    {{{RecordOutcome::kNew, "new"},
      {RecordOutcome::kRepeat, "repeat"},
      {RecordOutcome::kReopened, "reopened"},
      {RecordOutcome::kReplayed, "replayed"},
      {RecordOutcome::kResolved, "resolved"},
      {RecordOutcome::kNoOpenGroup, "no_open_group"}}}};
// "new", "repeat", "reopened", "replayed", "resolved", "no_open_group".
std::string_view OutcomeName(RecordOutcome outcome);

struct RecordResult {
  int64_t group_id = 0;     // 0 for kNoOpenGroup without any group
  std::string fingerprint;  // 16 hex digits
  RecordOutcome outcome = RecordOutcome::kNew;
  int64_t count = 0;  // occurrences so far, this one included
  // Tell people: kNew, kReopened and kResolved; a repeat of an action escalation outside
  // dedup_window_ms. Never for kReplayed or kNoOpenGroup.
  bool notify = false;
};

struct EscalationSample {
  int64_t at_ms = 0;
  std::string event;  // the event's JSON (cut to max_sample_bytes when truncated)
  bool truncated = false;
};

struct EscalationTransition {
  int64_t at_ms = 0;
  EscalationState state = EscalationState::kOpen;  // the state entered
  std::string by;                                  // who; "reflex" for automatic reopening
  std::string note;
};

struct EscalationGroup {
  int64_t id = 0;
  std::string fingerprint;
  EscalationKind kind = EscalationKind::kUnknownEvent;
  // The values making the shape, in fingerprint order; nullopt when the event lacked it.
  std::vector<std::pair<std::string, std::optional<std::string>>> shape;
  int64_t count = 0;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  EscalationState state = EscalationState::kOpen;
  std::string state_by;  // who made the last state change ("" while never changed)
  int64_t state_at_ms = 0;
  std::string state_note;
  int64_t reopen_count = 0;
  // Topology root cause (engine/topology.h): events suppressed as symptoms of the incident
  // this group's event opened, and that incident's node ("" while none).
  int64_t symptoms = 0;
  std::string root_cause;
  // Action escalations only.
  std::string action, table, row, reason;
  // Filled by Get() only: oldest first.
  std::vector<EscalationSample> samples;
  std::vector<EscalationTransition> history;
};

struct EscalationFilter {
  std::optional<EscalationState> state{};  // nullopt: every state
  std::optional<EscalationKind> kind{};    // nullopt: every kind
  size_t limit = 1000;                     // most recently seen first
  std::string fingerprint{};               // one shape's group; "" = any
  std::string shape_contains{};            // text in the group's shape values; "" = any
  int64_t seen_since_ms = 0;               // last seen at or after; 0 = any
  int64_t seen_until_ms = 0;               // last seen before; 0 = any
  // Paging: only groups after this one in the list order (last seen, then id, both
  // descending): pass the last group of the previous page. nullopt = from the first.
  std::optional<std::pair<int64_t, int64_t>> after{};  // (last_seen_ms, id)
};

// What Prune keeps.
struct EscalationRetention {
  // Resolved groups with no activity (seen or state change) for this long are deleted with
  // their samples and history; samples older than this are deleted from every group. Open and
  // acknowledged groups are never deleted for age: a person has yet to look at them.
  // 0 = no age limit.
  int64_t max_age_ms = 0;
  // Groups kept at most (a sender inventing alert names cannot grow the store without
  // bound): above it resolved groups go first, least recently seen first, then any group,
  // least recently seen first. 0 = no cap.
  int64_t max_groups = 0;
  // Groups (or samples) deleted per transaction. REQUIRES: > 0.
  int batch = 1000;
};

struct EscalationPruneResult {
  int64_t groups_deleted = 0;
  int64_t samples_deleted = 0;    // with their groups, or for age
  int64_t event_ids_deleted = 0;  // remembered ids older than replay_window_ms
  int64_t groups_kept = 0;        // rows afterwards
  int64_t samples_kept = 0;
};

// The group as a JSON object (fields as above, times as RFC 3339); samples and history are
// included when Get() filled them (each sample's event embedded as JSON when it parses,
// else as a string).
std::string EscalationGroupJson(const EscalationGroup& group);
// Only the group's state, who set it and the note, as JSON: what the audit log keeps before
// and after a change ({"state":"acknowledged","by":"alice","note":"looking"}).
std::string EscalationStateJson(const EscalationGroup& group);

class EscalationStore {
 public:
  // Opens (or creates) the SQLite file and its `escalation_` tables: Open({}, path, options).
  static engine::Result<std::unique_ptr<EscalationStore>> Open(const std::string& path,
                                                               EscalationOptions options);
  // Opens the store where `store` says: the SQLite file at `sqlite_path` (kind sqlite), or the
  // PostgreSQL database of store.dsn (the file is then not used). Applies the schema versions
  // the database lacks. kInvalidArgument for bad options, kUnavailable when the file is
  // missing (create_if_missing false) or the database cannot be opened or reached,
  // kFailedPrecondition when its escalation schema is newer than this binary.
  static engine::Result<std::unique_ptr<EscalationStore>> Open(const base::StoreConfig& store,
                                                               const std::string& sqlite_path,
                                                               EscalationOptions options);
  ~EscalationStore();
  EscalationStore(const EscalationStore&) = delete;
  EscalationStore& operator=(const EscalationStore&) = delete;

  // PRAGMA synchronous of this connection (1 = NORMAL, 2 = FULL), or -1 when unreadable or
  // on PostgreSQL.
  int SynchronousLevel() const;

  // Records one unknown event. kInvalidArgument when `event_json` is not a valid event.
  engine::Result<RecordResult> RecordUnknown(std::string_view event_json, int64_t now_ms);
  // The same for an event the pipeline has parsed already (its `raw` is the sample).
  engine::Result<RecordResult> RecordUnknown(const engine::Event& event, int64_t now_ms);
  // Many events in one transaction: all recorded, or none (on any error). Results are in
  // input order. A malformed event fails the batch with its index in the message.
  engine::Result<std::vector<RecordResult>> RecordUnknownBatch(
      const std::vector<std::string_view>& events_json, int64_t now_ms);
  engine::Result<std::vector<RecordResult>> RecordUnknownBatch(
      const std::vector<const engine::Event*>& events, int64_t now_ms);

  // Counts events suppressed as symptoms (decision muted_by.root_event) against the group of
  // the root's escalated event, once per symptom event id; returns how many were counted
  // (a root that was known, not escalated, has no group).
  struct SymptomOf {
    std::string event_id;       // the symptom
    std::string root_event_id;  // the event that opened the root's incident
    std::string root;           // the root node
  };
  engine::Result<int64_t> RecordSymptoms(const std::vector<SymptomOf>& symptoms, int64_t now_ms);

  // Records an action escalation (kInvalidArgument for kind kUnknownEvent).
  engine::Result<RecordResult> RecordAction(const ActionEscalation& escalation, int64_t now_ms);

  engine::Result<std::vector<EscalationGroup>> List(const EscalationFilter& filter) const;
  // Groups in `state` per kind, every kind included (0 when none): one indexed query.
  engine::Result<std::map<EscalationKind, int64_t>> CountByKind(EscalationState state) const;
  // The group with its samples and history; kNotFound when there is none.
  engine::Result<EscalationGroup> Get(int64_t id) const;

  // open -> acknowledged. kNotFound, or kFailedPrecondition when not open.
  engine::Status Ack(int64_t id, std::string_view who, std::string_view note);
  // open | acknowledged -> resolved. kNotFound, or kFailedPrecondition when resolved.
  engine::Status Resolve(int64_t id, std::string_view who, std::string_view note);

  // Deletes groups and samples by age and count (EscalationRetention), in batches, each its
  // own transaction. kInvalidArgument for a batch <= 0.
  engine::Result<EscalationPruneResult> Prune(const EscalationRetention& retention, int64_t now_ms);

  // The fingerprint an event would get under this store's options.
  std::string Fingerprint(const engine::Event& event) const;

 private:
  struct Occurrence;
  EscalationStore(std::unique_ptr<sql::Database> db, EscalationOptions options,
                  std::vector<engine::FieldPath> fields);
  // Applies the schema versions, then the column upgrades of pre-versioning SQLite files.
  engine::Status Init();
  Occurrence UnknownOccurrence(const engine::Event& event) const;
  engine::Result<RecordResult> RecordLocked(const Occurrence& occurrence, int64_t now_ms)
      REQUIRES(mu_);
  // A resolved unknown event: resolves the open group of its fingerprint, if any.
  engine::Result<RecordResult> ResolveLocked(const Occurrence& occurrence, int64_t now_ms)
      REQUIRES(mu_);
  engine::Status AddSampleLocked(const Occurrence& occurrence, int64_t group_id, int64_t now_ms,
                                 bool trim) REQUIRES(mu_);
  engine::Result<std::vector<RecordResult>> RecordAll(const std::vector<Occurrence>& batch,
                                                      int64_t now_ms);
  engine::Status Transition(int64_t id, EscalationState to, std::string_view who,
                            std::string_view note);
  int64_t NowMillis() const;

  mutable base::Mutex mu_;
  const std::unique_ptr<sql::Database> db_ PT_GUARDED_BY(mu_);
  const EscalationOptions options_;
  const std::vector<engine::FieldPath> fields_;
};

}  // namespace reflex::actions
