#include "reflex/connectors/config.h"

#include <re2/re2.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "reflex/base/strings.h"
#include "reflex/connectors/log.h"

namespace reflex::connectors {

using base::ConfigContext;
using base::Schema;
using engine::Result;
using engine::Status;

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  auto bad = [&] {
    return engine::InvalidArgument("expected host:port, got '" + std::string(text) + "'");
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) return bad();
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {  // [::1]:8080
    if (host.size() < 3 || host.back() != ']') return bad();
    host = host.substr(1, host.size() - 2);
  }
  auto port = base::ParseInt64(text.substr(colon + 1));
  if (!port.ok() || *port < 0 || *port > 65535) return bad();
  return ListenAddress{std::string(host), static_cast<int>(*port)};
}

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

Status CheckListenerAuth(const HttpConfig& http) {
  if (!http.enabled || IsLoopbackHost(http.listen.host) || !http.token.empty() ||
      !http.hmac_secret.empty() || http.allow_unauthenticated) {
    return Status::Ok();
  }
  return engine::InvalidArgument(
      "http.listen: " + http.listen.ToString() +
      " is reachable from other machines and neither http.token_env nor "
      "http.hmac_secret_env is set: anyone could send events that run actions. Set one, "
      "listen on 127.0.0.1, or set http.allow_unauthenticated: true");
}

const Schema<KafkaConfig>& KafkaConfigSchema() {
  static const Schema<KafkaConfig> schema = [] {
    Schema<KafkaConfig> s;
    s.String("brokers", &KafkaConfig::brokers,
             "bootstrap servers, host:port[,host:port]; empty starts the embedded broker")
        .Env("REFLEX_KAFKA_BROKERS");
    s.NonEmptyString("group_id", &KafkaConfig::group_id, "consumer group of the replicas");
    s.Enum("assignor", &KafkaConfig::assignor, kAssignorNames,
           "how the group divides the input partitions: range and roundrobin stop every "
           "replica's partitions on a rebalance and hand them out again; cooperative-sticky "
           "moves only those that change owner, but with librdkafka 2.0 a commit answered "
           "during the rebalance drops the replica's whole assignment (docs/operations.md, "
           "Failover)");
    s.Int("session_timeout_ms", &KafkaConfig::session_timeout_ms, 1000, 3600000,
          "a replica silent this long is declared dead and its partitions move to the others "
          "(the broker bounds it: group.min/max.session.timeout.ms)");
    s.Int("heartbeat_interval_ms", &KafkaConfig::heartbeat_interval_ms, 100, 3600000,
          "how often a replica tells the group it is alive; below a third of "
          "session_timeout_ms");
    s.String("group_instance_id", &KafkaConfig::group_instance_id,
             "static membership: an id unique per replica (e.g. the pod name) that keeps its "
             "partitions across a restart shorter than session_timeout_ms, with no "
             "rebalance; empty: dynamic membership")
        .Env("REFLEX_KAFKA_GROUP_INSTANCE_ID");
    s.StringMap("properties", &KafkaConfig::properties,
                "librdkafka properties for consumer and producer, passed as written");
    s.String("decisions_topic", &KafkaConfig::decisions_topic, "where decisions go");
    s.String("escalations_topic", &KafkaConfig::escalations_topic,
             "where unknown events also go; empty for none");
    s.String("dead_letter_topic", &KafkaConfig::dead_letter_topic,
             "where malformed or unmappable messages go, with the reason");
    s.String("changelog_topic", &KafkaConfig::changelog_topic,
             "compacted topic that keeps the pattern state, dedup windows and inhibition "
             "sources of input partition p in its partition p, restored when a replica takes "
             "the partition; empty: pattern state is released as evicted on revocation and "
             "shutdown, and the others are kept in memory only");
    s.Int("changelog_restore_timeout_ms", &KafkaConfig::changelog_restore_timeout_ms, 100,
          3600 * 1000,
          "most time to read an assigned partition's pattern state back before the run stops "
          "with an error (it does not decide events without their state)");
    s.Bool("exactly_once", &KafkaConfig::exactly_once,
           "decisions and consumer offsets in one Kafka transaction per batch");
    s.String("transactional_id", &KafkaConfig::transactional_id,
             "transactional id in exactly-once mode; unique per replica");
    s.Int("embedded_partitions", &KafkaConfig::embedded_partitions, 1, 256,
          "partitions of the topics created on the embedded broker");
    s.Int("dead_letter_max_bytes", &KafkaConfig::dead_letter_max_bytes, 0, 100 << 20,
          "bytes of the original kept when a dead letter is refused for good (too large, ...) "
          "and sent again cut, with a reflex-truncated header");
    s.Check([](KafkaConfig* c, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      if (c->heartbeat_interval_ms * 3 > c->session_timeout_ms) {
        ctx.Error(n["heartbeat_interval_ms"], p + ".heartbeat_interval_ms",
                  std::to_string(c->heartbeat_interval_ms) +
                      " ms is more than a third of "
                      "session_timeout_ms (" +
                      std::to_string(c->session_timeout_ms) +
                      " ms): a replica that is alive could be declared dead");
      }
      for (const char* key : {"partition.assignment.strategy", "session.timeout.ms",
                              "heartbeat.interval.ms", "group.instance.id"}) {
        if (c->properties.count(key) > 0) {
          ctx.Error(n["properties"], p + ".properties",
                    std::string(key) +
                        " is set by kafka.assignor, session_timeout_ms, heartbeat_interval_ms "
                        "and group_instance_id; set it there");
        }
      }
    });
    return s;
  }();
  return schema;
}

const Schema<ProcessingConfig>& ProcessingConfigSchema() {
  static const Schema<ProcessingConfig> schema = [] {
    Schema<ProcessingConfig> s;
    s.Int("workers", &ProcessingConfig::workers, 1, 64,
          "pipeline threads; partition p goes to worker p % workers");
    s.Int("batch_size", &ProcessingConfig::batch_size, 1, 1000000, "messages per batch at most");
    s.Int("batch_wait_ms", &ProcessingConfig::batch_wait_ms, 0, 60000,
          "milliseconds to wait at most to fill a batch");
    s.Int("max_in_flight_batches", &ProcessingConfig::max_in_flight_batches, 1, 1024,
          "batches awaiting the broker's acknowledgement before consumption pauses");
    s.Int("shutdown_timeout_ms", &ProcessingConfig::shutdown_timeout_ms, 0, 3600000,
          "on SIGTERM, milliseconds to wait for acknowledgements before giving up");
    s.Int("output_retry_attempts", &ProcessingConfig::output_retry_attempts, 1, 1000000,
          "tries in all of an output refused for a reason that may pass; then it is dropped, "
          "counted and logged, and its offset committed");
    s.Int("output_retry_backoff_ms", &ProcessingConfig::output_retry_backoff_ms, 0, 3600000,
          "milliseconds before the first retry of a refused output; doubles per retry");
    s.Int("output_retry_max_backoff_ms", &ProcessingConfig::output_retry_max_backoff_ms, 0, 3600000,
          "the longest wait between retries of a refused output");
    s.Int("stuck_after_ms", &ProcessingConfig::stuck_after_ms, 1, 3600000,
          "readiness fails while the oldest batch has waited this long for acknowledgements");
    s.Int("max_labels", &ProcessingConfig::max_labels, 1, 1000000,
          "most labels one event may carry; over it the event is dead-lettered (HTTP: 400)");
    s.Int("max_values", &ProcessingConfig::max_values, 1, 1000000,
          "most values one event may carry; over it the event is dead-lettered (HTTP: 400)");
    s.Int("max_depth", &ProcessingConfig::max_depth, 2, 512,
          "deepest nesting of objects and arrays in an event, the event itself being level 1 "
          "(a mapped payload's top level is 2); deeper is dead-lettered (HTTP: 400)");
    s.Duration("silence_refresh", &ProcessingConfig::silence_refresh_ms, 100, 60000,
               "how often the run mode reads the silences again when another process (reflex "
               "silences) changed them; the longest a new silence waits to take effect");
    s.Duration("inhibit_source_ttl", &ProcessingConfig::inhibit_source_ttl_ms, 1000,
               30LL * 24 * 3600 * 1000,
               "how long a firing inhibition source mutes its targets without a new firing "
               "event (its resolved event ends it at once)");
    s.Int("max_inhibit_sources", &ProcessingConfig::max_inhibit_sources, 1, 10000000,
          "most inhibition sources tracked at once; the one seen longest ago is evicted "
          "(reflex_inhibit_sources_evicted_total)");
    s.Enum("correlation_time", &ProcessingConfig::correlation_time, kCorrelationTimeNames,
           "the time multi-event patterns place an event at: `event` (its timestamp; a "
           "missing one is the arrival time) or `arrival` (when Reflex decided it)");
    s.Duration("root_cause_window", &ProcessingConfig::root_cause_window_ms, 1000,
               7LL * 24 * 3600 * 1000,
               "with a topology in the rules: how long a node's incident stays open after its "
               "last event; events of nodes that depend on it meanwhile are suppressed as its "
               "symptoms");
    s.Int("max_root_incidents", &ProcessingConfig::max_root_incidents, 1, 10000000,
          "most root-cause incidents open at once; when full, the one closest to closing is "
          "dropped");
    s.Duration("dedup_window", &ProcessingConfig::dedup_window_ms, 0, 7LL * 24 * 3600 * 1000,
               "repeats of one alert (its source and labels other than status) within this "
               "time of the first are suppressed as its duplicates (muted_by duplicate_of), "
               "not decided again; a resolved event ends the window; 0 turns it off");
    s.Int("max_dedup_keys", &ProcessingConfig::max_dedup_keys, 1, 10000000,
          "most alerts tracked for deduplication; the one seen longest ago is evicted");
    s.Duration("pattern_tick", &ProcessingConfig::pattern_tick_ms, 10, 60000,
               "how often, with no event coming, open pattern windows and absence timers are "
               "checked against the clock; the longest a timer fires late");
    return s;
  }();
  return schema;
}

const Schema<ApiToken>& ApiTokenSchema() {
  static const Schema<ApiToken> schema = [] {
    Schema<ApiToken> s;
    s.NonEmptyString("name", &ApiToken::name, "who holds the token (audit log, answers)")
        .Required();
    s.Enum("role", &ApiToken::role, kApiRoleNames,
           "viewer reads; operator also acknowledges, resolves, approves, rejects, silences; "
           "admin also changes rules");
    s.Secret("token", &ApiToken::token, "the bearer token (at least 16 characters)").Required();
    s.Check([](ApiToken* t, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      if (!t->token.empty() && t->token.size() < 16) {
        ctx.Error(n["token_env"], p + ".token_env",
                  "the token is " + std::to_string(t->token.size()) +
                      " characters long; use at least 16 (e.g. openssl rand -hex 24)");
      }
    });
    return s;
  }();
  return schema;
}

const Schema<HttpConfig>& HttpConfigSchema() {
  static const Schema<HttpConfig> schema = [] {
    Schema<HttpConfig> s;
    s.Bool("enabled", &HttpConfig::enabled, "serve the webhook, /metrics and the probes");
    s.Custom("listen", "host:port", "address to listen on; port 0 picks a free one",
             [](const YAML::Node& n, const std::string& p, HttpConfig* out, ConfigContext& ctx) {
               auto text = base::ReadString(n, p, ctx);
               if (!text) return;
               auto a = ParseListenAddress(*text);
               if (!a.ok()) return ctx.Error(n, p, a.status().message());
               out->listen = *a;
             })
        .Default(ListenAddress{}.ToString())
        .Env("REFLEX_HTTP_LISTEN");
    s.Secret("token", &HttpConfig::token, "bearer token required on /v1/*")
        .Env("REFLEX_HTTP_TOKEN");
    s.Secret("hmac_secret", &HttpConfig::hmac_secret,
             "HMAC-SHA256 key; /v1/* then needs X-Reflex-Timestamp: <unix seconds> and "
             "X-Reflex-Signature: sha256=<hex HMAC of timestamp, '.', body>")
        .Env("REFLEX_HTTP_HMAC_SECRET");
    s.String("ingest_topic", &HttpConfig::ingest_topic,
             "topic accepted events are produced to; default: the first source's first topic");
    s.Int("max_connections", &HttpConfig::max_connections, 1, 4096,
          "connections served at once, each on its own thread; more are answered 503 at once "
          "and closed");
    s.Duration("request_timeout", &HttpConfig::request_timeout_ms, 100, 3'600'000,
               "longest a client may take to send one request (line, headers, body); then 408 "
               "and the connection is closed");
    s.Int("max_body_bytes", &HttpConfig::max_body_bytes, 1, int64_t{1} << 30,
          "largest accepted request body, counted after gzip/deflate/br decoding (413 above)");
    s.Duration("hmac_tolerance", &HttpConfig::hmac_tolerance_ms, 1000, 86'400'000,
               "how far X-Reflex-Timestamp may be from the server's clock, either way, when an "
               "HMAC secret is set (replays of older requests get 401)");
    s.Bool("allow_unauthenticated", &HttpConfig::allow_unauthenticated,
           "serve a non-loopback address with neither token nor HMAC secret (a warning at "
           "start); without it such a config is refused");
    s.List("api_tokens", &HttpConfig::api_tokens, ApiTokenSchema(), false,
           "bearer tokens of the REST API /api/v1 and the console, each with a name and a role");
    s.Int("recent_decisions", &HttpConfig::recent_decisions, 0, 100000,
          "the last decisions kept in memory for GET /api/v1/decisions and the console's "
          "Decisions page, newest first (0: none; the decisions topic has them all)");
    s.Check([](HttpConfig* c, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      std::set<std::string> names, tokens;
      for (size_t i = 0; i < c->api_tokens.size(); ++i) {
        const ApiToken& t = c->api_tokens[i];
        const std::string at = p + ".api_tokens[" + std::to_string(i) + "]";
        YAML::Node item;
        if (n.IsMap() && n["api_tokens"] && n["api_tokens"].IsSequence()) {
          item.reset(n["api_tokens"][i]);
        }
        if (!names.insert(t.name).second)
          ctx.Error(item, at + ".name", "'" + t.name + "' is used twice");
        if (!t.token.empty() && !tokens.insert(t.token).second) {
          ctx.Error(item, at + ".token_env", "the same token is given to two names");
        }
      }
    });
    return s;
  }();
  return schema;
}

const Schema<SourceConfig>& SourceConfigSchema() {
  static const Schema<SourceConfig> schema = [] {
    Schema<SourceConfig> s;
    s.NonEmptyString("name", &SourceConfig::name, "the source's name (metrics, ?source=)")
        .Required();
    s.Strings("topics", &SourceConfig::topics, "topic names to consume");
    s.String("pattern", &SourceConfig::pattern, "or a regex over topic names");
    s.Custom("mapping", "mapping", "how a message becomes events (see mapping.*)",
             [](const YAML::Node& n, const std::string& p, SourceConfig* out, ConfigContext& ctx) {
               if (auto m = Mapping::Read(n, p, ctx)) out->mapping = std::move(*m);
             });
    s.Check([](SourceConfig* c, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      if (!c->pattern.empty()) {
        RE2 re(c->pattern, RE2::Quiet);
        if (!re.ok()) ctx.Error(n["pattern"], p + ".pattern", "bad regex: " + re.error());
      }
      if (c->topics.empty() == c->pattern.empty()) {
        ctx.Error(n, p, "give either 'topics' or 'pattern'");
      }
    });
    return s;
  }();
  return schema;
}

const Schema<RetentionConfig>& RetentionConfigSchema() {
  static const Schema<RetentionConfig> schema = [] {
    Schema<RetentionConfig> s;
    constexpr int64_t kYearMs = 366LL * 24 * 3600 * 1000;
    s.Duration("max_age", &RetentionConfig::max_age_ms, 3600 * 1000, 10 * kYearMs,
               "finished action runs, delivered notices, resolved escalations and samples older "
               "than this are deleted");
    s.Int("max_escalation_groups", &RetentionConfig::max_escalation_groups, 100, 100000000,
          "escalation groups kept at most (resolved first, then least recently seen, go)");
    s.Int("max_action_runs", &RetentionConfig::max_action_runs, 100, 1000000000,
          "action runs kept at most (only finished runs are deleted, oldest first)");
    s.Int("max_notices", &RetentionConfig::max_notices, 100, 100000000,
          "notices kept in the outbox at most (only delivered or failed ones are deleted)");
    s.Duration("interval", &RetentionConfig::interval_ms, 1000, 24 * 3600 * 1000,
               "how often retention runs (in the background)");
    return s;
  }();
  return schema;
}

const Schema<base::StoreConfig>& StoreConfigSchema() {
  static const Schema<base::StoreConfig> schema = [] {
    Schema<base::StoreConfig> s;
    s.Enum("kind", &base::StoreConfig::kind, base::kStoreKindNames,
           "sqlite: the embedded file <state_dir>/reflex.db, one per replica; postgresql: a "
           "database the replicas share (the journal and approvals, the escalations, the "
           "silences, the notice outbox and the audit log)")
        .Selector();
    s.Secret("dsn", &base::StoreConfig::dsn,
             "with kind postgresql: the environment variable holding the libpq connection "
             "string (\"host=db dbname=reflex user=reflex\" or postgresql://...)")
        .Required()
        .OnlyWhen([](const base::StoreConfig& c) { return c.kind == base::StoreKind::kPostgresql; },
                  "kind: postgresql");
    return s;
  }();
  return schema;
}

const Schema<ClaimsConfig>& ClaimsConfigSchema() {
  static const Schema<ClaimsConfig> schema = [] {
    Schema<ClaimsConfig> s;
    s.Duration("run_lease", &ClaimsConfig::run_lease_ms, 1000, 3600 * 1000,
               "how long a replica's claim on a running action run holds without renewal (it "
               "renews every third of it): the runs of a replica that died are resumed by "
               "another this long after its last renewal");
    s.Duration("notice_lease", &ClaimsConfig::notice_lease_ms, 10 * 1000, 24 * 3600 * 1000,
               "how long a replica's claim on a notice it is sending holds (renewed before "
               "each attempt): the notices of a replica that died are sent by another after it");
    s.Duration("notice_takeover_interval", &ClaimsConfig::notice_takeover_interval_ms, 1000,
               3600 * 1000, "how often each notifier target looks for notices whose claim ran out");
    return s;
  }();
  return schema;
}

const Schema<StorageConfig>& StorageConfigSchema() {
  static const Schema<StorageConfig> schema = [] {
    Schema<StorageConfig> s;
    s.Object("store", &StorageConfig::store, StoreConfigSchema(),
             "the database of the stores: SQLite (default) or PostgreSQL");
    s.Enum("durability", &StorageConfig::durability, base::kDurabilityNames,
           "normal: a commit survives a process crash; fsync: also power loss and OS crashes, "
           "at the cost of a disk flush per commit");
    s.Object("retention", &StorageConfig::retention, RetentionConfigSchema(),
             "how much history the state database keeps");
    s.Object("claims", &StorageConfig::claims, ClaimsConfigSchema(),
             "how replicas sharing the store take over the work of one that stopped");
    s.Duration("check_interval", &StorageConfig::check_interval_ms, 100, 60 * 1000,
               "how often the engine checks that the store answers (and renews its claims); "
               "/readyz fails while the last check failed or one has gone unanswered for two "
               "intervals");
    return s;
  }();
  return schema;
}

const Schema<RunConfig>& RunConfigSchema() {
  static const Schema<RunConfig> schema = [] {
    Schema<RunConfig> s;
    s.String("rules", &RunConfig::rules_dir, "rules directory").Env("REFLEX_RULES");
    s.String("state_dir", &RunConfig::state_dir,
             "state directory: journal, escalations, rule history")
        .Env("REFLEX_STATE_DIR");
    s.Bool("watch_rules", &RunConfig::watch_rules, "reload the rules when their files change");
    s.Bool("allow_unverified_rules", &RunConfig::allow_unverified_rules,
           "let a rule set whose own test cases fail go live, with a warning; otherwise it is "
           "refused at start (exit 1) and on reload (the running set keeps serving)");
    s.Custom("log_level", "one of: " + kLogLevelNames.List(), "least severe log line written",
             [](const YAML::Node& n, const std::string& p, RunConfig* out, ConfigContext& ctx) {
               auto v = base::ReadString(n, p, ctx);
               if (!v) return;
               if (!kLogLevelNames.Parse(*v))
                 return ctx.Error(n, p, "expected debug, info, warn or error");
               out->log_level = *v;
             })
        .Default(RunConfig{}.log_level);
    s.Object("kafka", &RunConfig::kafka, KafkaConfigSchema(), "the Kafka cluster and topics");
    s.List("sources", &RunConfig::sources, SourceConfigSchema(), true,
           "where events come from; default: one source `events` on topic reflex.events");
    s.Object("processing", &RunConfig::processing, ProcessingConfigSchema(),
             "batching, workers, backpressure and the caps on one event");
    s.Object("http", &RunConfig::http, HttpConfigSchema(), "webhook ingest, metrics, probes");
    s.Object("storage", &RunConfig::storage, StorageConfigSchema(),
             "where the stores live (SQLite or PostgreSQL), their durability and retention");
    s.Bool("dry_run", &RunConfig::dry_run, "decide and journal actions, execute none");
    s.Node("actions", &RunConfig::actions, "mapping", "action executor settings (actions.*)");
    s.Node("notifiers", &RunConfig::notifiers, "list of mappings",
           "where people are told (notifiers[].*)");
    s.Check([](RunConfig* c, const YAML::Node& root, const std::string&, ConfigContext& ctx) {
      std::set<std::string> names;
      for (size_t i = 0; i < c->sources.size(); ++i) {
        const auto& src = c->sources[i];
        if (!src.name.empty() && !names.insert(src.name).second) {
          const YAML::Node at = root["sources"] ? root["sources"][i]["name"] : YAML::Node();
          ctx.Error(at, "sources[" + std::to_string(i) + "].name",
                    "duplicate source name '" + src.name + "'");
        }
      }
      if (c->kafka.exactly_once && c->kafka.transactional_id.empty()) {
        ctx.Error(root["kafka"], "kafka.transactional_id", "exactly_once needs a transactional_id");
      }
    });
    return s;
  }();
  return schema;
}

RunConfig DefaultRunConfig() {
  RunConfig c;
  SourceConfig s;
  s.name = "events";
  s.topics = {"reflex.events"};
  c.sources.push_back(s);
  return c;
}

void ReadRunConfig(const YAML::Node& root, RunConfig* config, ConfigContext& ctx) {
  const auto& schema = RunConfigSchema();
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    ctx.Error(root, "(top)", "expected a mapping");
    return;
  }
  if (root.IsDefined() && !root.IsNull()) schema.Read(root, "", config, ctx);
  schema.ApplyEnv(config, ctx);
}

Result<RunConfig> ParseRunConfig(std::string_view text, const std::string& file,
                                 const EnvLookup& env) {
  base::Diagnostics diags;
  ConfigContext ctx(file, env, &diags);
  RunConfig cfg = DefaultRunConfig();
  cfg.file = file;
  if (auto root = base::ParseYaml(text, ctx)) ReadRunConfig(*root, &cfg, ctx);
  if (diags.has_errors()) return diags.ToStatus();
  return cfg;
}

Result<RunConfig> LoadRunConfig(const std::string& path, const EnvLookup& env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return engine::NotFound(path + ": cannot open the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseRunConfig(ss.str(), path, env);
}

std::vector<std::string> SubscriptionTopics(const RunConfig& config) {
  std::vector<std::string> out;
  for (const auto& s : config.sources) {
    for (const auto& t : s.topics) out.push_back(t);
    if (!s.pattern.empty()) out.push_back(s.pattern[0] == '^' ? s.pattern : "^" + s.pattern);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string IngestTopic(const RunConfig& config) {
  if (!config.http.ingest_topic.empty()) return config.http.ingest_topic;
  if (!config.sources.empty() && !config.sources[0].topics.empty()) {
    return config.sources[0].topics[0];
  }
  return "reflex.events";
}

std::optional<size_t> SourceForTopic(const RunConfig& config, const std::string& topic) {
  for (size_t i = 0; i < config.sources.size(); ++i) {
    const auto& t = config.sources[i].topics;
    if (std::find(t.begin(), t.end(), topic) != t.end()) return i;
  }
  for (size_t i = 0; i < config.sources.size(); ++i) {
    const std::string& p = config.sources[i].pattern;
    if (p.empty()) continue;
    RE2 re(p[0] == '^' ? p : "^" + p, RE2::Quiet);
    if (re.ok() && RE2::PartialMatch(topic, re)) return i;
  }
  return std::nullopt;
}

Status CheckIngestConsumed(const RunConfig& config) {
  if (!config.http.enabled) return Status::Ok();
  const std::string topic = IngestTopic(config);
  const auto source = SourceForTopic(config, topic);
  const std::string fix =
      ": webhook events would be accepted and never decided. Set http.ingest_topic to a "
      "topic of a source with `mapping: {kind: event}`, add such a source for it, or set "
      "http.enabled: false";
  if (!source) {
    return engine::InvalidArgument("http.ingest_topic: no source consumes topic '" + topic + "'" +
                                   fix);
  }
  const SourceConfig& s = config.sources[*source];
  if (!s.mapping.passthrough()) {
    return engine::InvalidArgument(
        "http.ingest_topic: topic '" + topic + "' is consumed by source '" + s.name +
        "' with mapping kind " + MappingKindName(s.mapping.spec().kind) +
        ", but webhook events are produced there already mapped (they need kind event)" + fix);
  }
  return Status::Ok();
}

Result<Mapping> ChooseMapping(const MappingChoice& choice, const EnvLookup& env) {
  if (!choice.mapping.empty() && !choice.source.empty()) {
    return engine::InvalidArgument(
        "give either --mapping KIND or --config FILE --source NAME, not both");
  }
  if (!choice.source.empty() && choice.config_file.empty()) {
    return engine::InvalidArgument("--source " + choice.source +
                                   " needs --config FILE (the config that defines the source)");
  }
  if (!choice.config_file.empty() && choice.source.empty()) {
    return engine::InvalidArgument("--config " + choice.config_file +
                                   " needs --source NAME (which source's mapping to apply)");
  }
  if (!choice.mapping.empty()) {
    auto kind = kMappingKindNames.Parse(choice.mapping);
    if (!kind) {
      return engine::InvalidArgument("--mapping: unknown kind '" + choice.mapping +
                                     "' (expected one of: " + kMappingKindNames.List() +
                                     "; for a source's mapping give --config FILE --source NAME)");
    }
    return Mapping::OfKind(*kind);
  }
  if (choice.source.empty()) return Mapping();
  // Only the file's `sources:` are read: an offline tool needs no secrets, broker or
  // listener (`reflex run --check-config` checks the rest).
  std::ifstream in(choice.config_file, std::ios::binary);
  if (!in) return engine::NotFound(choice.config_file + ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  base::Diagnostics diags;
  ConfigContext ctx(choice.config_file, env, &diags);
  std::vector<SourceConfig> sources = DefaultRunConfig().sources;
  if (auto root = base::ParseYaml(text.str(), ctx)) {
    if (root->IsMap() && (*root)["sources"]) {
      const YAML::Node list = (*root)["sources"];
      if (!list.IsSequence()) {
        ctx.Error(list, "sources", "expected a non-empty list");
      } else {
        sources.clear();
        for (size_t i = 0; i < list.size(); ++i) {
          SourceConfig sc;
          SourceConfigSchema().Read(list[i], "sources[" + std::to_string(i) + "]", &sc, ctx);
          sources.push_back(std::move(sc));
        }
      }
    }
  }
  if (diags.has_errors()) return diags.ToStatus();
  std::string names;
  for (const auto& s : sources) {
    if (s.name == choice.source) return s.mapping;
    names += (names.empty() ? "" : ", ") + s.name;
  }
  return engine::InvalidArgument("--source: " + choice.config_file + " has no source '" +
                                 choice.source + "' (its sources: " + names + ")");
}

}  // namespace reflex::connectors
