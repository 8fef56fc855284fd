#include "reflex/connectors/config.h"

#include <re2/re2.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace reflex::connectors {

using engine::Result;
using engine::Status;

EnvLookup SystemEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

RunConfig DefaultRunConfig() {
  RunConfig c;
  SourceConfig s;
  s.name = "events";
  s.topics = {"reflex.events"};
  s.where = "sources[0]";
  c.sources.push_back(s);
  return c;
}

namespace {

// Collects every error with its position and key path.
class Checker {
 public:
  Checker(std::string file, const EnvLookup& env) : file_(std::move(file)), env_(env) {}

  void Error(const YAML::Node& at, const std::string& key, const std::string& message) {
    std::ostringstream os;
    os << file_;
    if (at && at.Mark().line >= 0) os << ":" << at.Mark().line + 1 << ":" << at.Mark().column + 1;
    os << ": " << key << ": " << message;
    errors_.push_back(os.str());
  }
  void ErrorAtFile(const std::string& message) { errors_.push_back(file_ + ": " + message); }

  // Refuses keys outside `allowed` (listing the valid ones).
  bool Map(const YAML::Node& n, const std::string& key,
           std::initializer_list<const char*> allowed) {
    if (!n.IsMap()) {
      Error(n, key, "expected a mapping");
      return false;
    }
    std::set<std::string> ok(allowed.begin(), allowed.end());
    for (auto kv : n) {
      const std::string k = kv.first.as<std::string>("");
      if (!ok.count(k)) {
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        Error(kv.first, Join(key, k), "unknown key (valid keys: " + list + ")");
      }
    }
    return true;
  }

  static std::string Join(const std::string& parent, const std::string& k) {
    return parent.empty() ? k : parent + "." + k;
  }

  void String(const YAML::Node& parent, const char* k, const std::string& path, std::string* out) {
    YAML::Node n = parent[k];
    if (!n) return;
    if (!n.IsScalar()) return Error(n, Join(path, k), "expected a string");
    *out = n.Scalar();
  }
  void Bool(const YAML::Node& parent, const char* k, const std::string& path, bool* out) {
    YAML::Node n = parent[k];
    if (!n) return;
    bool v = false;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
      return Error(n, Join(path, k), "expected true or false");
    }
    *out = v;
  }
  template <typename I>
  void Int(const YAML::Node& parent, const char* k, const std::string& path, I* out, int64_t lo,
           int64_t hi) {
    YAML::Node n = parent[k];
    if (!n) return;
    int64_t v = 0;
    if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) {
      return Error(n, Join(path, k), "expected an integer");
    }
    if (v < lo || v > hi) {
      return Error(n, Join(path, k),
                   "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    }
    *out = static_cast<I>(v);
  }
  // `<k>_env: NAME` reads the secret from the environment variable NAME.
  void Secret(const YAML::Node& parent, const std::string& k, const std::string& path,
              std::string* out) {
    YAML::Node n = parent[k + "_env"];
    if (!n) return;
    if (!n.IsScalar())
      return Error(n, Join(path, k + "_env"), "expected an environment variable name");
    auto v = env_(n.Scalar());
    if (!v) {
      return Error(n, Join(path, k + "_env"), "environment variable " + n.Scalar() + " is not set");
    }
    *out = *v;
  }

  const std::vector<std::string>& errors() const { return errors_; }
  const EnvLookup& env() const { return env_; }

 private:
  std::string file_;
  const EnvLookup& env_;
  std::vector<std::string> errors_;
};

void ReadKafka(Checker& c, const YAML::Node& n, KafkaConfig* k) {
  if (!c.Map(n, "kafka",
             {"brokers", "group_id", "properties", "decisions_topic", "escalations_topic",
              "dead_letter_topic", "exactly_once", "transactional_id", "embedded_partitions"})) {
    return;
  }
  c.String(n, "brokers", "kafka", &k->brokers);
  c.String(n, "group_id", "kafka", &k->group_id);
  c.String(n, "decisions_topic", "kafka", &k->decisions_topic);
  c.String(n, "escalations_topic", "kafka", &k->escalations_topic);
  c.String(n, "dead_letter_topic", "kafka", &k->dead_letter_topic);
  c.Bool(n, "exactly_once", "kafka", &k->exactly_once);
  c.String(n, "transactional_id", "kafka", &k->transactional_id);
  c.Int(n, "embedded_partitions", "kafka", &k->embedded_partitions, 1, 256);
  if (YAML::Node p = n["properties"]; p) {
    if (!p.IsMap()) {
      c.Error(p, "kafka.properties", "expected a mapping of librdkafka properties");
    } else {
      for (auto kv : p) {
        const std::string key = kv.first.as<std::string>("");
        if (!kv.second.IsScalar()) {
          c.Error(kv.second, "kafka.properties." + key, "expected a string value");
          continue;
        }
        k->properties[key] = kv.second.Scalar();
      }
    }
  }
  if (k->group_id.empty()) c.Error(n["group_id"], "kafka.group_id", "must not be empty");
}

void ReadSources(Checker& c, const YAML::Node& n, std::vector<SourceConfig>* out) {
  if (!n.IsSequence() || n.size() == 0) {
    c.Error(n, "sources", "expected a non-empty list of sources");
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < n.size(); ++i) {
    const YAML::Node s = n[i];
    const std::string where = "sources[" + std::to_string(i) + "]";
    if (!c.Map(s, where, {"name", "topics", "pattern", "mapping"})) continue;
    SourceConfig sc;
    sc.where = where;
    c.String(s, "name", where, &sc.name);
    if (sc.name.empty()) {
      c.Error(s, where + ".name", "every source needs a name");
    } else if (!names.insert(sc.name).second) {
      c.Error(s["name"], where + ".name", "duplicate source name '" + sc.name + "'");
    }
    if (YAML::Node t = s["topics"]; t) {
      if (t.IsScalar()) {
        sc.topics.push_back(t.Scalar());
      } else if (t.IsSequence()) {
        for (auto x : t) {
          if (!x.IsScalar() || x.Scalar().empty()) {
            c.Error(x, where + ".topics", "expected topic names");
          } else {
            sc.topics.push_back(x.Scalar());
          }
        }
      } else {
        c.Error(t, where + ".topics", "expected a topic name or a list of them");
      }
    }
    c.String(s, "pattern", where, &sc.pattern);
    if (!sc.pattern.empty()) {
      RE2 re(sc.pattern, RE2::Quiet);
      if (!re.ok()) c.Error(s["pattern"], where + ".pattern", "bad regex: " + re.error());
    }
    if (sc.topics.empty() == sc.pattern.empty()) {
      c.Error(s, where, "give either 'topics' or 'pattern'");
    }
    // Assigning a missing key's node would throw (an invalid node): copy only what exists.
    if (YAML::Node m = s["mapping"]; m) sc.mapping.reset(m);
    out->push_back(std::move(sc));
  }
}

void ReadProcessing(Checker& c, const YAML::Node& n, ProcessingConfig* p) {
  if (!c.Map(n, "processing",
             {"workers", "batch_size", "batch_wait_ms", "max_in_flight_batches",
              "shutdown_timeout_ms"})) {
    return;
  }
  c.Int(n, "workers", "processing", &p->workers, 1, 64);
  c.Int(n, "batch_size", "processing", &p->batch_size, 1, 1000000);
  c.Int(n, "batch_wait_ms", "processing", &p->batch_wait_ms, 0, 60000);
  c.Int(n, "max_in_flight_batches", "processing", &p->max_in_flight_batches, 1, 1024);
  c.Int(n, "shutdown_timeout_ms", "processing", &p->shutdown_timeout_ms, 0, 3600000);
}

void ReadHttp(Checker& c, const YAML::Node& n, HttpConfig* h) {
  if (!c.Map(n, "http",
             {"enabled", "listen", "token_env", "hmac_secret_env", "ingest_topic", "threads",
              "max_body_bytes"})) {
    return;
  }
  c.Bool(n, "enabled", "http", &h->enabled);
  c.String(n, "listen", "http", &h->listen);
  c.Secret(n, "token", "http", &h->token);
  c.Secret(n, "hmac_secret", "http", &h->hmac_secret);
  c.String(n, "ingest_topic", "http", &h->ingest_topic);
  c.Int(n, "threads", "http", &h->threads, 1, 256);
  c.Int(n, "max_body_bytes", "http", &h->max_body_bytes, 1, int64_t{1} << 30);
}

void ApplyEnv(const EnvLookup& env, RunConfig* c) {
  if (auto v = env("REFLEX_RULES")) c->rules_dir = *v;
  if (auto v = env("REFLEX_STATE_DIR")) c->state_dir = *v;
  if (auto v = env("REFLEX_KAFKA_BROKERS")) c->kafka.brokers = *v;
  if (auto v = env("REFLEX_HTTP_LISTEN")) c->http.listen = *v;
  if (auto v = env("REFLEX_HTTP_TOKEN")) c->http.token = *v;
  if (auto v = env("REFLEX_HTTP_HMAC_SECRET")) c->http.hmac_secret = *v;
}

// host:port with a numeric port.
bool ValidListen(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) return false;
  return std::all_of(s.begin() + static_cast<long>(colon) + 1, s.end(),
                     [](char ch) { return ch >= '0' && ch <= '9'; }) &&
         std::stol(s.substr(colon + 1)) <= 65535;
}

}  // namespace

Result<RunConfig> ParseRunConfig(std::string_view text, const std::string& file,
                                 const EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return engine::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  RunConfig cfg = DefaultRunConfig();
  cfg.file = file;
  Checker c(file, env);
  if (root.IsNull()) {
    ApplyEnv(env, &cfg);
    return cfg;
  }
  if (c.Map(root, "",
            {"rules", "state_dir", "watch_rules", "log_level", "kafka", "sources", "processing",
             "http", "dry_run", "actions", "notifiers"})) {
    c.String(root, "rules", "", &cfg.rules_dir);
    c.String(root, "state_dir", "", &cfg.state_dir);
    c.Bool(root, "watch_rules", "", &cfg.watch_rules);
    c.Bool(root, "dry_run", "", &cfg.dry_run);
    c.String(root, "log_level", "", &cfg.log_level);
    static const std::set<std::string> kLevels = {"debug", "info", "warn", "error"};
    if (!kLevels.count(cfg.log_level)) {
      c.Error(root["log_level"], "log_level", "expected debug, info, warn or error");
    }
    if (YAML::Node k = root["kafka"]; k) ReadKafka(c, k, &cfg.kafka);
    if (YAML::Node s = root["sources"]; s) {
      cfg.sources.clear();
      ReadSources(c, s, &cfg.sources);
    }
    if (YAML::Node p = root["processing"]; p) ReadProcessing(c, p, &cfg.processing);
    if (YAML::Node h = root["http"]; h) ReadHttp(c, h, &cfg.http);
    if (YAML::Node a = root["actions"]; a) cfg.actions.reset(a);
    if (YAML::Node n = root["notifiers"]; n) cfg.notifiers.reset(n);
  }
  ApplyEnv(env, &cfg);
  if (cfg.http.enabled && !ValidListen(cfg.http.listen)) {
    c.Error(root["http"] ? root["http"]["listen"] : YAML::Node(), "http.listen",
            "expected host:port, got '" + cfg.http.listen + "'");
  }
  if (cfg.kafka.exactly_once && cfg.kafka.transactional_id.empty()) {
    c.Error(root["kafka"], "kafka.transactional_id", "exactly_once needs a transactional_id");
  }
  if (!c.errors().empty()) {
    // In file order: by line, then column (errors without a position last).
    auto pos = [&](const std::string& e) {
      int line = INT32_MAX, col = 0;
      std::sscanf(e.c_str() + std::min(e.size(), file.size()), ":%d:%d", &line, &col);
      return std::pair<int, int>(line, col);
    };
    std::vector<std::string> sorted = c.errors();
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](const std::string& a, const std::string& b) { return pos(a) < pos(b); });
    std::string all;
    for (const auto& e : sorted) all += (all.empty() ? "" : "\n") + e;
    return engine::InvalidArgument(all);
  }
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

}  // namespace reflex::connectors
