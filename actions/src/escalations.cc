// EscalationStore on SQLite: one connection, a mutex, explicit IMMEDIATE transactions.
#include "reflex/actions/escalations.h"

#include <sqlite3.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "reflex/base/hash.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/engine/matcher.h"
#include "sqlite_util.h"

namespace reflex::actions {
namespace {

using engine::FailedPrecondition;
using engine::Result;
using engine::Status;
using engine::StatusCode;
using engine::Unavailable;

constexpr int kSchemaVersion = 2;  // 2: symptoms, root_cause
constexpr const char* kSystemActor = "reflex";

Status SqlError(sqlite3* db, std::string_view what) {
  return sqlite::SqlError(db, "escalation store", what);
}

using sqlite::Stmt;

Status Exec(sqlite3* db, const char* sql) {
  std::string m;
  if (!sqlite::ExecSql(db, sql, &m)) {
    Status s = SqlError(db, sql);
    return Status(s.code(), "escalation store: " + m + " (in: " + sql + ")");
  }
  return Status::Ok();
}

// Runs the statement to completion; an error names `what`.
Status Run(sqlite3* db, Stmt& stmt, std::string_view what) {
  int rc = stmt.Step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqlError(db, what);
  return Status::Ok();
}

// BEGIN IMMEDIATE ... COMMIT with the store's error messages.
class Transaction : public sqlite::Transaction {
 public:
  explicit Transaction(sqlite3* db) : sqlite::Transaction(db, "escalation store") {}
};

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS escalation_meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS escalation_groups(
  id INTEGER PRIMARY KEY,
  fingerprint TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  shape TEXT NOT NULL,
  count INTEGER NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  state TEXT NOT NULL,
  state_by TEXT NOT NULL DEFAULT '',
  state_at INTEGER NOT NULL DEFAULT 0,
  state_note TEXT NOT NULL DEFAULT '',
  reopen_count INTEGER NOT NULL DEFAULT 0,
  action TEXT NOT NULL DEFAULT '',
  rule_table TEXT NOT NULL DEFAULT '',
  rule_row TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  symptoms INTEGER NOT NULL DEFAULT 0,
  root_cause TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS escalation_groups_state ON escalation_groups(state, last_seen);
CREATE TABLE IF NOT EXISTS escalation_samples(
  id INTEGER PRIMARY KEY,
  group_id INTEGER NOT NULL REFERENCES escalation_groups(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS escalation_samples_group ON escalation_samples(group_id, id);
CREATE TABLE IF NOT EXISTS escalation_history(
  id INTEGER PRIMARY KEY,
  group_id INTEGER NOT NULL REFERENCES escalation_groups(id) ON DELETE CASCADE,
  at INTEGER NOT NULL,
  state TEXT NOT NULL,
  actor TEXT NOT NULL,
  note TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS escalation_history_group ON escalation_history(group_id, id);
CREATE TABLE IF NOT EXISTS escalation_events(
  event_id TEXT PRIMARY KEY,
  group_id INTEGER NOT NULL,
  at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS escalation_events_at ON escalation_events(at);
)sql";

std::string Hex16(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, h);
  return buf;
}

// The event as JSON when the pipeline did not keep its bytes.
std::string EventJson(const engine::Event& ev) {
  if (!ev.raw.empty()) return ev.raw;
  nlohmann::ordered_json j;
  j["id"] = ev.id;
  j["timestamp"] = base::FormatRfc3339Millis(ev.time_ms);
  if (!ev.source.empty()) j["source"] = ev.source;
  if (!ev.labels.empty()) {
    auto& labels = j["labels"];
    for (const auto& [k, v] : ev.labels) labels[k] = v;
  }
  if (!ev.values.empty()) {
    auto& values = j["values"];
    for (const auto& [k, v] : ev.values) values[k] = v;
  }
  if (!ev.message.empty()) j["message"] = ev.message;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ShapeText(const std::vector<std::pair<std::string, std::optional<std::string>>>& s) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& [field, value] : s) {
    arr.push_back({field, value ? nlohmann::json(*value) : nlohmann::json(nullptr)});
  }
  return arr.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::pair<std::string, std::optional<std::string>>> ParseShape(
    const std::string& text) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_string()) continue;
    std::optional<std::string> v;
    if (e[1].is_string()) v = e[1].get<std::string>();
    out.emplace_back(e[0].get<std::string>(), std::move(v));
  }
  return out;
}

// Parses on a per-thread parser (EventParser is not thread-safe and keeps buffers). Stored
// events were decided, so they passed the ingest caps once (perhaps raised since): no caps.
Status ParseEvent(std::string_view json, int64_t now_ms, engine::Event* out) {
  thread_local engine::EventParser parser(engine::EventLimits::Unbounded());
  return parser.Parse(json, now_ms, out);
}

constexpr const char* kGroupColumns =
    "id, fingerprint, kind, shape, count, first_seen, last_seen, state, state_by, state_at, "
    "state_note, reopen_count, action, rule_table, rule_row, reason, symptoms, root_cause";

EscalationGroup ReadGroup(const Stmt& s) {
  EscalationGroup g;
  g.id = s.Int(0);
  g.fingerprint = s.Text(1);
  auto kind = ParseEscalationKind(s.Text(2));
  g.kind = kind.ok() ? *kind : EscalationKind::kUnknownEvent;
  g.shape = ParseShape(s.Text(3));
  g.count = s.Int(4);
  g.first_seen_ms = s.Int(5);
  g.last_seen_ms = s.Int(6);
  auto state = ParseEscalationState(s.Text(7));
  g.state = state.ok() ? *state : EscalationState::kOpen;
  g.state_by = s.Text(8);
  g.state_at_ms = s.Int(9);
  g.state_note = s.Text(10);
  g.reopen_count = s.Int(11);
  g.action = s.Text(12);
  g.table = s.Text(13);
  g.row = s.Text(14);
  g.reason = s.Text(15);
  g.symptoms = s.Int(16);
  g.root_cause = s.Text(17);
  return g;
}

}  // namespace

std::string_view EscalationKindName(EscalationKind kind) { return kEscalationKindNames.Name(kind); }

Result<EscalationKind> ParseEscalationKind(std::string_view name) {
  if (auto k = kEscalationKindNames.Parse(name)) return *k;
  return engine::InvalidArgument(
      "unknown escalation kind '" + std::string(name) +
      "' (expected unknown_event, action_failed, approval_expired or escalate_action)");
}

std::string_view EscalationStateName(EscalationState state) {
  return kEscalationStateNames.Name(state);
}

Result<EscalationState> ParseEscalationState(std::string_view name) {
  if (auto s = kEscalationStateNames.Parse(name)) return *s;
  return engine::InvalidArgument("unknown escalation state '" + std::string(name) +
                                 "' (expected open, acknowledged or resolved)");
}

std::string_view OutcomeName(RecordOutcome outcome) { return kRecordOutcomeNames.Name(outcome); }

std::string EscalationStateJson(const EscalationGroup& g) {
  nlohmann::json j;
  j["state"] = EscalationStateName(g.state);
  j["by"] = g.state_by;
  j["note"] = g.state_note;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string EscalationGroupJson(const EscalationGroup& g) {
  nlohmann::ordered_json j;
  j["id"] = g.id;
  j["fingerprint"] = g.fingerprint;
  j["kind"] = EscalationKindName(g.kind);
  j["state"] = EscalationStateName(g.state);
  j["count"] = g.count;
  j["first_seen"] = base::FormatRfc3339Millis(g.first_seen_ms);
  j["last_seen"] = base::FormatRfc3339Millis(g.last_seen_ms);
  auto& shape = j["shape"] = nlohmann::ordered_json::object();
  for (const auto& [field, value] : g.shape) {
    shape[field] = value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
  }
  if (!g.state_by.empty()) {
    j["state_by"] = g.state_by;
    j["state_at"] = base::FormatRfc3339Millis(g.state_at_ms);
    j["state_note"] = g.state_note;
  }
  j["reopen_count"] = g.reopen_count;
  if (g.symptoms > 0) {
    j["root_cause"] = g.root_cause;
    j["symptoms"] = g.symptoms;
  }
  if (g.kind != EscalationKind::kUnknownEvent) {
    j["action"] = g.action;
    j["table"] = g.table;
    j["row"] = g.row;
    j["reason"] = g.reason;
  }
  if (!g.samples.empty()) {
    auto& samples = j["samples"] = nlohmann::ordered_json::array();
    for (const auto& s : g.samples) {
      nlohmann::ordered_json e;
      e["at"] = base::FormatRfc3339Millis(s.at_ms);
      e["truncated"] = s.truncated;
      nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(s.event, nullptr, false);
      if (parsed.is_discarded()) {
        e["event_text"] = s.event;
      } else {
        e["event"] = std::move(parsed);
      }
      samples.push_back(std::move(e));
    }
  }
  if (!g.history.empty()) {
    auto& history = j["history"] = nlohmann::ordered_json::array();
    for (const auto& h : g.history) {
      history.push_back({{"at", base::FormatRfc3339Millis(h.at_ms)},
                         {"state", EscalationStateName(h.state)},
                         {"by", h.by},
                         {"note", h.note}});
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct EscalationStore::Occurrence {
  EscalationKind kind = EscalationKind::kUnknownEvent;
  std::string fingerprint;
  std::string shape;  // JSON text
  std::string action, table, row, reason;
  std::string sample;  // empty: none
  bool sample_truncated = false;
  std::string event_id;   // unknown events: counted once within replay_window_ms
  bool resolved = false;  // unknown events: engine::IsResolved
};

EscalationStore::EscalationStore(sqlite3* db, EscalationOptions options,
                                 std::vector<engine::FieldPath> fields)
    : db_(db), options_(std::move(options)), fields_(std::move(fields)) {}

EscalationStore::~EscalationStore() { sqlite3_close_v2(db_); }

int EscalationStore::SynchronousLevel() const {
  base::MutexLock lock(mu_);
  return sqlite::SynchronousLevel(db_);
}

Result<std::unique_ptr<EscalationStore>> EscalationStore::Open(const std::string& path,
                                                               EscalationOptions options) {
  if (path.empty()) return engine::InvalidArgument("escalation store: empty database path");
  if (options.fingerprint_fields.empty()) {
    return engine::InvalidArgument("escalation store: fingerprint_fields is empty");
  }
  std::vector<engine::FieldPath> fields;
  for (const auto& f : options.fingerprint_fields) {
    auto p = engine::FieldPath::Parse(f);
    if (!p.ok()) {
      return engine::InvalidArgument("escalation store: fingerprint field '" + f +
                                     "': " + p.status().message());
    }
    fields.push_back(std::move(*p));
  }
  if (options.max_sample_bytes == 0) {
    return engine::InvalidArgument("escalation store: max_sample_bytes must be positive");
  }
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create_if_missing) {
    flags |= SQLITE_OPEN_CREATE;
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return Unavailable("escalation store: cannot create directory " + parent.string() + ": " +
                           ec.message());
      }
    }
  } else if (std::error_code ec; !std::filesystem::exists(path, ec)) {
    return Unavailable("escalation store: no database at " + path);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string m = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return Unavailable("escalation store: cannot open " + path + ": " + m);
  }
  std::unique_ptr<EscalationStore> store(
      new EscalationStore(db, std::move(options), std::move(fields)));
  sqlite3_busy_timeout(db, store->options_.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 0);
  {
    Stmt wal(db, "PRAGMA journal_mode=WAL");
    if (wal.Step() != SQLITE_ROW) return SqlError(db, "cannot open " + path);
    if (wal.Text(0) != "wal") {
      return Unavailable("escalation store: " + path + " cannot use WAL mode (journal mode " +
                         wal.Text(0) + ")");
    }
  }
  if (Status s = Exec(db, base::SqliteSynchronousPragma(store->options_.durability)); !s.ok()) {
    return s;
  }
  if (Status s = Exec(db, "PRAGMA foreign_keys=ON"); !s.ok()) return s;
  Transaction tx(db);
  if (Status s = tx.Begin(); !s.ok()) return s;
  if (Status s = Exec(db, kSchema); !s.ok()) return s;
  {
    Stmt ins(db, "INSERT OR IGNORE INTO escalation_meta(key, value) VALUES('schema_version', ?)");
    ins.Bind(1, std::to_string(kSchemaVersion));
    if (Status s = Run(db, ins, "schema version"); !s.ok()) return s;
    Stmt get(db, "SELECT value FROM escalation_meta WHERE key = 'schema_version'");
    if (get.Step() != SQLITE_ROW) return SqlError(db, "schema version");
    const int version = std::atoi(get.Text(0).c_str());
    if (version > kSchemaVersion) {
      return FailedPrecondition("escalation store: " + path + " has escalation schema version " +
                                get.Text(0) + ", newer than this reflex understands (" +
                                std::to_string(kSchemaVersion) + ")");
    }
    if (version < 2) {  // a store from before root-cause symptoms
      if (Status s = Exec(db,
                          "ALTER TABLE escalation_groups ADD COLUMN symptoms INTEGER NOT NULL "
                          "DEFAULT 0;"
                          "ALTER TABLE escalation_groups ADD COLUMN root_cause TEXT NOT NULL "
                          "DEFAULT '';"
                          "UPDATE escalation_meta SET value = '2' WHERE key = 'schema_version'");
          !s.ok()) {
        return s;
      }
    }
  }
  if (Status s = tx.Commit(); !s.ok()) return s;
  return store;
}

int64_t EscalationStore::NowMillis() const {
  if (options_.clock != nullptr) return options_.clock->NowMillis();
  return engine::SystemClock().NowMillis();
}

std::string EscalationStore::Fingerprint(const engine::Event& event) const {
  uint64_t h = base::Fnv1a64(EscalationKindName(EscalationKind::kUnknownEvent));
  for (const auto& f : fields_) {
    engine::FieldValue v = event.Get(f);
    std::string part = f.text();
    part.push_back('\0');
    if (v.missing()) {
      part.push_back('\x01');
    } else {
      part.push_back('=');
      part.append(v.text());
    }
    part.push_back('\0');
    h = base::Fnv1a64(part, h);
  }
  return Hex16(h);
}

EscalationStore::Occurrence EscalationStore::UnknownOccurrence(const engine::Event& ev) const {
  Occurrence o;
  o.kind = EscalationKind::kUnknownEvent;
  o.fingerprint = Fingerprint(ev);
  std::vector<std::pair<std::string, std::optional<std::string>>> shape;
  for (const auto& f : fields_) {
    engine::FieldValue v = ev.Get(f);
    shape.emplace_back(f.text(), v.missing() ? std::nullopt : std::optional<std::string>(v.text()));
  }
  o.shape = ShapeText(shape);
  std::string json = EventJson(ev);
  std::string_view cut = base::CutUtf8(json, options_.max_sample_bytes);
  o.sample_truncated = cut.size() < json.size();
  o.sample.assign(cut);
  // An id made from the bytes says nothing about redelivery: the same bytes sent again
  // are counted again (a sender repeating itself means it).
  if (!engine::IsDerivedEventId(ev.id)) o.event_id = ev.id;
  o.resolved = engine::IsResolved(ev);
  return o;
}

Result<RecordResult> EscalationStore::RecordUnknown(std::string_view event_json, int64_t now_ms) {
  engine::Event ev;
  if (Status s = ParseEvent(event_json, now_ms, &ev); !s.ok()) return s;
  return RecordUnknown(ev, now_ms);
}

Result<RecordResult> EscalationStore::RecordUnknown(const engine::Event& event, int64_t now_ms) {
  auto r = RecordAll({UnknownOccurrence(event)}, now_ms);
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

Result<std::vector<RecordResult>> EscalationStore::RecordUnknownBatch(
    const std::vector<std::string_view>& events_json, int64_t now_ms) {
  std::vector<Occurrence> batch;
  batch.reserve(events_json.size());
  engine::Event ev;
  for (size_t i = 0; i < events_json.size(); ++i) {
    if (Status s = ParseEvent(events_json[i], now_ms, &ev); !s.ok()) {
      return engine::InvalidArgument("event " + std::to_string(i) +
                                     " of the batch: " + s.message());
    }
    batch.push_back(UnknownOccurrence(ev));
  }
  return RecordAll(batch, now_ms);
}

Result<std::vector<RecordResult>> EscalationStore::RecordUnknownBatch(
    const std::vector<const engine::Event*>& events, int64_t now_ms) {
  std::vector<Occurrence> batch;
  batch.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i] == nullptr) {
      return engine::InvalidArgument("event " + std::to_string(i) + " of the batch is null");
    }
    batch.push_back(UnknownOccurrence(*events[i]));
  }
  return RecordAll(batch, now_ms);
}

Result<RecordResult> EscalationStore::RecordAction(const ActionEscalation& e, int64_t now_ms) {
  if (e.kind == EscalationKind::kUnknownEvent) {
    return engine::InvalidArgument("RecordAction: kind unknown_event is for RecordUnknown");
  }
  Occurrence o;
  o.kind = e.kind;
  std::vector<std::pair<std::string, std::optional<std::string>>> shape = {
      {"action", e.action}, {"table", e.table}, {"row", e.row}};
  o.shape = ShapeText(shape);
  std::string key(EscalationKindName(e.kind));
  for (const auto& [k, v] : shape) {
    key.push_back('\0');
    key += *v;
  }
  o.fingerprint = Hex16(base::Fnv1a64(key));
  o.action = e.action;
  o.table = e.table;
  o.row = e.row;
  o.reason = e.reason;
  if (!e.event_json.empty()) {
    std::string_view cut = base::CutUtf8(e.event_json, options_.max_sample_bytes);
    o.sample_truncated = cut.size() < e.event_json.size();
    o.sample.assign(cut);
  }
  auto r = RecordAll({o}, now_ms);
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

Result<std::vector<RecordResult>> EscalationStore::RecordAll(const std::vector<Occurrence>& batch,
                                                             int64_t now_ms) {
  std::vector<RecordResult> results;
  results.reserve(batch.size());
  base::MutexLock lock(mu_);
  Transaction tx(db_);
  if (Status s = tx.Begin(); !s.ok()) return s;
  for (const auto& o : batch) {
    auto r = RecordLocked(o, now_ms);
    if (!r.ok()) return r.status();
    results.push_back(std::move(*r));
  }
  if (Status s = tx.Commit(); !s.ok()) return s;
  return results;
}

Result<int64_t> EscalationStore::RecordSymptoms(const std::vector<SymptomOf>& symptoms,
                                                int64_t now_ms) {
  if (symptoms.empty()) return int64_t{0};
  base::MutexLock lock(mu_);
  Transaction tx(db_);
  if (Status s = tx.Begin(); !s.ok()) return s;
  int64_t counted = 0;
  for (const SymptomOf& x : symptoms) {
    if (x.root_event_id.empty()) continue;
    Stmt find(db_, "SELECT group_id FROM escalation_events WHERE event_id = ?");
    find.Bind(1, x.root_event_id);
    const int rc = find.Step();
    if (rc == SQLITE_DONE) continue;  // the root was not escalated (known), or long ago
    if (rc != SQLITE_ROW) return SqlError(db_, "find root event");
    const int64_t group = find.Int(0);
    if (!x.event_id.empty()) {
      // Once per symptom: a batch decided again after a crash does not count it twice.
      Stmt seen(db_,
                "INSERT OR IGNORE INTO escalation_events(event_id, group_id, at) "
                "VALUES(?, ?, ?)");
      seen.Bind(1, "symptom:" + x.event_id).Bind(2, group).Bind(3, now_ms);
      if (Status s = Run(db_, seen, "remember symptom"); !s.ok()) return s;
      if (sqlite3_changes(db_) == 0) continue;
    }
    Stmt up(db_,
            "UPDATE escalation_groups SET symptoms = symptoms + 1, root_cause = ? "
            "WHERE id = ?");
    up.Bind(1, x.root).Bind(2, group);
    if (Status s = Run(db_, up, "count symptom"); !s.ok()) return s;
    ++counted;
  }
  if (Status s = tx.Commit(); !s.ok()) return s;
  return counted;
}

Result<RecordResult> EscalationStore::RecordLocked(const Occurrence& o, int64_t now_ms) {
  RecordResult result;
  result.fingerprint = o.fingerprint;
  const bool remember = !o.event_id.empty() && options_.replay_window_ms > 0;
  if (remember) {
    // Seen before (and its group still there): a redelivery, not a new occurrence.
    Stmt seen(db_,
              "SELECT g.id, g.count FROM escalation_events e JOIN escalation_groups g "
              "ON g.id = e.group_id WHERE e.event_id = ? AND e.at >= ?");
    seen.Bind(1, o.event_id).Bind(2, now_ms - options_.replay_window_ms);
    const int rc = seen.Step();
    if (rc == SQLITE_ROW) {
      result.group_id = seen.Int(0);
      result.count = seen.Int(1);
      result.outcome = RecordOutcome::kReplayed;
      return result;
    }
    if (rc != SQLITE_DONE) return SqlError(db_, "find event id");
  }
  if (o.resolved) return ResolveLocked(o, now_ms, remember);
  bool add_sample = !o.sample.empty();
  bool trim_samples = false;
  Stmt find(db_, "SELECT id, count, state, last_seen FROM escalation_groups WHERE fingerprint = ?");
  find.Bind(1, o.fingerprint);
  int rc = find.Step();
  if (rc == SQLITE_DONE) {
    Stmt ins(db_,
             "INSERT INTO escalation_groups(fingerprint, kind, shape, count, first_seen, "
             "last_seen, state, action, rule_table, rule_row, reason) "
             "VALUES(?, ?, ?, 1, ?, ?, 'open', ?, ?, ?, ?)");
    ins.Bind(1, o.fingerprint)
        .Bind(2, EscalationKindName(o.kind))
        .Bind(3, o.shape)
        .Bind(4, now_ms)
        .Bind(5, now_ms)
        .Bind(6, o.action)
        .Bind(7, o.table)
        .Bind(8, o.row)
        .Bind(9, o.reason);
    if (Status s = Run(db_, ins, "insert group"); !s.ok()) return s;
    result.group_id = sqlite3_last_insert_rowid(db_);
    result.outcome = RecordOutcome::kNew;
    result.count = 1;
    result.notify = true;
    Stmt hist(db_,
              "INSERT INTO escalation_history(group_id, at, state, actor, note) "
              "VALUES(?, ?, 'open', ?, 'first seen')");
    hist.Bind(1, result.group_id).Bind(2, now_ms).Bind(3, kSystemActor);
    if (Status s = Run(db_, hist, "insert history"); !s.ok()) return s;
  } else if (rc == SQLITE_ROW) {
    result.group_id = find.Int(0);
    result.count = find.Int(1) + 1;
    const bool resolved = find.Text(2) == EscalationStateName(EscalationState::kResolved);
    result.outcome = resolved ? RecordOutcome::kReopened : RecordOutcome::kRepeat;
    // A repeat of an unknown event is never told again while its group is open; one of an
    // action escalation is, unless it comes within dedup_window_ms of the previous one.
    result.notify =
        resolved ||
        (o.kind != EscalationKind::kUnknownEvent &&
         (options_.dedup_window_ms <= 0 || now_ms - find.Int(3) >= options_.dedup_window_ms));
    Stmt upd(db_, resolved ? "UPDATE escalation_groups SET count = count + 1, "
                             "last_seen = max(last_seen, ?1), reason = ?2, state = 'open', "
                             "state_by = ?3, state_at = ?1, state_note = ?4, "
                             "reopen_count = reopen_count + 1 WHERE id = ?5"
                           : "UPDATE escalation_groups SET count = count + 1, "
                             "last_seen = max(last_seen, ?1), reason = ?2 WHERE id = ?5");
    upd.Bind(1, now_ms).Bind(2, o.reason).Bind(5, result.group_id);
    if (resolved) upd.Bind(3, kSystemActor).Bind(4, "reopened by a new occurrence");
    if (Status s = Run(db_, upd, "update group"); !s.ok()) return s;
    if (resolved) {
      Stmt hist(db_,
                "INSERT INTO escalation_history(group_id, at, state, actor, note) "
                "VALUES(?, ?, 'open', ?, 'reopened by a new occurrence')");
      hist.Bind(1, result.group_id).Bind(2, now_ms).Bind(3, kSystemActor);
      if (Status s = Run(db_, hist, "insert history"); !s.ok()) return s;
      trim_samples = true;  // a reopened group always gets a fresh sample
    } else if (add_sample) {
      Stmt n(db_, "SELECT count(*) FROM escalation_samples WHERE group_id = ?");
      n.Bind(1, result.group_id);
      if (n.Step() != SQLITE_ROW) return SqlError(db_, "count samples");
      add_sample = static_cast<size_t>(n.Int(0)) < options_.max_samples;
    }
  } else {
    return SqlError(db_, "find group");
  }
  if (add_sample && options_.max_samples > 0) {
    Stmt ins(db_,
             "INSERT INTO escalation_samples(group_id, at, event, truncated) VALUES(?, ?, ?, ?)");
    ins.Bind(1, result.group_id)
        .Bind(2, now_ms)
        .Bind(3, o.sample)
        .Bind(4, int64_t{o.sample_truncated ? 1 : 0});
    if (Status s = Run(db_, ins, "insert sample"); !s.ok()) return s;
    if (trim_samples) {
      Stmt trim(db_,
                "DELETE FROM escalation_samples WHERE group_id = ?1 AND id NOT IN "
                "(SELECT id FROM escalation_samples WHERE group_id = ?1 "
                "ORDER BY id DESC LIMIT ?2)");
      trim.Bind(1, result.group_id).Bind(2, static_cast<int64_t>(options_.max_samples));
      if (Status s = Run(db_, trim, "trim samples"); !s.ok()) return s;
    }
  }
  if (remember) {
    Stmt ins(db_,
             "INSERT OR REPLACE INTO escalation_events(event_id, group_id, at) VALUES(?, ?, ?)");
    ins.Bind(1, o.event_id).Bind(2, result.group_id).Bind(3, now_ms);
    if (Status s = Run(db_, ins, "remember event id"); !s.ok()) return s;
  }
  return result;
}

Result<RecordResult> EscalationStore::ResolveLocked(const Occurrence& o, int64_t now_ms,
                                                    bool remember) {
  RecordResult result;
  result.fingerprint = o.fingerprint;
  result.outcome = RecordOutcome::kNoOpenGroup;
  Stmt find(db_, "SELECT id, count, state FROM escalation_groups WHERE fingerprint = ?");
  find.Bind(1, o.fingerprint);
  const int rc = find.Step();
  if (rc == SQLITE_DONE) return result;  // nothing open for it: nothing to change
  if (rc != SQLITE_ROW) return SqlError(db_, "find group");
  result.group_id = find.Int(0);
  result.count = find.Int(1);
  if (find.Text(2) == EscalationStateName(EscalationState::kResolved)) return result;
  const std::string note = o.event_id.empty() ? std::string("resolved by a resolved event")
                                              : "resolved by a resolved event (" + o.event_id + ")";
  Stmt upd(db_,
           "UPDATE escalation_groups SET state = 'resolved', state_by = ?1, state_at = ?2, "
           "state_note = ?3, last_seen = max(last_seen, ?2) WHERE id = ?4");
  upd.Bind(1, kSystemActor).Bind(2, now_ms).Bind(3, note).Bind(4, result.group_id);
  if (Status s = Run(db_, upd, "resolve group"); !s.ok()) return s;
  Stmt hist(db_,
            "INSERT INTO escalation_history(group_id, at, state, actor, note) "
            "VALUES(?, ?, 'resolved', ?, ?)");
  hist.Bind(1, result.group_id).Bind(2, now_ms).Bind(3, kSystemActor).Bind(4, note);
  if (Status s = Run(db_, hist, "insert history"); !s.ok()) return s;
  if (remember) {
    Stmt ins(db_,
             "INSERT OR REPLACE INTO escalation_events(event_id, group_id, at) VALUES(?, ?, ?)");
    ins.Bind(1, o.event_id).Bind(2, result.group_id).Bind(3, now_ms);
    if (Status s = Run(db_, ins, "remember event id"); !s.ok()) return s;
  }
  result.outcome = RecordOutcome::kResolved;
  result.notify = true;
  return result;
}

Result<std::vector<EscalationGroup>> EscalationStore::List(const EscalationFilter& filter) const {
  std::string sql = std::string("SELECT ") + kGroupColumns +
                    " FROM escalation_groups WHERE (?1 IS NULL OR state = ?1) AND "
                    "(?2 IS NULL OR kind = ?2) AND (?4 = '' OR fingerprint = ?4) AND "
                    "(?5 = '' OR instr(shape, ?5) > 0) AND (?6 = 0 OR last_seen >= ?6) AND "
                    "(?7 = 0 OR last_seen < ?7) AND "
                    "(?8 IS NULL OR last_seen < ?8 OR (last_seen = ?8 AND id < ?9)) "
                    "ORDER BY last_seen DESC, id DESC LIMIT ?3";
  base::MutexLock lock(mu_);
  Stmt s(db_, sql.c_str());
  if (filter.state) {
    s.Bind(1, EscalationStateName(*filter.state));
  } else {
    s.BindNull(1);
  }
  if (filter.kind) {
    s.Bind(2, EscalationKindName(*filter.kind));
  } else {
    s.BindNull(2);
  }
  s.Bind(3, static_cast<int64_t>(std::min<size_t>(filter.limit, INT64_MAX)));
  s.Bind(4, filter.fingerprint).Bind(5, filter.shape_contains);
  s.Bind(6, filter.seen_since_ms).Bind(7, filter.seen_until_ms);
  if (filter.after) {
    s.Bind(8, filter.after->first).Bind(9, filter.after->second);
  } else {
    s.BindNull(8).BindNull(9);
  }
  std::vector<EscalationGroup> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadGroup(s));
  if (rc != SQLITE_DONE) return SqlError(db_, "list groups");
  return out;
}

Result<std::map<EscalationKind, int64_t>> EscalationStore::CountByKind(
    EscalationState state) const {
  std::map<EscalationKind, int64_t> out;
  for (const auto& [kind, name] : kEscalationKindNames.entries) out[kind] = 0;
  base::MutexLock lock(mu_);
  Stmt s(db_, "SELECT kind, COUNT(*) FROM escalation_groups WHERE state = ?1 GROUP BY kind");
  s.Bind(1, EscalationStateName(state));
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    if (auto kind = ParseEscalationKind(s.Text(0)); kind.ok()) out[*kind] = s.Int(1);
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "count groups");
  return out;
}

Result<EscalationGroup> EscalationStore::Get(int64_t id) const {
  std::string sql = std::string("SELECT ") + kGroupColumns + " FROM escalation_groups WHERE id = ?";
  base::MutexLock lock(mu_);
  // One read transaction: the group, its samples and its history agree.
  if (Status s = Exec(db_, "BEGIN"); !s.ok()) return s;
  struct EndRead {
    sqlite3* db;
    ~EndRead() { sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr); }
  } end_read{db_};
  Stmt g(db_, sql.c_str());
  g.Bind(1, id);
  int rc = g.Step();
  if (rc == SQLITE_DONE) return engine::NotFound("no escalation with id " + std::to_string(id));
  if (rc != SQLITE_ROW) return SqlError(db_, "get group");
  EscalationGroup group = ReadGroup(g);
  Stmt samples(db_,
               "SELECT at, event, truncated FROM escalation_samples WHERE group_id = ? "
               "ORDER BY id");
  samples.Bind(1, id);
  while ((rc = samples.Step()) == SQLITE_ROW) {
    group.samples.push_back({samples.Int(0), samples.Text(1), samples.Int(2) != 0});
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "read samples");
  Stmt hist(db_,
            "SELECT at, state, actor, note FROM escalation_history WHERE group_id = ? "
            "ORDER BY id");
  hist.Bind(1, id);
  while ((rc = hist.Step()) == SQLITE_ROW) {
    auto state = ParseEscalationState(hist.Text(1));
    group.history.push_back(
        {hist.Int(0), state.ok() ? *state : EscalationState::kOpen, hist.Text(2), hist.Text(3)});
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "read history");
  return group;
}

Status EscalationStore::Ack(int64_t id, std::string_view who, std::string_view note) {
  return Transition(id, EscalationState::kAcknowledged, who, note);
}

Status EscalationStore::Resolve(int64_t id, std::string_view who, std::string_view note) {
  return Transition(id, EscalationState::kResolved, who, note);
}

Status EscalationStore::Transition(int64_t id, EscalationState to, std::string_view who,
                                   std::string_view note) {
  const int64_t now_ms = NowMillis();
  base::MutexLock lock(mu_);
  Transaction tx(db_);
  if (Status s = tx.Begin(); !s.ok()) return s;
  Stmt find(db_, "SELECT state FROM escalation_groups WHERE id = ?");
  find.Bind(1, id);
  int rc = find.Step();
  if (rc == SQLITE_DONE) return engine::NotFound("no escalation with id " + std::to_string(id));
  if (rc != SQLITE_ROW) return SqlError(db_, "find group");
  auto from = ParseEscalationState(find.Text(0));
  if (!from.ok()) return engine::Internal("escalation " + std::to_string(id) + ": bad state");
  bool allowed = to == EscalationState::kAcknowledged ? *from == EscalationState::kOpen
                                                      : *from != EscalationState::kResolved;
  if (!allowed) {
    return FailedPrecondition(
        "escalation " + std::to_string(id) + " is " + std::string(EscalationStateName(*from)) +
        "; cannot " + (to == EscalationState::kAcknowledged ? "acknowledge" : "resolve") + " it");
  }
  Stmt upd(db_,
           "UPDATE escalation_groups SET state = ?, state_by = ?, state_at = ?, state_note = ? "
           "WHERE id = ?");
  upd.Bind(1, EscalationStateName(to)).Bind(2, who).Bind(3, now_ms).Bind(4, note).Bind(5, id);
  if (Status s = Run(db_, upd, "update state"); !s.ok()) return s;
  Stmt hist(db_,
            "INSERT INTO escalation_history(group_id, at, state, actor, note) "
            "VALUES(?, ?, ?, ?, ?)");
  hist.Bind(1, id).Bind(2, now_ms).Bind(3, EscalationStateName(to)).Bind(4, who).Bind(5, note);
  if (Status s = Run(db_, hist, "insert history"); !s.ok()) return s;
  return tx.Commit();
}

Result<EscalationPruneResult> EscalationStore::Prune(const EscalationRetention& r, int64_t now_ms) {
  if (r.batch <= 0) {
    return engine::InvalidArgument("escalation store: retention batch must be positive");
  }
  EscalationPruneResult result;
  // Deletes one batch of the groups `select` names (?1, ?2 bound), samples and history
  // first so the sample count is exact; returns the groups deleted.
  auto delete_groups = [&](const std::string& select, int64_t arg,
                           int64_t limit) -> Result<int64_t> {
    base::MutexLock lock(mu_);
    Transaction tx(db_);
    if (Status s = tx.Begin(); !s.ok()) return s;
    const std::string in = " WHERE group_id IN (" + select + ")";
    Stmt samples(db_, ("DELETE FROM escalation_samples" + in).c_str());
    samples.Bind(1, arg).Bind(2, limit);
    if (Status s = Run(db_, samples, "prune samples"); !s.ok()) return s;
    result.samples_deleted += sqlite3_changes(db_);
    Stmt hist(db_, ("DELETE FROM escalation_history" + in).c_str());
    hist.Bind(1, arg).Bind(2, limit);
    if (Status s = Run(db_, hist, "prune history"); !s.ok()) return s;
    Stmt groups(db_, ("DELETE FROM escalation_groups WHERE id IN (" + select + ")").c_str());
    groups.Bind(1, arg).Bind(2, limit);
    if (Status s = Run(db_, groups, "prune groups"); !s.ok()) return s;
    const int64_t n = sqlite3_changes(db_);
    if (Status s = tx.Commit(); !s.ok()) return s;
    return n;
  };
  if (r.max_age_ms > 0) {
    const int64_t cutoff = now_ms - r.max_age_ms;
    const std::string old_resolved =
        "SELECT id FROM escalation_groups WHERE state = 'resolved' AND "
        "max(last_seen, state_at) < ?1 ORDER BY last_seen, id LIMIT ?2";
    while (true) {  // bounded: each round deletes a full batch or ends the loop
      auto n = delete_groups(old_resolved, cutoff, r.batch);
      if (!n.ok()) return n.status();
      result.groups_deleted += *n;
      if (*n < r.batch) break;
    }
    while (true) {
      base::MutexLock lock(mu_);
      Stmt old(db_,
               "DELETE FROM escalation_samples WHERE id IN (SELECT id FROM escalation_samples "
               "WHERE at < ?1 ORDER BY id LIMIT ?2)");
      old.Bind(1, cutoff).Bind(2, int64_t{r.batch});
      if (Status s = Run(db_, old, "prune old samples"); !s.ok()) return s;
      const int64_t n = sqlite3_changes(db_);
      result.samples_deleted += n;
      if (n < r.batch) break;
    }
  }
  // Event ids older than the replay window are forgotten (bounded: a full batch or the end).
  while (options_.replay_window_ms > 0) {
    base::MutexLock lock(mu_);
    Stmt old(db_,
             "DELETE FROM escalation_events WHERE event_id IN (SELECT event_id FROM "
             "escalation_events WHERE at < ?1 LIMIT ?2)");
    old.Bind(1, now_ms - options_.replay_window_ms).Bind(2, int64_t{r.batch});
    if (Status s = Run(db_, old, "forget event ids"); !s.ok()) return s;
    const int64_t n = sqlite3_changes(db_);
    result.event_ids_deleted += n;
    if (n < r.batch) break;
  }
  auto count = [&](const char* sql) -> Result<int64_t> {
    base::MutexLock lock(mu_);
    Stmt s(db_, sql);
    if (s.Step() != SQLITE_ROW) return SqlError(db_, "prune count");
    return s.Int(0);
  };
  auto groups = count("SELECT count(*) FROM escalation_groups");
  if (!groups.ok()) return groups.status();
  if (r.max_groups > 0) {
    int64_t excess = *groups - r.max_groups;
    // Resolved first, then least recently seen. ?1 is unused (bound for a common shape).
    const std::string oldest =
        "SELECT id FROM escalation_groups WHERE ?1 = ?1 ORDER BY state = 'resolved' DESC, "
        "last_seen, id LIMIT ?2";
    while (excess > 0) {
      auto n = delete_groups(oldest, 0, std::min<int64_t>(excess, r.batch));
      if (!n.ok()) return n.status();
      result.groups_deleted += *n;
      excess -= *n;
      if (*n == 0) break;
    }
    groups = count("SELECT count(*) FROM escalation_groups");
    if (!groups.ok()) return groups.status();
  }
  result.groups_kept = *groups;
  auto samples = count("SELECT count(*) FROM escalation_samples");
  if (!samples.ok()) return samples.status();
  result.samples_kept = *samples;
  return result;
}

}  // namespace reflex::actions
