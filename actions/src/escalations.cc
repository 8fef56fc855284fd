// EscalationStore on the store layer (sql.h): one connection, a mutex, one transaction per
// call; an occurrence is one upsert of its group (keyed by the fingerprint), so replicas
// sharing a PostgreSQL database count into one group.
#include "reflex/actions/escalations.h"

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "migrate.h"
#include "reflex/base/hash.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/engine/matcher.h"
#include "sql.h"

namespace reflex::actions {
namespace {

using engine::FailedPrecondition;
using engine::Result;
using engine::Status;
using engine::StatusCode;
using engine::Unavailable;

constexpr const char* kStore = "escalation store";
// The component of schema_migrations whose versions are this store's.
constexpr std::string_view kComponent = "escalations";
constexpr const char* kSystemActor = "reflex";

// Appends one line to a group's history (escalation_history), in the caller's transaction.
Status AddHistory(sql::Database& db, int64_t group_id, int64_t at_ms, std::string_view state,
                  std::string_view actor, std::string_view note) {
  return db
      .Exec(
          "INSERT INTO escalation_history(group_id, at, state, actor, note) "
          "VALUES($1, $2, $3, $4, $5)",
          group_id, at_ms, state, actor, note)
      .status();
}

// Version 1 is the SQLite schema as it was before versioning (the second layout, with the
// symptom columns), written with IF NOT EXISTS so that it applies over a file of that time
// and keeps its rows. A file of the first layout (escalation_meta schema_version 1) gets the
// symptom columns before the migrations run (EscalationStore::Init). escalation_meta stays
// for a reflex of before versioning that opens the file.
constexpr std::string_view kSqliteV1 = R"sql(
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
INSERT OR IGNORE INTO escalation_meta(key, value) VALUES('schema_version', '2');
)sql";

constexpr std::string_view kPostgresV1 = R"sql(
CREATE TABLE escalation_groups(
  id BIGSERIAL PRIMARY KEY,
  fingerprint TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  shape TEXT NOT NULL,
  count BIGINT NOT NULL,
  first_seen BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  state TEXT NOT NULL,
  state_by TEXT NOT NULL DEFAULT '',
  state_at BIGINT NOT NULL DEFAULT 0,
  state_note TEXT NOT NULL DEFAULT '',
  reopen_count BIGINT NOT NULL DEFAULT 0,
  action TEXT NOT NULL DEFAULT '',
  rule_table TEXT NOT NULL DEFAULT '',
  rule_row TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  symptoms BIGINT NOT NULL DEFAULT 0,
  root_cause TEXT NOT NULL DEFAULT '');
CREATE INDEX escalation_groups_state ON escalation_groups(state, last_seen);
CREATE TABLE escalation_samples(
  id BIGSERIAL PRIMARY KEY,
  group_id BIGINT NOT NULL REFERENCES escalation_groups(id) ON DELETE CASCADE,
  at BIGINT NOT NULL,
  event TEXT NOT NULL,
  truncated BIGINT NOT NULL DEFAULT 0);
CREATE INDEX escalation_samples_group ON escalation_samples(group_id, id);
CREATE TABLE escalation_history(
  id BIGSERIAL PRIMARY KEY,
  group_id BIGINT NOT NULL REFERENCES escalation_groups(id) ON DELETE CASCADE,
  at BIGINT NOT NULL,
  state TEXT NOT NULL,
  actor TEXT NOT NULL,
  note TEXT NOT NULL);
CREATE INDEX escalation_history_group ON escalation_history(group_id, id);
CREATE TABLE escalation_events(
  event_id TEXT PRIMARY KEY,
  group_id BIGINT NOT NULL,
  at BIGINT NOT NULL);
CREATE INDEX escalation_events_at ON escalation_events(at);
)sql";

// Append only: a released migration is never changed (migrate.h).
constexpr sql::Migration kMigrations[] = {
    {1, "escalation groups, samples, history and remembered event ids", kSqliteV1, kPostgresV1},
};

// The later of a column and a parameter, in SQL both databases take.
std::string Later(std::string_view column, std::string_view param) {
  return "CASE WHEN " + std::string(column) + " > " + std::string(param) + " THEN " +
         std::string(column) + " ELSE " + std::string(param) + " END";
}

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

EscalationGroup ReadGroup(const sql::Rows& rows, int r) {
  EscalationGroup g;
  g.id = rows.Int(r, 0);
  g.fingerprint = rows.Text(r, 1);
  auto kind = ParseEscalationKind(rows.Text(r, 2));
  g.kind = kind.ok() ? *kind : EscalationKind::kUnknownEvent;
  g.shape = ParseShape(rows.Text(r, 3));
  g.count = rows.Int(r, 4);
  g.first_seen_ms = rows.Int(r, 5);
  g.last_seen_ms = rows.Int(r, 6);
  auto state = ParseEscalationState(rows.Text(r, 7));
  g.state = state.ok() ? *state : EscalationState::kOpen;
  g.state_by = rows.Text(r, 8);
  g.state_at_ms = rows.Int(r, 9);
  g.state_note = rows.Text(r, 10);
  g.reopen_count = rows.Int(r, 11);
  g.action = rows.Text(r, 12);
  g.table = rows.Text(r, 13);
  g.row = rows.Text(r, 14);
  g.reason = rows.Text(r, 15);
  g.symptoms = rows.Int(r, 16);
  g.root_cause = rows.Text(r, 17);
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

EscalationStore::EscalationStore(std::unique_ptr<sql::Database> db, EscalationOptions options,
                                 std::vector<engine::FieldPath> fields)
    : db_(std::move(db)), options_(std::move(options)), fields_(std::move(fields)) {}

EscalationStore::~EscalationStore() = default;

int EscalationStore::SynchronousLevel() const {
  base::MutexLock lock(mu_);
  if (db_->dialect() != sql::Dialect::kSqlite) return -1;
  auto r = db_->Exec("PRAGMA synchronous");
  if (!r.ok() || r->empty()) return -1;
  return static_cast<int>(r->Int(0, 0));
}

Result<std::unique_ptr<EscalationStore>> EscalationStore::Open(const std::string& path,
                                                               EscalationOptions options) {
  return Open(base::StoreConfig{}, path, std::move(options));
}

Result<std::unique_ptr<EscalationStore>> EscalationStore::Open(const base::StoreConfig& store,
                                                               const std::string& sqlite_path,
                                                               EscalationOptions options) {
  const bool sqlite = store.kind != base::StoreKind::kPostgresql;
  if (sqlite && sqlite_path.empty()) {
    return engine::InvalidArgument("escalation store: empty database path");
  }
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
  if (sqlite && !options.create_if_missing) {
    if (std::error_code ec; !std::filesystem::exists(sqlite_path, ec)) {
      return Unavailable("escalation store: no database at " + sqlite_path);
    }
  }
  auto db = sql::Open(store, sql::SqliteFor(sqlite_path, kStore, options));
  // A SQLite file that cannot be used is named in the message.
  auto named = [&](const Status& s) {
    if (!sqlite || s.message().find(sqlite_path) != std::string::npos) return s;
    return Status(s.code(), s.message() + " (" + sqlite_path + ")");
  };
  if (!db.ok()) return named(db.status());
  std::unique_ptr<EscalationStore> out(
      new EscalationStore(std::move(*db), std::move(options), std::move(fields)));
  if (Status s = out->Init(); !s.ok()) return named(s);
  return out;
}

Status EscalationStore::Init() {
  base::MutexLock lock(mu_);
  sql::Database& db = *db_;
  if (db.dialect() == sql::Dialect::kSqlite) {
    // Deletes of groups cascade to their samples and history as they always did.
    if (Status s = db.ExecScript("PRAGMA foreign_keys=ON"); !s.ok()) return s;
    // A file of the first layout (before root-cause symptoms) gets the symptom columns, so
    // that every file is at version 1's schema when the migrations run.
    sql::Transaction tx(db);
    if (Status s = tx.Begin(); !s.ok()) return s;
    auto cols = db.Exec(
        "SELECT (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
        "name = 'escalation_groups'), "
        "(SELECT COUNT(*) FROM pragma_table_info('escalation_groups') WHERE name = 'symptoms'), "
        "(SELECT COUNT(*) FROM pragma_table_info('escalation_groups') WHERE name = "
        "'root_cause')");
    if (!cols.ok()) return cols.status();
    if (cols->Int(0, 0) > 0) {
      if (cols->Int(0, 1) == 0) {
        if (Status s = db.ExecScript(
                "ALTER TABLE escalation_groups ADD COLUMN symptoms INTEGER NOT NULL DEFAULT 0");
            !s.ok()) {
          return s;
        }
      }
      if (cols->Int(0, 2) == 0) {
        if (Status s = db.ExecScript(
                "ALTER TABLE escalation_groups ADD COLUMN root_cause TEXT NOT NULL DEFAULT ''");
            !s.ok()) {
          return s;
        }
      }
      if (Status s = db.ExecScript(
              "CREATE TABLE IF NOT EXISTS escalation_meta(key TEXT PRIMARY KEY, value TEXT NOT "
              "NULL); INSERT OR REPLACE INTO escalation_meta(key, value) "
              "VALUES('schema_version', '2')");
          !s.ok()) {
        return s;
      }
    }
    if (Status s = tx.Commit(); !s.ok()) return s;
  }
  if (auto v = sql::Migrate(db, kComponent, kMigrations); !v.ok()) return v.status();
  return Status::Ok();
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
  // Groups are written in fingerprint order (an occurrence's order kept within its
  // fingerprint), so that two replicas writing overlapping batches take the groups' row locks
  // in one order and never deadlock on PostgreSQL. Results stay in input order.
  std::vector<size_t> order(batch.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return batch[x].fingerprint < batch[y].fingerprint; });
  std::vector<RecordResult> results(batch.size());
  base::MutexLock lock(mu_);
  sql::Transaction tx(*db_);
  if (Status s = tx.Begin(); !s.ok()) return s;
  for (size_t i : order) {
    auto r = RecordLocked(batch[i], now_ms);
    if (!r.ok()) return r.status();
    results[i] = std::move(*r);
  }
  if (Status s = tx.Commit(); !s.ok()) return s;
  return results;
}

Result<int64_t> EscalationStore::RecordSymptoms(const std::vector<SymptomOf>& symptoms,
                                                int64_t now_ms) {
  if (symptoms.empty()) return int64_t{0};
  base::MutexLock lock(mu_);
  sql::Database& db = *db_;
  sql::Transaction tx(db);
  if (Status s = tx.Begin(); !s.ok()) return s;
  int64_t counted = 0;
  for (const SymptomOf& x : symptoms) {
    if (x.root_event_id.empty()) continue;
    auto find =
        db.Exec("SELECT group_id FROM escalation_events WHERE event_id = $1", x.root_event_id);
    if (!find.ok()) return find.status();
    if (find->empty()) continue;  // the root was not escalated (known), or long ago
    const int64_t group = find->Int(0, 0);
    if (!x.event_id.empty()) {
      // Once per symptom: a batch decided again after a crash (or by another replica) does
      // not count it twice.
      auto seen = db.Exec(
          "INSERT INTO escalation_events(event_id, group_id, at) VALUES($1, $2, $3) "
          "ON CONFLICT(event_id) DO NOTHING RETURNING group_id",
          "symptom:" + x.event_id, group, now_ms);
      if (!seen.ok()) return seen.status();
      if (seen->empty()) continue;
    }
    auto up = db.Exec(
        "UPDATE escalation_groups SET symptoms = symptoms + 1, root_cause = $1 WHERE id = $2",
        x.root, group);
    if (!up.ok()) return up.status();
    ++counted;
  }
  if (Status s = tx.Commit(); !s.ok()) return s;
  return counted;
}

Status EscalationStore::AddSampleLocked(const Occurrence& o, int64_t group_id, int64_t now_ms,
                                        bool trim) {
  if (o.sample.empty() || options_.max_samples == 0) return Status::Ok();
  sql::Database& db = *db_;
  const auto max = static_cast<int64_t>(options_.max_samples);
  // Kept while the group has fewer than max_samples; with `trim` (a reopened group) always,
  // the oldest going. The group's row is locked by this transaction, so the count is exact.
  auto ins = db.Exec(
      "INSERT INTO escalation_samples(group_id, at, event, truncated) "
      "SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS TEXT), CAST($4 AS BIGINT) "
      "WHERE CAST($5 AS BIGINT) = 1 OR "
      "(SELECT COUNT(*) FROM escalation_samples WHERE group_id = $1) < CAST($6 AS BIGINT)",
      group_id, now_ms, o.sample, o.sample_truncated ? 1 : 0, trim ? 1 : 0, max);
  if (!ins.ok()) return ins.status();
  if (trim) {
    auto del = db.Exec(
        "DELETE FROM escalation_samples WHERE group_id = $1 AND id NOT IN "
        "(SELECT id FROM escalation_samples WHERE group_id = $1 ORDER BY id DESC LIMIT $2)",
        group_id, max);
    if (!del.ok()) return del.status();
  }
  return Status::Ok();
}

Result<RecordResult> EscalationStore::RecordLocked(const Occurrence& o, int64_t now_ms) {
  sql::Database& db = *db_;
  RecordResult result;
  result.fingerprint = o.fingerprint;
  const bool remember = !o.event_id.empty() && options_.replay_window_ms > 0;
  // The group the event id was claimed with (its fingerprint's group when there was one).
  int64_t claimed_group = 0;
  if (remember) {
    // Claims the id: inserted, or taken over when it was remembered longer ago than the
    // window. A replica recording the same id at once waits here for this transaction.
    const int64_t cutoff = now_ms - options_.replay_window_ms;
    auto claim = db.Exec(
        "INSERT INTO escalation_events(event_id, group_id, at) VALUES($1, "
        "COALESCE((SELECT id FROM escalation_groups WHERE fingerprint = $2), 0), $3) "
        "ON CONFLICT(event_id) DO UPDATE SET group_id = excluded.group_id, at = excluded.at "
        "WHERE escalation_events.at < $4 RETURNING group_id",
        o.event_id, o.fingerprint, now_ms, cutoff);
    if (!claim.ok()) return claim.status();
    if (claim->empty()) {
      // Seen within the window: a redelivery, not a new occurrence, while its group is there.
      auto seen = db.Exec(
          "SELECT g.id, g.count FROM escalation_events e JOIN escalation_groups g "
          "ON g.id = e.group_id WHERE e.event_id = $1",
          o.event_id);
      if (!seen.ok()) return seen.status();
      if (!seen->empty()) {
        result.group_id = seen->Int(0, 0);
        result.count = seen->Int(0, 1);
        result.outcome = RecordOutcome::kReplayed;
        return result;
      }
      // Its group was deleted since (retention): the id counts again.
      auto take = db.Exec(
          "UPDATE escalation_events SET group_id = "
          "COALESCE((SELECT id FROM escalation_groups WHERE fingerprint = $2), 0), at = $3 "
          "WHERE event_id = $1 RETURNING group_id",
          o.event_id, o.fingerprint, now_ms);
      if (!take.ok()) return take.status();
      if (!take->empty()) claimed_group = take->Int(0, 0);
    } else {
      claimed_group = claim->Int(0, 0);
    }
  }
  if (o.resolved) {
    auto r = ResolveLocked(o, now_ms);
    if (!r.ok() || !remember) return r;
    // A resolved event that changed nothing is not remembered; one that did, is.
    Result<sql::Rows> fix = sql::Rows();
    if (r->outcome != RecordOutcome::kResolved) {
      fix = db.Exec("DELETE FROM escalation_events WHERE event_id = $1", o.event_id);
    } else if (r->group_id != claimed_group) {
      fix = db.Exec("UPDATE escalation_events SET group_id = $1 WHERE event_id = $2", r->group_id,
                    o.event_id);
    }
    if (!fix.ok()) return fix.status();
    return r;
  }

  // Action escalations re-notify outside dedup_window_ms of the previous occurrence: that
  // one's time is read first, the row locked on PostgreSQL until this transaction ends.
  const bool dedup = o.kind != EscalationKind::kUnknownEvent && options_.dedup_window_ms > 0;
  int64_t previous_seen = now_ms;  // none seen (yet): another replica is creating it now
  if (dedup) {
    const std::string lock_row = db.dialect() == sql::Dialect::kPostgresql ? " FOR UPDATE" : "";
    auto prev = db.Exec("SELECT last_seen FROM escalation_groups WHERE fingerprint = $1" + lock_row,
                        o.fingerprint);
    if (!prev.ok()) return prev.status();
    if (!prev->empty()) previous_seen = prev->Int(0, 0);
  }

  // One statement counts the occurrence: a new group, or one more in the open (or
  // acknowledged) group of the fingerprint. A resolved group is left to the reopening below.
  bool counted = false;
  for (int attempt = 0; attempt < 3 && !counted; ++attempt) {
    auto up = db.Exec(
        "INSERT INTO escalation_groups(fingerprint, kind, shape, count, first_seen, last_seen, "
        "state, action, rule_table, rule_row, reason) "
        "VALUES($1, $2, $3, 1, $4, $4, 'open', $5, $6, $7, $8) "
        "ON CONFLICT(fingerprint) DO UPDATE SET count = escalation_groups.count + 1, "
        "last_seen = " +
            Later("escalation_groups.last_seen", "excluded.last_seen") +
            ", reason = excluded.reason WHERE escalation_groups.state <> 'resolved' "
            "RETURNING id, count",
        o.fingerprint, EscalationKindName(o.kind), o.shape, now_ms, o.action, o.table, o.row,
        o.reason);
    if (!up.ok()) return up.status();
    if (!up->empty()) {
      counted = true;
      result.group_id = up->Int(0, 0);
      result.count = up->Int(0, 1);
      if (result.count == 1) {  // inserted: an update makes 2 or more
        result.outcome = RecordOutcome::kNew;
        result.notify = true;
        if (Status s = AddHistory(db, result.group_id, now_ms, "open", kSystemActor, "first seen");
            !s.ok()) {
          return s;
        }
        if (Status s = AddSampleLocked(o, result.group_id, now_ms, false); !s.ok()) return s;
      } else {
        result.outcome = RecordOutcome::kRepeat;
        // A repeat of an unknown event is never told again while its group is open; one of
        // an action escalation is, unless it comes within dedup_window_ms of the previous one.
        result.notify = o.kind != EscalationKind::kUnknownEvent &&
                        (!dedup || now_ms - previous_seen >= options_.dedup_window_ms);
        if (Status s = AddSampleLocked(o, result.group_id, now_ms, false); !s.ok()) return s;
      }
      break;
    }
    // The group is resolved: this firing occurrence opens it again (the count continues).
    auto re = db.Exec(
        "UPDATE escalation_groups SET count = count + 1, last_seen = " + Later("last_seen", "$1") +
            ", reason = $2, state = 'open', state_by = $3, state_at = $1, "
            "state_note = 'reopened by a new occurrence', "
            "reopen_count = reopen_count + 1 "
            "WHERE fingerprint = $4 AND state = 'resolved' RETURNING id, count",
        now_ms, o.reason, kSystemActor, o.fingerprint);
    if (!re.ok()) return re.status();
    if (re->empty()) continue;  // opened (or deleted) by another replica meanwhile: again
    counted = true;
    result.group_id = re->Int(0, 0);
    result.count = re->Int(0, 1);
    result.outcome = RecordOutcome::kReopened;
    result.notify = true;
    if (Status s = AddHistory(db, result.group_id, now_ms, "open", kSystemActor,
                              "reopened by a new occurrence");
        !s.ok()) {
      return s;
    }
    // A reopened group always gets a fresh sample.
    if (Status s = AddSampleLocked(o, result.group_id, now_ms, true); !s.ok()) return s;
  }
  if (!counted) {
    return Unavailable("escalation store: the group of " + o.fingerprint +
                       " kept changing under this occurrence; try again");
  }
  if (remember && claimed_group != result.group_id) {
    auto fix = db.Exec("UPDATE escalation_events SET group_id = $1 WHERE event_id = $2",
                       result.group_id, o.event_id);
    if (!fix.ok()) return fix.status();
  }
  return result;
}

Result<RecordResult> EscalationStore::ResolveLocked(const Occurrence& o, int64_t now_ms) {
  sql::Database& db = *db_;
  RecordResult result;
  result.fingerprint = o.fingerprint;
  result.outcome = RecordOutcome::kNoOpenGroup;
  const std::string note = o.event_id.empty() ? std::string("resolved by a resolved event")
                                              : "resolved by a resolved event (" + o.event_id + ")";
  auto upd = db.Exec(
      "UPDATE escalation_groups SET state = 'resolved', state_by = $1, "
      "state_at = $2, state_note = $3, last_seen = " +
          Later("last_seen", "$2") +
          " WHERE fingerprint = $4 AND state <> 'resolved' RETURNING id, count",
      kSystemActor, now_ms, note, o.fingerprint);
  if (!upd.ok()) return upd.status();
  if (upd->empty()) {  // resolved already, or none: nothing to change
    auto find =
        db.Exec("SELECT id, count FROM escalation_groups WHERE fingerprint = $1", o.fingerprint);
    if (!find.ok()) return find.status();
    if (!find->empty()) {
      result.group_id = find->Int(0, 0);
      result.count = find->Int(0, 1);
    }
    return result;
  }
  result.group_id = upd->Int(0, 0);
  result.count = upd->Int(0, 1);
  if (Status s = AddHistory(db, result.group_id, now_ms, "resolved", kSystemActor, note); !s.ok()) {
    return s;
  }
  result.outcome = RecordOutcome::kResolved;
  result.notify = true;
  return result;
}

Result<std::vector<EscalationGroup>> EscalationStore::List(const EscalationFilter& filter) const {
  base::MutexLock lock(mu_);
  sql::Database& db = *db_;
  const char* contains = db.dialect() == sql::Dialect::kPostgresql ? "strpos" : "instr";
  std::string sql = std::string("SELECT ") + kGroupColumns +
                    " FROM escalation_groups WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) AND "
                    "(CAST($2 AS TEXT) IS NULL OR kind = $2) AND "
                    "(CAST($4 AS TEXT) = '' OR fingerprint = $4) AND "
                    "(CAST($5 AS TEXT) = '' OR " +
                    contains +
                    "(shape, $5) > 0) AND "
                    "(CAST($6 AS BIGINT) = 0 OR last_seen >= $6) AND "
                    "(CAST($7 AS BIGINT) = 0 OR last_seen < $7) AND "
                    "(CAST($8 AS BIGINT) IS NULL OR last_seen < $8 OR "
                    "(last_seen = $8 AND id < CAST($9 AS BIGINT))) "
                    "ORDER BY last_seen DESC, id DESC LIMIT $3";
  const sql::Param params[] = {
      filter.state ? sql::Param(EscalationStateName(*filter.state)) : sql::Param(sql::kNull),
      filter.kind ? sql::Param(EscalationKindName(*filter.kind)) : sql::Param(sql::kNull),
      static_cast<int64_t>(std::min<size_t>(filter.limit, INT64_MAX)),
      filter.fingerprint,
      filter.shape_contains,
      filter.seen_since_ms,
      filter.seen_until_ms,
      filter.after ? sql::Param(filter.after->first) : sql::Param(sql::kNull),
      filter.after ? sql::Param(filter.after->second) : sql::Param(sql::kNull),
  };
  auto rows = db.ExecParams(sql, params);
  if (!rows.ok()) return rows.status();
  std::vector<EscalationGroup> out;
  out.reserve(static_cast<size_t>(rows->size()));
  for (int r = 0; r < rows->size(); ++r) out.push_back(ReadGroup(*rows, r));
  return out;
}

Result<std::map<EscalationKind, int64_t>> EscalationStore::CountByKind(
    EscalationState state) const {
  std::map<EscalationKind, int64_t> out;
  for (const auto& [kind, name] : kEscalationKindNames.entries) out[kind] = 0;
  base::MutexLock lock(mu_);
  auto rows =
      db_->Exec("SELECT kind, COUNT(*) FROM escalation_groups WHERE state = $1 GROUP BY kind",
                EscalationStateName(state));
  if (!rows.ok()) return rows.status();
  for (int r = 0; r < rows->size(); ++r) {
    if (auto kind = ParseEscalationKind(rows->Text(r, 0)); kind.ok()) out[*kind] = rows->Int(r, 1);
  }
  return out;
}

Result<EscalationGroup> EscalationStore::Get(int64_t id) const {
  std::string sql =
      std::string("SELECT ") + kGroupColumns + " FROM escalation_groups WHERE id = $1";
  base::MutexLock lock(mu_);
  sql::Database& db = *db_;
  // On SQLite one read transaction: the group, its samples and its history agree. (On
  // PostgreSQL each read sees what was committed when it ran; a sample recorded in between
  // may show.)
  const bool read_tx = db.dialect() == sql::Dialect::kSqlite;
  if (read_tx) {
    if (Status s = db.ExecScript("BEGIN"); !s.ok()) return s;
  }
  struct EndRead {
    sql::Database* db;
    ~EndRead() {
      if (db != nullptr) (void)db->ExecScript("COMMIT");
    }
  } end_read{read_tx ? &db : nullptr};
  auto g = db.Exec(sql, id);
  if (!g.ok()) return g.status();
  if (g->empty()) return engine::NotFound("no escalation with id " + std::to_string(id));
  EscalationGroup group = ReadGroup(*g, 0);
  auto samples = db.Exec(
      "SELECT at, event, truncated FROM escalation_samples WHERE group_id = $1 ORDER BY id", id);
  if (!samples.ok()) return samples.status();
  for (int r = 0; r < samples->size(); ++r) {
    group.samples.push_back({samples->Int(r, 0), samples->Text(r, 1), samples->Int(r, 2) != 0});
  }
  auto hist = db.Exec(
      "SELECT at, state, actor, note FROM escalation_history WHERE group_id = $1 ORDER BY id", id);
  if (!hist.ok()) return hist.status();
  for (int r = 0; r < hist->size(); ++r) {
    auto state = ParseEscalationState(hist->Text(r, 1));
    group.history.push_back({hist->Int(r, 0), state.ok() ? *state : EscalationState::kOpen,
                             hist->Text(r, 2), hist->Text(r, 3)});
  }
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
  sql::Database& db = *db_;
  sql::Transaction tx(db);
  if (Status s = tx.Begin(); !s.ok()) return s;
  // The state changes only from the states that allow it, in one statement (another
  // replica's change in between is seen, not overwritten).
  const char* from_allowed =
      to == EscalationState::kAcknowledged ? "state = 'open'" : "state <> 'resolved'";
  auto upd = db.Exec(std::string("UPDATE escalation_groups SET state = $1, state_by = $2, "
                                 "state_at = $3, state_note = $4 WHERE id = $5 AND ") +
                         from_allowed + " RETURNING id",
                     EscalationStateName(to), who, now_ms, note, id);
  if (!upd.ok()) return upd.status();
  if (upd->empty()) {
    auto find = db.Exec("SELECT state FROM escalation_groups WHERE id = $1", id);
    if (!find.ok()) return find.status();
    if (find->empty()) return engine::NotFound("no escalation with id " + std::to_string(id));
    const std::string from = find->Text(0, 0);
    return FailedPrecondition("escalation " + std::to_string(id) + " is " + from + "; cannot " +
                              (to == EscalationState::kAcknowledged ? "acknowledge" : "resolve") +
                              " it");
  }
  if (Status s = AddHistory(db, id, now_ms, EscalationStateName(to), who, note); !s.ok()) {
    return s;
  }
  return tx.Commit();
}

Result<EscalationPruneResult> EscalationStore::Prune(const EscalationRetention& r, int64_t now_ms) {
  if (r.batch <= 0) {
    return engine::InvalidArgument("escalation store: retention batch must be positive");
  }
  EscalationPruneResult result;
  // Deletes one batch of the groups `select` names (with `params`), samples and history
  // first so the sample count is exact; returns the groups deleted. The groups are chosen and
  // locked first (FOR UPDATE on PostgreSQL, where the choice is checked again against a row
  // another replica changed meanwhile: a group reopened since is not deleted).
  auto delete_groups = [&](const std::string& select,
                           const std::vector<sql::Param>& params) -> Result<int64_t> {
    base::MutexLock lock(mu_);
    sql::Database& db = *db_;
    sql::Transaction tx(db);
    if (Status s = tx.Begin(); !s.ok()) return s;
    const bool pg = db.dialect() == sql::Dialect::kPostgresql;
    auto chosen = db.ExecParams(select + (pg ? " FOR UPDATE" : ""), params);
    if (!chosen.ok()) return chosen.status();
    if (chosen->empty()) return int64_t{0};
    std::string ids;
    for (int i = 0; i < chosen->size(); ++i) {
      if (i > 0) ids += ", ";
      ids += std::to_string(chosen->Int(i, 0));  // integers from the database
    }
    const std::string in = " WHERE group_id IN (" + ids + ")";
    auto samples = db.Exec("DELETE FROM escalation_samples" + in);
    if (!samples.ok()) return samples.status();
    auto hist = db.Exec("DELETE FROM escalation_history" + in);
    if (!hist.ok()) return hist.status();
    auto groups = db.Exec("DELETE FROM escalation_groups WHERE id IN (" + ids + ")");
    if (!groups.ok()) return groups.status();
    if (Status s = tx.Commit(); !s.ok()) return s;
    result.samples_deleted += samples->affected();
    return groups->affected();
  };
  if (r.max_age_ms > 0) {
    const int64_t cutoff = now_ms - r.max_age_ms;
    const std::string old_resolved =
        "SELECT id FROM escalation_groups WHERE state = 'resolved' AND " +
        Later("last_seen", "state_at") + " < $1 ORDER BY last_seen, id LIMIT $2";
    while (true) {  // bounded: each round deletes a full batch or ends the loop
      auto n = delete_groups(old_resolved, {cutoff, int64_t{r.batch}});
      if (!n.ok()) return n.status();
      result.groups_deleted += *n;
      if (*n < r.batch) break;
    }
    while (true) {
      base::MutexLock lock(mu_);
      auto old = db_->Exec(
          "DELETE FROM escalation_samples WHERE id IN (SELECT id FROM escalation_samples "
          "WHERE at < $1 ORDER BY id LIMIT $2)",
          cutoff, int64_t{r.batch});
      if (!old.ok()) return old.status();
      result.samples_deleted += old->affected();
      if (old->affected() < r.batch) break;
    }
  }
  // Event ids older than the replay window are forgotten (bounded: a full batch or the end).
  while (options_.replay_window_ms > 0) {
    base::MutexLock lock(mu_);
    auto old = db_->Exec(
        "DELETE FROM escalation_events WHERE event_id IN (SELECT event_id FROM "
        "escalation_events WHERE at < $1 LIMIT $2)",
        now_ms - options_.replay_window_ms, int64_t{r.batch});
    if (!old.ok()) return old.status();
    result.event_ids_deleted += old->affected();
    if (old->affected() < r.batch) break;
  }
  auto count = [&](const char* sql) -> Result<int64_t> {
    base::MutexLock lock(mu_);
    auto rows = db_->Exec(sql);
    if (!rows.ok()) return rows.status();
    return rows->Int(0, 0);
  };
  auto groups = count("SELECT COUNT(*) FROM escalation_groups");
  if (!groups.ok()) return groups.status();
  if (r.max_groups > 0) {
    int64_t excess = *groups - r.max_groups;
    // Resolved first, then least recently seen.
    const std::string oldest =
        "SELECT id FROM escalation_groups ORDER BY CASE WHEN state = 'resolved' THEN 0 ELSE 1 "
        "END, last_seen, id LIMIT $1";
    while (excess > 0) {
      auto n = delete_groups(oldest, {std::min<int64_t>(excess, r.batch)});
      if (!n.ok()) return n.status();
      result.groups_deleted += *n;
      excess -= *n;
      if (*n == 0) break;
    }
    groups = count("SELECT COUNT(*) FROM escalation_groups");
    if (!groups.ok()) return groups.status();
  }
  result.groups_kept = *groups;
  auto samples = count("SELECT COUNT(*) FROM escalation_samples");
  if (!samples.ok()) return samples.status();
  result.samples_kept = *samples;
  return result;
}

}  // namespace reflex::actions

namespace reflex::actions::schema {
int EscalationsVersion() { return static_cast<int>(std::size(kMigrations)); }
}  // namespace reflex::actions::schema
