// The run config: defaults, every error with its key path and position, secrets from the
// environment, overrides, and the subscription list.
#include "reflex/connectors/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace reflex::connectors {
namespace {

using engine::Status;
using ::testing::HasSubstr;

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(RunConfigTest, EmptyFileIsTheEmbeddedDefault) {
  auto c = ParseRunConfig("", "r.yaml", FakeEnv({}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->kafka.brokers.empty()) << "no brokers: the embedded broker";
  EXPECT_EQ(c->rules_dir, "rules/examples");
  ASSERT_EQ(c->sources.size(), 1u);
  EXPECT_EQ(c->sources[0].topics, std::vector<std::string>{"reflex.events"});
  EXPECT_TRUE(c->sources[0].mapping.passthrough()) << "no mapping: events pass through";
  EXPECT_EQ(c->http.listen.ToString(), "127.0.0.1:8080");
  EXPECT_FALSE(c->kafka.exactly_once);
}

TEST(RunConfigTest, FullFileIsRead) {
  auto c = ParseRunConfig(R"(rules: /etc/reflex/rules
state_dir: /var/lib/reflex
kafka:
  brokers: k1:9092,k2:9092
  group_id: ops
  properties: {security.protocol: SASL_SSL}
  exactly_once: true
  transactional_id: reflex-a
sources:
  - name: am
    topics: [alerts]
    mapping: {kind: alertmanager}
  - name: zbx
    pattern: "zabbix\\..*"
processing: {workers: 2, batch_size: 500}
http: {listen: "0.0.0.0:9000", token_env: TOKEN}
)",
                          "r.yaml", FakeEnv({{"TOKEN", "t0k"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->kafka.brokers, "k1:9092,k2:9092");
  EXPECT_EQ(c->kafka.properties.at("security.protocol"), "SASL_SSL");
  EXPECT_TRUE(c->kafka.exactly_once);
  ASSERT_EQ(c->sources.size(), 2u);
  EXPECT_EQ(c->sources[0].mapping.spec().kind, MappingKind::kAlertmanager);
  EXPECT_EQ(c->processing.workers, 2);
  EXPECT_EQ(c->http.token, "t0k");
  EXPECT_EQ(SubscriptionTopics(*c), (std::vector<std::string>{"^zabbix\\..*", "alerts"}));
}

TEST(RunConfigTest, EventCapsHaveDefaultsAndAreRead) {
  auto d = ParseRunConfig("", "r.yaml", FakeEnv({}));
  ASSERT_TRUE(d.ok()) << d.status().message();
  const engine::EventLimits def = d->processing.event_limits();
  EXPECT_EQ(def.max_labels, 1000u);
  EXPECT_EQ(def.max_values, 1000u);
  EXPECT_EQ(def.max_depth, 32);

  auto c = ParseRunConfig("processing: {max_labels: 60000, max_values: 5, max_depth: 64}\n",
                          "r.yaml", FakeEnv({}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const engine::EventLimits l = c->processing.event_limits();
  EXPECT_EQ(l.max_labels, 60000u);
  EXPECT_EQ(l.max_values, 5u);
  EXPECT_EQ(l.max_depth, 64);

  auto bad =
      ParseRunConfig("processing: {max_labels: 0, max_depth: 1000}\n", "r.yaml", FakeEnv({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(),
              HasSubstr("processing.max_labels: must be between 1 and 1000000"));
  EXPECT_THAT(bad.status().message(), HasSubstr("processing.max_depth: must be between 2 and 512"));
}

TEST(RunConfigTest, EveryErrorIsReportedWithKeyAndPosition) {
  auto c = ParseRunConfig(R"(kafka:
  group_idd: x
  exactly_once: maybe
processing: {workers: 0}
sources:
  - name: a
  - name: a
    topics: [t]
    pattern: "("
http: {listen: nowhere, token_env: UNSET}
bogus: 1
)",
                          "r.yaml", FakeEnv({}));
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_THAT(m, HasSubstr("r.yaml:2:3: kafka.group_idd: unknown key (valid keys: brokers,"));
  EXPECT_THAT(m, HasSubstr("r.yaml:3:17: kafka.exactly_once: expected true or false"));
  EXPECT_THAT(m, HasSubstr("r.yaml:4:23: processing.workers: must be between 1 and 64"));
  EXPECT_THAT(m, HasSubstr("sources[0]: give either 'topics' or 'pattern'"));
  EXPECT_THAT(m, HasSubstr("sources[1].name: duplicate source name 'a'"));
  EXPECT_THAT(m, HasSubstr("sources[1].pattern: bad regex"));
  EXPECT_THAT(m, HasSubstr("http.token_env: environment variable UNSET is not set"));
  EXPECT_THAT(m, HasSubstr("http.listen: expected host:port, got 'nowhere'"));
  EXPECT_THAT(m, HasSubstr("r.yaml:11:1: bogus: unknown key"));
  // Every line starts with the file name.
  size_t lines = 0;
  for (size_t at = 0; at != std::string::npos; at = m.find('\n', at + 1)) ++lines;
  EXPECT_EQ(lines, 10u) << m;
}

TEST(RunConfigTest, YamlSyntaxErrorHasItsPosition) {
  auto c = ParseRunConfig("kafka: [\n  - {\n", "r.yaml", FakeEnv({}));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), ::testing::StartsWith("r.yaml:"));
}

TEST(RunConfigTest, EnvironmentOverridesTheFile) {
  auto c = ParseRunConfig("rules: a\nkafka: {brokers: file:9092}\n", "r.yaml",
                          FakeEnv({{"REFLEX_RULES", "b"},
                                   {"REFLEX_KAFKA_BROKERS", "env:9092"},
                                   {"REFLEX_HTTP_TOKEN", "secret"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->rules_dir, "b");
  EXPECT_EQ(c->kafka.brokers, "env:9092");
  EXPECT_EQ(c->http.token, "secret");
}

// Group membership: defaults that move a dead replica's partitions within seconds, the
// instance id from the environment (a pod's name), a heartbeat that leaves the session no
// slack refused at its position, and the same settings through kafka.properties refused.
TEST(RunConfigTest, GroupMembershipIsReadAndChecked) {
  auto d = ParseRunConfig("", "r.yaml", FakeEnv({}));
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->kafka.assignor, Assignor::kRange);
  EXPECT_EQ(d->kafka.session_timeout_ms, 6000);
  EXPECT_EQ(d->kafka.heartbeat_interval_ms, 1000);
  EXPECT_EQ(d->kafka.group_instance_id, "");
  auto c = ParseRunConfig(
      "kafka: {assignor: cooperative-sticky, session_timeout_ms: 9000, "
      "heartbeat_interval_ms: 3000}\n",
      "r.yaml", FakeEnv({{"REFLEX_KAFKA_GROUP_INSTANCE_ID", "reflex-2"}}));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->kafka.assignor, Assignor::kCooperativeSticky);
  EXPECT_EQ(c->kafka.session_timeout_ms, 9000);
  EXPECT_EQ(c->kafka.heartbeat_interval_ms, 3000);
  EXPECT_EQ(c->kafka.group_instance_id, "reflex-2");
  auto bad = ParseRunConfig(R"(kafka:
  assignor: sticky
  heartbeat_interval_ms: 2500
  properties: {session.timeout.ms: '45000'}
)",
                            "r.yaml", FakeEnv({}));
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  EXPECT_THAT(m, HasSubstr("r.yaml:2:13: kafka.assignor:"));
  EXPECT_THAT(m, HasSubstr("r.yaml:3:26: kafka.heartbeat_interval_ms: 2500 ms is more than a "
                           "third of session_timeout_ms (6000 ms)"));
  EXPECT_THAT(m, HasSubstr("kafka.properties: session.timeout.ms is set by kafka.assignor"));
}

TEST(RunConfigTest, MissingFileIsNotFound) {
  auto c = LoadRunConfig("/nonexistent/reflex.yaml", FakeEnv({}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), engine::StatusCode::kNotFound);
}

TEST(RunConfigTest, EmptySecretsAreErrorsNotNoAuthentication) {
  auto from_file = ParseRunConfig("http: {token_env: EMPTY, hmac_secret_env: ALSO_EMPTY}\n",
                                  "r.yaml", FakeEnv({{"EMPTY", ""}, {"ALSO_EMPTY", ""}}));
  ASSERT_FALSE(from_file.ok());
  EXPECT_THAT(from_file.status().message(),
              HasSubstr("r.yaml:1:19: http.token_env: environment variable EMPTY is empty"));
  EXPECT_THAT(from_file.status().message(),
              HasSubstr("http.hmac_secret_env: environment variable ALSO_EMPTY is empty"));
  // The override variable set but empty used to replace a configured token with none.
  auto from_env = ParseRunConfig("http: {token_env: TOKEN}\n", "r.yaml",
                                 FakeEnv({{"TOKEN", "t0k"}, {"REFLEX_HTTP_TOKEN", ""}}));
  ASSERT_FALSE(from_env.ok());
  EXPECT_THAT(from_env.status().message(), HasSubstr("REFLEX_HTTP_TOKEN: is set but empty"));
}

// REST API tokens: each with a name and a role, the secret from the environment; an unset
// or empty variable, a short token, a name or a token given twice, an unknown role are
// errors with their position.
TEST(RunConfigTest, ApiTokensNeedANameARoleAndALongEnoughSecret) {
  auto ok = ParseRunConfig(
      "http:\n  api_tokens:\n    - {name: alice, role: operator, token_env: A}\n"
      "    - {name: bob, token_env: B}\n",
      "r.yaml", FakeEnv({{"A", "alice-token-0123456789"}, {"B", "bob-token-0123456789"}}));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->http.api_tokens.size(), 2u);
  EXPECT_EQ(ok->http.api_tokens[0].name, "alice");
  EXPECT_EQ(ok->http.api_tokens[0].role, ApiRole::kOperator);
  EXPECT_EQ(ok->http.api_tokens[0].token, "alice-token-0123456789");
  EXPECT_EQ(ok->http.api_tokens[1].role, ApiRole::kViewer) << "the default role reads only";

  auto bad = ParseRunConfig(
      "http:\n  api_tokens:\n"
      "    - {name: a, role: operator, token_env: SHORT}\n"
      "    - {name: a, role: root, token_env: EMPTY}\n"
      "    - {name: c, token_env: UNSET}\n"
      "    - {name: d, token_env: SAME}\n"
      "    - {name: e, token_env: SAME}\n"
      "    - {role: admin, token_env: SAME}\n",
      "r.yaml", FakeEnv({{"SHORT", "short"}, {"EMPTY", ""}, {"SAME", "same-token-0123456789"}}));
  ASSERT_FALSE(bad.ok());
  const std::string m = bad.status().message();
  EXPECT_THAT(m, HasSubstr("r.yaml:3:44: http.api_tokens[0].token_env: the token is 5 characters "
                           "long; use at least 16"));
  EXPECT_THAT(m, HasSubstr("http.api_tokens[1].role: unknown value 'root' (expected one of: "
                           "viewer, operator, admin)"));
  EXPECT_THAT(m, HasSubstr("http.api_tokens[1].token_env: environment variable EMPTY is empty"));
  EXPECT_THAT(m, HasSubstr("http.api_tokens[2].token_env: environment variable UNSET is not set"));
  EXPECT_THAT(m, HasSubstr("http.api_tokens[1].name: 'a' is used twice"));
  EXPECT_THAT(m, HasSubstr("http.api_tokens[4].token_env: the same token is given to two names"));
  EXPECT_THAT(m, HasSubstr("http.api_tokens[5].name: missing required key"));
  EXPECT_EQ(m.find("same-token-0123456789"), std::string::npos) << "never the secret itself";
  EXPECT_EQ(m.find("short\n"), std::string::npos);
}

TEST(RunConfigTest, APublicListenerMustAuthenticate) {
  HttpConfig h;
  EXPECT_TRUE(CheckListenerAuth(h).ok()) << "127.0.0.1 by default";
  for (const char* host : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) {
    h.listen.host = host;
    EXPECT_TRUE(CheckListenerAuth(h).ok()) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.1.2.3", "reflex.example"}) {
    h.listen.host = host;
    Status s = CheckListenerAuth(h);
    EXPECT_EQ(s.code(), engine::StatusCode::kInvalidArgument) << host;
    EXPECT_THAT(s.message(), HasSubstr("allow_unauthenticated")) << host;
  }
  h.listen.host = "0.0.0.0";
  h.token = "t0k";
  EXPECT_TRUE(CheckListenerAuth(h).ok()) << "a token";
  h.token.clear();
  h.hmac_secret = "k";
  EXPECT_TRUE(CheckListenerAuth(h).ok()) << "an HMAC secret";
  h.hmac_secret.clear();
  h.enabled = false;
  EXPECT_TRUE(CheckListenerAuth(h).ok()) << "no listener at all";
  h.enabled = true;
  auto allowed = ParseRunConfig("http: {listen: '0.0.0.0:9000', allow_unauthenticated: true}\n",
                                "r.yaml", FakeEnv({}));
  ASSERT_TRUE(allowed.ok()) << allowed.status().message();
  EXPECT_TRUE(CheckListenerAuth(allowed->http).ok()) << "said explicitly";
}

TEST(RunConfigTest, TheWebhookIngestTopicMustBeDecided) {
  auto parse = [](const std::string& yaml) {
    auto c = ParseRunConfig(yaml, "r.yaml", FakeEnv({}));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? *c : RunConfig{};
  };
  EXPECT_TRUE(CheckIngestConsumed(DefaultRunConfig()).ok()) << "the embedded default";
  // The first source's first topic is the default ingest topic; here it is Alertmanager's,
  // so webhook events (already mapped) would be dead-lettered as malformed alerts.
  const RunConfig am_first = parse(
      "sources:\n"
      "  - {name: am, topics: [alerts.am], mapping: {kind: alertmanager}}\n"
      "  - {name: events, topics: [reflex.events]}\n");
  Status s = CheckIngestConsumed(am_first);
  EXPECT_EQ(s.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("topic 'alerts.am' is consumed by source 'am' with mapping "
                                     "kind alertmanager"));
  RunConfig fixed = am_first;
  fixed.http.ingest_topic = "reflex.events";
  EXPECT_TRUE(CheckIngestConsumed(fixed).ok()) << CheckIngestConsumed(fixed).message();
  // An ingest topic nobody reads: accepted with 202, never decided.
  const RunConfig unread = parse("http: {ingest_topic: webhook.in}\n");
  s = CheckIngestConsumed(unread);
  EXPECT_EQ(s.code(), engine::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("no source consumes topic 'webhook.in'"));
  RunConfig off = unread;
  off.http.enabled = false;
  EXPECT_TRUE(CheckIngestConsumed(off).ok()) << "no webhook, nothing to decide";
  // A pattern source counts, with the runner's choice of source: exact names first.
  const RunConfig by_pattern = parse(
      "http: {ingest_topic: webhook.in}\n"
      "sources: [{name: all, pattern: 'webhook\\..*'}]\n");
  EXPECT_TRUE(CheckIngestConsumed(by_pattern).ok()) << CheckIngestConsumed(by_pattern).message();
  EXPECT_EQ(SourceForTopic(by_pattern, "webhook.in"), std::optional<size_t>(0));
  EXPECT_EQ(SourceForTopic(by_pattern, "x.webhook.in"), std::nullopt) << "subscribed as ^pattern";
  const RunConfig exact_wins = parse(
      "http: {ingest_topic: webhook.in}\n"
      "sources:\n"
      "  - {name: all, pattern: 'webhook\\..*', mapping: {kind: alertmanager}}\n"
      "  - {name: hook, topics: [webhook.in]}\n");
  EXPECT_EQ(SourceForTopic(exact_wins, "webhook.in"), std::optional<size_t>(1));
  EXPECT_TRUE(CheckIngestConsumed(exact_wins).ok());
}

TEST(RunConfigTest, StorageDurabilityIsReadAndCheckedWithPosition) {
  auto defaults = ParseRunConfig("", "r.yaml", FakeEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->storage.durability, base::Durability::kNormal);
  auto fsync = ParseRunConfig("storage:\n  durability: fsync\n", "r.yaml", FakeEnv({}));
  ASSERT_TRUE(fsync.ok()) << fsync.status().ToString();
  EXPECT_EQ(fsync->storage.durability, base::Durability::kFsync);
  auto bad = ParseRunConfig("storage:\n  durability: always\n", "r.yaml", FakeEnv({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("r.yaml:2:15: storage.durability:"));
  EXPECT_THAT(bad.status().message(), HasSubstr("normal, fsync"));
}

// storage.store: SQLite by default; PostgreSQL needs dsn_env naming a set, non-empty
// variable, and dsn_env is refused with SQLite.
TEST(RunConfigTest, StorageStoreSelectsTheDatabaseAndNeedsTheDsnOnlyForPostgresql) {
  auto defaults = ParseRunConfig("", "r.yaml", FakeEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->storage.store.kind, base::StoreKind::kSqlite);
  EXPECT_EQ(defaults->storage.store.dsn, "");

  auto pg = ParseRunConfig("storage:\n  store: {kind: postgresql, dsn_env: PG_DSN}\n", "r.yaml",
                           FakeEnv({{"PG_DSN", "host=db dbname=reflex"}}));
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  EXPECT_EQ(pg->storage.store.kind, base::StoreKind::kPostgresql);
  EXPECT_EQ(pg->storage.store.dsn, "host=db dbname=reflex");

  auto missing = ParseRunConfig("storage:\n  store: {kind: postgresql}\n", "r.yaml", FakeEnv({}));
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("storage.store.dsn_env: missing required key"));

  auto unset = ParseRunConfig("storage:\n  store: {kind: postgresql, dsn_env: PG_DSN}\n", "r.yaml",
                              FakeEnv({}));
  ASSERT_FALSE(unset.ok());
  EXPECT_THAT(unset.status().message(), HasSubstr("environment variable PG_DSN is not set"));

  auto empty = ParseRunConfig("storage:\n  store: {kind: postgresql, dsn_env: PG_DSN}\n", "r.yaml",
                              FakeEnv({{"PG_DSN", ""}}));
  ASSERT_FALSE(empty.ok());
  EXPECT_THAT(empty.status().message(), HasSubstr("environment variable PG_DSN is empty"));

  auto with_sqlite = ParseRunConfig("storage:\n  store: {kind: sqlite, dsn_env: PG_DSN}\n",
                                    "r.yaml", FakeEnv({{"PG_DSN", "host=db"}}));
  ASSERT_FALSE(with_sqlite.ok());
  EXPECT_THAT(with_sqlite.status().message(),
              HasSubstr("storage.store.dsn_env: only valid with kind: postgresql"));

  auto bad_kind = ParseRunConfig("storage:\n  store: {kind: mysql}\n", "r.yaml", FakeEnv({}));
  ASSERT_FALSE(bad_kind.ok());
  EXPECT_THAT(bad_kind.status().message(), HasSubstr("sqlite, postgresql"));
}

// storage.claims and storage.check_interval: the defaults the components had, durations read
// as such, and a value out of range refused with its key.
TEST(RunConfigTest, StorageClaimsAndCheckIntervalAreReadWithTheirDefaults) {
  auto defaults = ParseRunConfig("", "r.yaml", FakeEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->storage.claims.run_lease_ms, 30000);
  EXPECT_EQ(defaults->storage.claims.notice_lease_ms, 300000);
  EXPECT_EQ(defaults->storage.claims.notice_takeover_interval_ms, 30000);
  EXPECT_EQ(defaults->storage.check_interval_ms, 5000);

  auto set = ParseRunConfig(
      "storage:\n  claims: {run_lease: 12s, notice_lease: 2m, notice_takeover_interval: 5s}\n"
      "  check_interval: 750ms\n",
      "r.yaml", FakeEnv({}));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->storage.claims.run_lease_ms, 12000);
  EXPECT_EQ(set->storage.claims.notice_lease_ms, 120000);
  EXPECT_EQ(set->storage.claims.notice_takeover_interval_ms, 5000);
  EXPECT_EQ(set->storage.check_interval_ms, 750);

  auto too_short = ParseRunConfig("storage:\n  claims: {run_lease: 10ms}\n", "r.yaml", FakeEnv({}));
  ASSERT_FALSE(too_short.ok());
  EXPECT_THAT(too_short.status().message(), HasSubstr("storage.claims.run_lease"));
  auto unknown = ParseRunConfig("storage:\n  claims: {lease: 10s}\n", "r.yaml", FakeEnv({}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("storage.claims.lease"));
}

}  // namespace
}  // namespace reflex::connectors
