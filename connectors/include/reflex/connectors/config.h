// RunConfig: the YAML configuration of `reflex run`, validated as a whole.
//
// Every error names the key path and the position (`reflex.yaml:12:5: kafka.group_id:
// expected a string`); unknown keys are refused with the list of valid ones; all errors are
// collected before the load fails. Secrets never live in the file: keys ending in `_env`
// name an environment variable, and a few REFLEX_* variables override the file (below).
// With no file at all, DefaultRunConfig() is the embedded default: the in-process broker,
// the bundled example rules, the webhook on 127.0.0.1:8080.
//
// Environment overrides (applied after the file): REFLEX_RULES, REFLEX_STATE_DIR,
// REFLEX_KAFKA_BROKERS, REFLEX_HTTP_LISTEN, REFLEX_HTTP_TOKEN, REFLEX_HTTP_HMAC_SECRET.
//
// Thread-safety: plain values.
//
//   auto cfg = LoadRunConfig("deploy/reflex.yaml", SystemEnv());
//   if (!cfg.ok()) { std::cerr << cfg.status().message(); return 2; }
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reflex/engine/status.h"

namespace reflex::connectors {

// Looks up an environment variable; std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup SystemEnv();

struct SourceConfig {
  std::string name;
  std::vector<std::string> topics;  // exact topic names, or
  std::string pattern;              // a regex over topic names (subscribed as "^...")
  YAML::Node mapping;               // `mapping:` as written (null = kind event); see mapping.h
  std::string where;                // "sources[0]" for error messages
};

struct KafkaConfig {
  std::string brokers;  // empty: start the embedded broker
  std::string group_id = "reflex";
  // Passed to librdkafka for consumer and producer as written (e.g. security.protocol).
  std::map<std::string, std::string> properties;
  std::string decisions_topic = "reflex.decisions";
  std::string escalations_topic = "reflex.escalations";
  std::string dead_letter_topic = "reflex.dead-letter";
  bool exactly_once = false;                // transactional producer, offsets in the transaction
  std::string transactional_id = "reflex";  // must be unique per replica in exactly-once mode
  int embedded_partitions = 4;              // topics created on the embedded broker
};

struct ProcessingConfig {
  int workers = 1;                  // pipeline threads; partition p goes to worker p % workers
  int batch_size = 2000;            // messages per batch at most
  int batch_wait_ms = 20;           // wait at most this long to fill a batch
  int max_in_flight_batches = 8;    // batches awaiting the broker's ack before consumption pauses
  int shutdown_timeout_ms = 30000;  // on SIGTERM: wait this long for acks before giving up
};

struct HttpConfig {
  bool enabled = true;
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free port
  std::string token;                      // bearer token (from token_env / REFLEX_HTTP_TOKEN)
  std::string hmac_secret;   // HMAC-SHA256 secret (from hmac_secret_env / REFLEX_HTTP_HMAC_SECRET)
  std::string ingest_topic;  // where accepted events go; default: the first source's first topic
  int threads = 4;
  int64_t max_body_bytes = 10 << 20;
};

struct RunConfig {
  std::string file;  // where it came from ("" = built-in default)
  std::string rules_dir = "rules/examples";
  std::string state_dir = ".reflex";
  bool watch_rules = true;
  std::string log_level = "info";
  KafkaConfig kafka;
  std::vector<SourceConfig> sources;
  ProcessingConfig processing;
  HttpConfig http;
  bool dry_run = false;  // decide and journal, execute no action
  YAML::Node actions;    // `actions:` executor settings (actions module)
  YAML::Node notifiers;  // `notifiers:` list (actions module)
};

// The embedded default (no file): one source `events` on topic reflex.events.
RunConfig DefaultRunConfig();

// Loads and validates a config file; applies environment overrides.
engine::Result<RunConfig> LoadRunConfig(const std::string& path, const EnvLookup& env);
// The same from text (`file` names it in errors).
engine::Result<RunConfig> ParseRunConfig(std::string_view text, const std::string& file,
                                         const EnvLookup& env);

// Every topic the consumer subscribes to ("^regex" for pattern sources).
std::vector<std::string> SubscriptionTopics(const RunConfig& config);

}  // namespace reflex::connectors
