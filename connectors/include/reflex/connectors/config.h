// RunConfig: the YAML configuration of `reflex run`, declared once as schemas (base/
// config_schema.h) and validated as a whole.
//
// Every error names the key path and the position (`reflex.yaml:12:5: kafka.group_id:
// expected a string`); unknown keys are refused with the list of valid ones; all errors are
// collected before the load fails; source mappings are read in the same pass. Secrets never
// live in the file: keys ending in `_env` name an environment variable, and a few REFLEX_*
// variables override the file (the Env column of `reflex config schema`). With no file at
// all, the embedded default is used: the in-process broker, the bundled example rules, the
// webhook on 127.0.0.1:8080 (and the environment overrides still apply).
//
// The parts of the file that other libraries own (`actions:`, `notifiers:`) are kept as YAML
// here and read, with the same context, by the application (app/config.h).
//
// Thread-safety: plain values; the schemas are immutable.
//
//   base::Diagnostics d;
//   base::ConfigContext ctx("reflex.yaml", base::SystemEnv(), &d);
//   RunConfig cfg = DefaultRunConfig();
//   ReadRunConfig(root, &cfg, ctx);
//   if (d.has_errors()) ... d.ToStatus() ...
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reflex/base/config_schema.h"
#include "reflex/base/durability.h"
#include "reflex/base/store_config.h"
#include "reflex/connectors/mapping.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace reflex::connectors {

using base::EnvLookup;
using base::SystemEnv;

struct SourceConfig {
  std::string name;
  std::vector<std::string> topics;  // exact topic names, or
  std::string pattern;              // a regex over topic names (subscribed as "^...")
  Mapping mapping;                  // `mapping:` (default: kind event, pass-through)
};

// How the consumer group divides the input partitions among the replicas: range and
// roundrobin stop every replica's partitions on a rebalance and hand them out again (eager);
// cooperative-sticky moves only the partitions that change owner. The default is range: with
// librdkafka 2.0 (Debian 12), an offset commit answered during a cooperative rebalance makes
// the replica drop its whole assignment and join again, which on failover took longer than
// an eager rebalance (docs/operations.md, "Failover").
enum class Assignor : uint8_t { kCooperativeSticky, kRange, kRoundRobin };
inline constexpr base::EnumNames<Assignor, 3> kAssignorNames{
    {{{Assignor::kCooperativeSticky, "cooperative-sticky"},
      {Assignor::kRange, "range"},
      {Assignor::kRoundRobin, "roundrobin"}}}};

struct KafkaConfig {
  std::string brokers;  // empty: start the embedded broker
  std::string group_id = "reflex";
  // Group membership (docs/operations.md, "Failover"): a replica that stops heartbeating
  // for session_timeout_ms is declared dead and its partitions move; heartbeats go every
  // heartbeat_interval_ms (below a third of the session timeout). With group_instance_id
  // (static membership, unique per replica) a restart within the session timeout gets its
  // partitions back without a rebalance.
  Assignor assignor = Assignor::kRange;
  int session_timeout_ms = 6000;
  int heartbeat_interval_ms = 1000;
  std::string group_instance_id;
  // Passed to librdkafka for consumer and producer as written (e.g. security.protocol).
  std::map<std::string, std::string> properties;
  std::string decisions_topic = "reflex.decisions";
  std::string escalations_topic = "reflex.escalations";
  std::string dead_letter_topic = "reflex.dead-letter";
  // Pattern state (docs/patterns.md, "State across restarts"): a compacted topic with at
  // least as many partitions as the input topics; partition p keeps the state of input
  // partition p. Empty: no changelog, state is given up as `evicted` on revocation/shutdown.
  std::string changelog_topic = "reflex.pattern-changelog";
  int changelog_restore_timeout_ms = 60000;  // reading a partition's state back, at most
  bool exactly_once = false;                 // transactional producer, offsets in the transaction
  std::string transactional_id = "reflex";   // must be unique per replica in exactly-once mode
  int embedded_partitions = 4;               // topics created on the embedded broker
  // When the broker or producer refuses a dead letter for good (too large, ...), it is sent
  // again cut to this many bytes of the original, flagged `reflex-truncated`.
  int dead_letter_max_bytes = 65536;
};

// The time a pattern places an event at: its own timestamp (a replay and a live run then
// agree), or when Reflex decided it (for sources whose clocks cannot be trusted).
enum class CorrelationTime : uint8_t { kEvent, kArrival };
inline constexpr base::EnumNames<CorrelationTime, 2> kCorrelationTimeNames{
    {{{CorrelationTime::kEvent, "event"}, {CorrelationTime::kArrival, "arrival"}}}};

struct ProcessingConfig {
  int workers = 1;                  // pipeline threads; partition p goes to worker p % workers
  int batch_size = 2000;            // messages per batch at most
  int batch_wait_ms = 20;           // wait at most this long to fill a batch
  int max_in_flight_batches = 8;    // batches awaiting the broker's ack before consumption pauses
  int shutdown_timeout_ms = 30000;  // on SIGTERM: wait this long for acks before giving up
  // An output the broker refused for a reason that may pass is produced again, at most this
  // many times in all (first try included), waiting base * 2^(n-1) (capped) in between;
  // then it is dropped, counted and logged, and its offset committed.
  int output_retry_attempts = 10;
  int output_retry_backoff_ms = 1000;
  int output_retry_max_backoff_ms = 60000;
  // Readiness fails while the oldest batch has waited this long for acknowledgements.
  int stuck_after_ms = 10000;
  // Caps on one event (engine::EventLimits), the same for Kafka and the webhook: over them
  // an event is dead-lettered, or refused with 400 at the webhook.
  int max_labels = 1000;  // keys in `labels`
  int max_values = 1000;  // keys in `values`
  int max_depth = 32;     // nesting of objects and arrays, the event object being level 1
  // Silences and inhibition (docs/silences.md): how often the run mode looks for silences
  // written by another process (`reflex silences`); how long an inhibition source stays
  // tracked without a new firing event; most sources tracked (oldest evicted, counted).
  int64_t silence_refresh_ms = 1000;
  int64_t inhibit_source_ttl_ms = 6 * 3600 * 1000LL;
  int max_inhibit_sources = 100000;
  // Multi-event patterns (docs/patterns.md): which time places an event in a window, and
  // how often open windows and timers are checked when no event comes.
  CorrelationTime correlation_time = CorrelationTime::kEvent;
  // Topology root cause (docs/topology.md): how long a node's incident stays open after its
  // last event, and most incidents open at once (the one closest to closing is dropped).
  int64_t root_cause_window_ms = 15 * 60 * 1000;
  int max_root_incidents = 10000;
  // Deduplication (engine/mute.h Deduper): repeats of one alert (source and labels other
  // than status) within this window are suppressed as duplicates of the first; 0 = off.
  int64_t dedup_window_ms = 0;
  int max_dedup_keys = 100000;
  int64_t pattern_tick_ms = 1000;

  engine::EventLimits event_limits() const {
    return engine::EventLimits{static_cast<size_t>(max_labels), static_cast<size_t>(max_values),
                               max_depth};
  }
};

// host:port, checked when the config is read (a port is 0..65535; 0 picks a free one).
struct ListenAddress {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};
// Parses "host:port" (IPv6 as "[::1]:port"); kInvalidArgument otherwise. Never throws.
engine::Result<ListenAddress> ParseListenAddress(std::string_view text);

// Who may do what through the REST API (/api/v1, docs/api.md): viewer reads; operator also
// acknowledges, resolves, approves, rejects and silences; admin also changes rules.
enum class ApiRole { kViewer, kOperator, kAdmin };
inline constexpr base::EnumNames<ApiRole, 3> kApiRoleNames{
    {{{ApiRole::kViewer, "viewer"}, {ApiRole::kOperator, "operator"}, {ApiRole::kAdmin, "admin"}}}};

// One bearer token of the REST API: `name` is who the audit log and the answers name.
struct ApiToken {
  std::string name;
  ApiRole role = ApiRole::kViewer;
  std::string token;  // from token_env; never logged
};

struct HttpConfig {
  bool enabled = true;
  ListenAddress listen;      // Default: 127.0.0.1:8080
  std::string token;         // bearer token (from token_env / REFLEX_HTTP_TOKEN)
  std::string hmac_secret;   // HMAC-SHA256 secret (from hmac_secret_env / REFLEX_HTTP_HMAC_SECRET)
  std::string ingest_topic;  // where accepted events go; default: the first source's first topic
  // Connections served at once, each on its own thread; more are answered 503 and closed.
  int max_connections = 64;
  // The longest a client may take to send one request (line, headers, body): then 408.
  int64_t request_timeout_ms = 10'000;
  // Largest request body, counted after decompression (and, as sent, chunk framing included).
  int64_t max_body_bytes = 10 << 20;
  // How far X-Reflex-Timestamp may be from the server's clock, either way (replay guard).
  int64_t hmac_tolerance_ms = 5 * 60'000;
  // Serve a non-loopback address with neither token nor HMAC secret (logged as a warning).
  bool allow_unauthenticated = false;
  // Tokens of the REST API; none: /api/v1 answers 401 to everything but its OpenAPI document.
  std::vector<ApiToken> api_tokens;
  // Decisions kept in memory for GET /api/v1/decisions and the console (0: none).
  int recent_decisions = 1000;
};

// True for addresses only this machine reaches: 127.0.0.0/8, ::1, localhost.
bool IsLoopbackHost(std::string_view host);
// A listener other machines can reach must authenticate: kInvalidArgument naming the fix
// when HTTP is enabled on a non-loopback address with neither a token nor an HMAC secret
// and allow_unauthenticated is not set.
engine::Status CheckListenerAuth(const HttpConfig& http);

// `storage.retention`: how much history the state database keeps (enforced in the
// background; see actions/retention.h). Unfinished action runs and undelivered notices
// are never deleted.
struct RetentionConfig {
  int64_t max_age_ms = 30LL * 24 * 3600 * 1000;  // Default: 30 days
  int64_t max_escalation_groups = 100000;
  int64_t max_action_runs = 1000000;
  int64_t max_notices = 100000;
  int64_t interval_ms = 5 * 60 * 1000;  // Default: every 5 minutes
};

// `storage.claims`: how replicas sharing a store hand work over when one of them stops
// (docs/operations.md, "Shared store"). A replica claims an action run while it runs it and a
// notice while it sends it; it renews its claims while it lives; another replica takes over a
// claim that ran out.
struct ClaimsConfig {
  int64_t run_lease_ms = 30000;                 // Default: 30 s (JournalOptions::lease_ms)
  int64_t notice_lease_ms = 5 * 60 * 1000;      // Default: 5 min (NoticeOutboxOptions::lease_ms)
  int64_t notice_takeover_interval_ms = 30000;  // Default: 30 s
};

// `storage:`: where the stores live, their durability and retention.
struct StorageConfig {
  // `storage.store`: the database of the stores (journal, escalations, silences, notice outbox,
  // audit log): the SQLite file <state_dir>/reflex.db (default), or PostgreSQL
  // (`kind: postgresql`, `dsn_env: VAR` naming the variable that holds the libpq connection
  // string; docs/operations.md, "Shared store (PostgreSQL)").
  base::StoreConfig store;
  // normal: SQLite synchronous=NORMAL, files renamed into place; fsync: synchronous=FULL and
  // rule history files and directories synced (docs/operations.md). Default: normal.
  base::Durability durability = base::Durability::kNormal;
  RetentionConfig retention;
  ClaimsConfig claims;
  // How often the engine checks that the store answers (renewing its claims at the same
  // time); /readyz fails while it does not. Default: 5 s.
  int64_t check_interval_ms = 5000;
};

struct RunConfig {
  std::string file;  // where it came from ("" = built-in default)
  std::string rules_dir = "rules/examples";
  std::string state_dir = ".reflex";
  bool watch_rules = true;
  // A rule set whose test cases fail goes live (with a warning) instead of being refused at
  // start and on reload. Default: false.
  bool allow_unverified_rules = false;
  std::string log_level = "info";
  KafkaConfig kafka;
  std::vector<SourceConfig> sources;
  ProcessingConfig processing;
  HttpConfig http;
  StorageConfig storage;
  bool dry_run = false;  // decide and journal, execute no action
  YAML::Node actions;    // `actions:` executor settings, read by the application
  YAML::Node notifiers;  // `notifiers:` list, read by the application
};

// The schemas, for readers and for `reflex config schema`.
const base::Schema<KafkaConfig>& KafkaConfigSchema();
const base::Schema<ProcessingConfig>& ProcessingConfigSchema();
const base::Schema<HttpConfig>& HttpConfigSchema();
const base::Schema<SourceConfig>& SourceConfigSchema();
const base::Schema<RetentionConfig>& RetentionConfigSchema();
const base::Schema<base::StoreConfig>& StoreConfigSchema();
const base::Schema<ClaimsConfig>& ClaimsConfigSchema();
const base::Schema<StorageConfig>& StorageConfigSchema();
const base::Schema<RunConfig>& RunConfigSchema();

// The embedded default (no file): one source `events` on topic reflex.events.
RunConfig DefaultRunConfig();

// Reads the root mapping of a config file into *config (which holds the defaults), applies
// the environment overrides and runs the cross-key checks. Problems go to ctx.
void ReadRunConfig(const YAML::Node& root, RunConfig* config, base::ConfigContext& ctx);

// Parses config text (`file` names it in errors; "" for no file: the embedded default plus
// the environment); every error at once as kInvalidArgument, one line per problem.
engine::Result<RunConfig> ParseRunConfig(std::string_view text, const std::string& file,
                                         const EnvLookup& env);
// Reads and parses a file (kNotFound when it cannot be opened).
engine::Result<RunConfig> LoadRunConfig(const std::string& path, const EnvLookup& env);

// Every topic the consumer subscribes to ("^regex" for pattern sources).
std::vector<std::string> SubscriptionTopics(const RunConfig& config);

// The topic webhook events are produced to: http.ingest_topic, else the first source's first
// topic, else reflex.events.
std::string IngestTopic(const RunConfig& config);

// The source that decides messages of `topic`, as the Kafka runner chooses it: the first
// source listing the topic by name, else the first whose pattern matches it (subscribed as
// "^pattern"); nullopt when no source subscribes to it.
std::optional<size_t> SourceForTopic(const RunConfig& config, const std::string& topic);

// The payload mapping an offline command (`reflex explain`, `replay`, `test`) applies, chosen
// as on the command line: `mapping` names a kind (--mapping alertmanager), or `source` names
// a source of the config file `config_file` (--config FILE --source NAME), whose mapping comes
// with its options (values_from_annotations, ...). Neither: the pass-through mapping.
struct MappingChoice {
  std::string mapping;      // a kind name: event, alertmanager, fields
  std::string config_file;  // a `reflex run` config file
  std::string source;       // a source name in config_file
};
// Resolves a choice. Only the file's `sources:` are read (checked as `reflex run` checks
// them); the rest of the file is left to `reflex run --check-config`, so the secrets its
// *_env keys name need not be set. kInvalidArgument naming the option and the fix: both --mapping
// and
// --source, --source without --config, --config without --source, an unknown kind (listing
// the kinds), a source the file does not have (listing its sources), a config with errors
// (every error); kNotFound when the file cannot be opened.
engine::Result<Mapping> ChooseMapping(const MappingChoice& choice, const EnvLookup& env);

// What the webhook accepts must be decided: with HTTP enabled, the ingest topic must be
// consumed by a source whose mapping passes events through (`kind: event`), since webhook
// events are produced there already mapped. kInvalidArgument naming the topic and the fix
// otherwise (an accepted event would be dead-lettered or never read).
engine::Status CheckIngestConsumed(const RunConfig& config);

}  // namespace reflex::connectors
