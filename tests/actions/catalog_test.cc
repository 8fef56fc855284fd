// The action catalog: parsing every kind and preset, rendering requests from templates, and
// load-time errors with file:line:column positions.
#include "reflex/actions/catalog.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "exec_test_util.h"
#include "reflex/actions/driver.h"
#include "reflex/base/config_schema.h"
#include "reflex/base/strings.h"
#include "render_util.h"

namespace reflex::actions {
namespace {

std::string TargetOf(ActionKind kind, const nlohmann::json& request) {
  auto t = DefaultDrivers().Target(kind, request);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : "";
}

engine::Event ParseEvent(const std::string& json) {
  engine::EventParser parser;
  engine::Event ev;
  EXPECT_TRUE(parser.Parse(json, 0, &ev).ok());
  return ev;
}

constexpr const char* kFull = R"yaml(actions:
  clean_tmp:
    kind: webhook
    description: Delete old files.
    params: [host, path]
    method: put
    url: "https://ops.example/hosts/{{params.host}}/clean?path={{params.path}}"
    headers:
      X-Event: "{{event.id}}"
    body:
      host: "{{params.host}}"
      path: "{{ params.path }}"
      older_than: 7
      dry: false
      note: "from {{table}}/{{row}} ({{action}}) {{event.labels.alertname}}"
      tags: ["{{params.host}}", "x"]
    timeout: 5s
    retries: {max_attempts: 4, backoff_base: 100ms, backoff_max: 2s, jitter: none}
    concurrency: 2
    throttle: {once_within: 10m, group_by: [params.host]}
    suppress: {interval: 1h, count: 3, group_by: [params.host, event.labels.alertname]}
    circuit_breaker: {failures: 5, reset_after: 30s}
    approval: required
    approval_ttl: 2h
    notify: {before: true, after: false}
  restart:
    kind: command
    params: [unit]
    argv: [/usr/bin/systemctl, restart, "{{params.unit}}"]
    env: {UNIT: "{{params.unit}}"}
    cwd: /tmp
  publish:
    kind: kafka
    params: [host]
    topic: ops.actions
    key: "{{params.host}}"
    value: {host: "{{params.host}}", n: 1}
  conclude:
    kind: emit
    params: [host]
    event:
      labels: {alertname: Remediated, instance: "{{params.host}}"}
      message: "cleaned {{params.host}}"
)yaml";

TEST(CatalogTest, ParsesEveryKindAndPolicy) {
  auto c = ParseCatalog(kFull, "actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->actions().size(), 4u);
  const ActionSpec* s = c->Find("clean_tmp");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->kind, ActionKind::kWebhook);
  EXPECT_EQ(s->line, 2);
  EXPECT_EQ(s->webhook.method, "PUT");
  EXPECT_EQ(s->timeout_ms, 5000);
  EXPECT_EQ(s->retry.max_attempts, 4);
  EXPECT_EQ(s->retry.base_ms, 100);
  EXPECT_EQ(s->retry.max_ms, 2000);
  EXPECT_FALSE(s->retry.jitter);
  EXPECT_EQ(s->concurrency, 2);
  EXPECT_EQ(s->throttle.window_ms, 600000);
  EXPECT_EQ(s->throttle.count, 1);
  EXPECT_EQ(s->suppress.window_ms, 3600000);
  EXPECT_EQ(s->suppress.count, 3);
  EXPECT_EQ(s->suppress.group_by.size(), 2u);
  EXPECT_EQ(s->breaker.failures, 5);
  EXPECT_EQ(s->breaker.reset_after_ms, 30000);
  EXPECT_TRUE(s->approval_required);
  EXPECT_EQ(s->approval_ttl_ms, 7200000);
  EXPECT_TRUE(s->notify_before);
  EXPECT_FALSE(s->notify_after);
  EXPECT_EQ(c->Find("restart")->kind, ActionKind::kCommand);
  EXPECT_EQ(c->Find("publish")->kind, ActionKind::kKafka);
  EXPECT_EQ(c->Find("conclude")->kind, ActionKind::kEmit);
  EXPECT_EQ(c->Find("nope"), nullptr);
}

TEST(CatalogTest, RendersWebhookRequestSafely) {
  auto c = ParseCatalog(kFull, "actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  engine::Event ev = ParseEvent(test::EventJson("evt-1"));
  // Values that try to break out of the URL, the header and the JSON body.
  std::vector<std::pair<std::string, std::string>> params = {
      {"host", "a/b?c=\"d\"\r\nX-Injected: 1"}, {"path", "/tmp & rm -rf /"}};
  ActionContext ctx{&ev, &params, "clean_tmp", "disk", "disk-tmp", "v-1"};
  nlohmann::json r = RenderRequest(*c->Find("clean_tmp"), ctx);
  EXPECT_EQ(r["method"], "PUT");
  EXPECT_EQ(r["url"],
            "https://ops.example/hosts/a%2Fb%3Fc%3D%22d%22%0D%0AX-Injected%3A%201/"
            "clean?path=%2Ftmp%20%26%20rm%20-rf%20%2F");
  nlohmann::json body = nlohmann::json::parse(r["body"].get<std::string>());
  EXPECT_EQ(body["host"], params[0].second);  // carried as a JSON string, intact
  EXPECT_EQ(body["older_than"], 7);
  EXPECT_EQ(body["dry"], false);
  EXPECT_EQ(body["note"], "from disk/disk-tmp (clean_tmp) DiskFull");
  EXPECT_EQ(body["tags"][0], params[0].second);
  bool saw_event = false, saw_type = false;
  for (const auto& h : r["headers"]) {
    if (h[0] == "X-Event") saw_event = h[1] == "evt-1";
    if (h[0] == "Content-Type") saw_type = h[1] == "application/json";
  }
  EXPECT_TRUE(saw_event);
  EXPECT_TRUE(saw_type);
  EXPECT_EQ(TargetOf(ActionKind::kWebhook, r), "ops.example");
}

TEST(CatalogTest, RendersCommandKafkaAndEmit) {
  auto c = ParseCatalog(kFull, "actions.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::vector<std::pair<std::string, std::string>> params = {{"unit", "nginx; reboot"},
                                                             {"host", "web-01"}};
  ActionContext ctx{nullptr, &params, "restart", "t", "r", "v"};
  nlohmann::json cmd = RenderRequest(*c->Find("restart"), ctx);
  EXPECT_EQ(cmd["argv"], nlohmann::json({"/usr/bin/systemctl", "restart", "nginx; reboot"}));
  EXPECT_EQ(cmd["env"][0], nlohmann::json({"UNIT", "nginx; reboot"}));
  EXPECT_EQ(cmd["cwd"], "/tmp");
  EXPECT_EQ(TargetOf(ActionKind::kCommand, cmd), "/usr/bin/systemctl");
  nlohmann::json k = RenderRequest(*c->Find("publish"), ctx);
  EXPECT_EQ(k["topic"], "ops.actions");
  EXPECT_EQ(k["key"], "web-01");
  EXPECT_EQ(nlohmann::json::parse(k["value"].get<std::string>()),
            nlohmann::json({{"host", "web-01"}, {"n", 1}}));
  nlohmann::json e = RenderRequest(*c->Find("conclude"), ctx);
  nlohmann::json ev = nlohmann::json::parse(e["event"].get<std::string>());
  EXPECT_EQ(ev["labels"]["instance"], "web-01");
  EXPECT_EQ(ev["message"], "cleaned web-01");
}

TEST(CatalogTest, AwxPreset) {
  auto c = ParseCatalog(R"yaml(actions:
  restart_service:
    kind: webhook
    preset: awx
    params: [host, unit]
    base_url: https://awx.example/
    job_template: 42
    limit: "{{params.host}}"
    token_env: AWX_TOKEN
)yaml",
                        "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::vector<std::pair<std::string, std::string>> params = {{"host", "web-01"}, {"unit", "nginx"}};
  ActionContext ctx{nullptr, &params, "restart_service", "t", "r", "v"};
  nlohmann::json r = RenderRequest(*c->Find("restart_service"), ctx);
  EXPECT_EQ(r["method"], "POST");
  EXPECT_EQ(r["url"], "https://awx.example/api/v2/job_templates/42/launch/");
  EXPECT_EQ(
      nlohmann::json::parse(r["body"].get<std::string>()),
      nlohmann::json::parse(R"({"extra_vars":{"host":"web-01","unit":"nginx"},"limit":"web-01"})"));
  EXPECT_EQ(c->Find("restart_service")->webhook.token_env, "AWX_TOKEN");
}

TEST(CatalogTest, ExastroItaPreset) {
  auto c = ParseCatalog(R"yaml(actions:
  run_conductor:
    kind: webhook
    preset: exastro_ita
    params: [host]
    base_url: https://ita.example
    organization: org1
    workspace: ws1
    conductor: restart-web
    operation: "op-{{params.host}}"
    token_file: /etc/reflex/ita.token
)yaml",
                        "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  std::vector<std::pair<std::string, std::string>> params = {{"host", "web-01"}};
  ActionContext ctx{nullptr, &params, "run_conductor", "t", "r", "v"};
  nlohmann::json r = RenderRequest(*c->Find("run_conductor"), ctx);
  EXPECT_EQ(r["url"],
            "https://ita.example/api/org1/workspaces/ws1/ita/menu/conductor_class_edit/"
            "conductor/execute/");
  EXPECT_EQ(nlohmann::json::parse(r["body"].get<std::string>()),
            nlohmann::json::parse(R"({"conductor_class_name":"restart-web",
              "operation_name":"op-web-01","schedule_date":""})"));
}

TEST(CatalogTest, ReportsEveryErrorWithPosition) {
  auto c = ParseCatalog(R"yaml(actions:
  a:
    kind: webhook
    params: [host]
    url: "http://x/{{params.hots}}"
    colour: red
  b:
    kind: teleport
  c:
    kind: command
    argv: ["{{params.prog}}", x]
  d:
    kind: command
    argv: [rm, -rf]
  e:
    kind: kafka
    topic: t
    value: v
    timeout: 5 fortnights
  f:
    kind: webhook
    url: "http://x/{{event.labels.}}"
    throttle: {once_within: 10m, group_by: [params.nope]}
  ignore:
    kind: emit
)yaml",
                        "rules/actions.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("rules/actions.yaml:5:10: actions.a.url: template offset 10: unknown variable "
                   "'params.hots': the action's params are [host]"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:6:5: actions.a.colour: unknown key (valid keys: kind,"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:8:11: actions.b.kind: unknown value 'teleport' (expected "
                   "one of: webhook, command, kafka, emit)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:11:12: actions.c.argv[0]: template offset 1: unknown "
                   "variable 'params.prog'"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:14:12: actions.d.argv[0]: the program must be an absolute "
                   "path"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:19:14: actions.e.timeout: bad duration unit"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:22:10: actions.f.url: template offset 10: bad event field"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:23:45: actions.f.throttle.group_by[0]: template offset 1: "
                   "unknown variable 'params.nope'"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("rules/actions.yaml:24:3: actions.ignore: 'ignore' is a built-in outcome"),
            std::string::npos)
      << m;
}

TEST(CatalogTest, CommandProgramMayNotBeATemplate) {
  auto c = ParseCatalog(R"yaml(actions:
  run:
    kind: command
    params: [prog]
    argv: ["{{params.prog}}"]
)yaml",
                        "a.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(
                "a.yaml:5:12: actions.run.argv[0]: the program must be a fixed path, not a "
                "template"),
            std::string::npos)
      << c.status().message();
}

TEST(CatalogTest, MissingRequiredKeysAndYamlSyntax) {
  auto c = ParseCatalog("actions:\n  w:\n    kind: webhook\n  k:\n    kind: kafka\n", "a.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("a.yaml:3:5: actions.w.url: missing required key"),
            std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("a.yaml:5:5: actions.k.topic: missing required key"),
            std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("a.yaml:5:5: actions.k.value: missing required key"),
            std::string::npos)
      << c.status().message();
  auto y = ParseCatalog("actions:\n  w: [unclosed\n", "b.yaml");
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("b.yaml:"), std::string::npos);
  EXPECT_NE(y.status().message().find("YAML syntax"), std::string::npos);
  auto f = LoadCatalog("/nonexistent/actions.yaml");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("cannot open"), std::string::npos);
}

// Every kind of problem the schema finds, each a Diagnostic with its file, position and key
// path, reported in one pass.
TEST(CatalogTest, ReadCatalogReportsEveryKindOfProblemAtOnce) {
  base::Diagnostics diags;
  base::ConfigContext ctx("rules/actions.yaml", base::NoEnv(), &diags);
  auto c = ReadCatalog(YAML::Load(R"yaml(actions:
  w:
    kind: webhook
    url: https://x/
    concurrency: many
    retries: {max_attempts: 0, backoff_base: 10s, backoff_max: 1s, jitter: sometimes}
    argv: [/bin/true]
    description: [a, list]
    notify: {before: maybe}
  c:
    kind: command
    argv: /bin/true
    expected_codes: [200]
    ok_exit_codes: [0, 300]
    max_output: -1
  a:
    kind: webhook
    preset: awx
    base_url: https://awx/
    url: https://x/
    throttle: {group_by: [params.host]}
  e:
    kind: emit
    event: text
extra: 1
)yaml"),
                       ctx);
  EXPECT_FALSE(c.has_value());
  struct Want {
    int line, column;
    const char* key_path;
    const char* message;
  };
  const Want want[] = {
      {5, 18, "actions.w.concurrency", "expected an integer"},
      {6, 29, "actions.w.retries.max_attempts", "must be between 1 and 1000"},
      {6, 76, "actions.w.retries.jitter", "unknown value 'sometimes' (expected one of: full,"},
      {7, 5, "actions.w.argv", "only valid with kind: command"},
      {8, 18, "actions.w.description", "expected a string"},
      {9, 22, "actions.w.notify.before", "expected true or false"},
      {12, 11, "actions.c.argv", "expected a non-empty list"},
      {13, 5, "actions.c.expected_codes", "only valid with kind: webhook"},
      {14, 24, "actions.c.ok_exit_codes[1]", "must be between 0 and 255"},
      {15, 17, "actions.c.max_output", "must be between 0 and 16777216"},
      {17, 5, "actions.a.job_template", "missing required key"},
      {20, 5, "actions.a.url", "only valid with kind: webhook without a preset"},
      {21, 15, "actions.a.throttle.once_within", "missing required key"},
      {24, 12, "actions.e.event", "expected a mapping"},
      {25, 1, "extra", "unknown key (valid keys: actions)"},
  };
  for (const Want& w : want) {
    bool found = false;
    for (const auto& d : diags.items()) {
      found = found || (d.file == "rules/actions.yaml" && d.line == w.line &&
                        d.column == w.column && d.key_path == w.key_path &&
                        d.message.find(w.message) == 0 && d.severity == base::Severity::kError);
    }
    EXPECT_TRUE(found) << w.line << ":" << w.column << ": " << w.key_path << ": " << w.message
                       << "\nin:\n"
                       << diags.ToStatus().message();
  }
  // backoff_max below backoff_base is the retry policy's own check, run after its keys.
  EXPECT_NE(diags.ToStatus().message().find(
                "rules/actions.yaml:6:64: actions.w.retries.backoff_max: is smaller than "
                "backoff_base"),
            std::string::npos)
      << diags.ToStatus().message();
  EXPECT_EQ(diags.error_count(), std::size(want) + 1) << diags.ToStatus().message();
}

TEST(CatalogTest, LoadCatalogGivesDiagnostics) {
  const std::string path = ::testing::TempDir() + "/catalog_diags_actions.yaml";
  {
    std::ofstream f(path);
    f << "actions:\n  a:\n    kind: kafka\n    topic: t\n    value: v\n    retries: 1001\n";
  }
  base::Diagnostics diags;
  EXPECT_FALSE(LoadCatalog(path, &diags).has_value());
  ASSERT_EQ(diags.items().size(), 1u) << diags.ToStatus().message();
  const base::Diagnostic& d = diags.items()[0];
  EXPECT_EQ(d.file, path);
  EXPECT_EQ(d.line, 6);
  EXPECT_EQ(d.column, 14);
  EXPECT_EQ(d.key_path, "actions.a.retries");
  EXPECT_EQ(d.message, "must be between 1 and 1000");
  {
    std::ofstream f(path);
    f << "actions:\n  a:\n    kind: kafka\n    topic: t\n    value: v\n    retries: 7\n";
  }
  base::Diagnostics ok;
  auto c = LoadCatalog(path, &ok);
  ASSERT_TRUE(c.has_value()) << ok.ToStatus().message();
  EXPECT_TRUE(ok.empty());
  EXPECT_EQ(c->Find("a")->retry.max_attempts, 7);
  std::remove(path.c_str());

  base::Diagnostics missing;
  EXPECT_FALSE(LoadCatalog(path, &missing).has_value());
  ASSERT_EQ(missing.items().size(), 1u);
  EXPECT_EQ(missing.items()[0].file, path);
  EXPECT_NE(missing.items()[0].message.find("cannot open"), std::string::npos);
}

// The documentation rows come from the schema the reader checks against: every key an
// action accepts (as the unknown-key error lists them) has a row, and so do nested keys.
TEST(CatalogTest, SchemaDocumentsEveryKey) {
  const std::vector<base::SchemaDoc> docs = CatalogSchemaDocs();
  auto has_row = [&](const std::string& key) {
    return std::any_of(docs.begin(), docs.end(), [&](const base::SchemaDoc& d) {
      return d.key == key && !d.type.empty() && !d.doc.empty();
    });
  };
  auto c = ParseCatalog("actions:\n  a: {kind: emit, event: {}, zzz: 1}\n", "a.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  const size_t open = m.find("(valid keys: ");
  ASSERT_NE(open, std::string::npos) << m;
  const size_t start = open + std::string("(valid keys: ").size();
  std::vector<std::string> keys;
  for (std::string_view k :
       base::Split(std::string_view(m).substr(start, m.find(')', start) - start), ',')) {
    keys.emplace_back(base::Trim(k));
  }
  EXPECT_GE(keys.size(), 40u) << m;
  for (const auto& k : keys) EXPECT_TRUE(has_row("actions.<name>." + k)) << k;
  for (const char* nested : {"retries.max_attempts",
                             "retries.backoff_base",
                             "retries.backoff_max",
                             "retries.jitter",
                             "throttle.once_within",
                             "throttle.group_by",
                             "suppress.interval",
                             "suppress.count",
                             "suppress.group_by",
                             "circuit_breaker.failures",
                             "circuit_breaker.reset_after",
                             "notify.before",
                             "notify.after",
                             "params[].name",
                             "params[].pattern",
                             "params[].allow_leading_dash",
                             "follow.enabled",
                             "follow.poll_interval",
                             "follow.timeout",
                             "follow.id_field",
                             "follow.status_field",
                             "follow.succeeded",
                             "follow.failed"}) {
    EXPECT_TRUE(has_row(std::string("actions.<name>.") + nested)) << nested;
  }
  EXPECT_TRUE(has_row("actions"));
  EXPECT_EQ(docs.size(), 1 + keys.size() + 23);
}

TEST(CatalogTest, TemplateDefaultsAndMissingValues) {
  auto t =
      ContextTemplate::Parse("{{params.a | default(\"none\")}}-{{event.labels.zz}}-{{row}}", {"a"});
  ASSERT_TRUE(t.ok()) << t.status().message();
  std::vector<std::pair<std::string, std::string>> params;
  ActionContext ctx{nullptr, &params, "x", "t", "r7", ""};
  EXPECT_EQ(t->Render(ctx), "none--r7");
  EXPECT_FALSE(ContextTemplate::Parse("{{ nope }}", {}).ok());
  EXPECT_FALSE(ContextTemplate::Parse("{{ params.a ", {"a"}).ok());
  EXPECT_FALSE(ContextTemplate::Parse("{{ params.a | upper }}", {"a"}).ok());
}

TEST(CatalogTest, ParameterOptions) {
  auto c = ParseCatalog(R"yaml(actions:
  clean:
    kind: command
    params:
      - host
      - {name: path, pattern: '/[a-z/]+', allow_leading_dash: false}
      - name: flag
        allow_leading_dash: true
    argv: [/bin/echo, "{{params.flag}}", "{{params.host}}", "{{params.path}}"]
)yaml",
                        "a.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const ActionSpec* s = c->Find("clean");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->params, (std::vector<std::string>{"host", "path", "flag"}));
  ASSERT_EQ(s->param_specs.size(), 3u);
  EXPECT_EQ(s->param_specs[0].name, "host");
  EXPECT_EQ(s->param_specs[0].regex, nullptr);
  EXPECT_FALSE(s->param_specs[0].allow_leading_dash);
  EXPECT_EQ(s->param_specs[1].pattern, "/[a-z/]+");
  ASSERT_NE(s->param_specs[1].regex, nullptr);
  EXPECT_TRUE(s->param_specs[2].allow_leading_dash);
  // The pattern matches the whole value.
  std::vector<std::pair<std::string, std::string>> params = {{"path", "/tmp/x"}};
  ActionContext ctx;
  ctx.params = &params;
  EXPECT_EQ(CheckParams(*s, ctx), "");
  params = {{"path", "/tmp/x; rm"}};
  EXPECT_EQ(CheckParams(*s, ctx),
            "params.path '/tmp/x; rm' does not match the pattern '/[a-z/]+': refused");

  auto bad = ParseCatalog(R"yaml(actions:
  a:
    kind: emit
    params:
      - {name: host, pattern: 'x(a[b'}
      - {name: path}
      - path
      - {pattern: x}
      - {name: y, colour: red}
      - [z]
    event: {}
)yaml",
                          "b.yaml");
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  for (const char* want :
       {"b.yaml:5:31: actions.a.params[0].pattern: bad pattern at character 4: missing ]: [b",
        "b.yaml:7:9: actions.a.params[2]: duplicate parameter 'path'",
        "b.yaml:8:9: actions.a.params[3].name: missing required key",
        "b.yaml:9:19: actions.a.params[4].colour: unknown key",
        "b.yaml:10:9: actions.a.params[5]: expected a name or a mapping"}) {
    EXPECT_NE(m.find(want), std::string::npos) << want << "\n" << m;
  }
}

}  // namespace
}  // namespace reflex::actions
