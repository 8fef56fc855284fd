// base::Schema: a small declared config (scalars, a nested Object, a List of mappings with a
// selecting `kind`) read from YAML text; every error kind, all errors of a file at once in
// file order, environment overrides, defaults, and the documentation rows and renderers.
#include "reflex/base/config_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reflex/base/diagnostic.h"
#include "reflex/base/enum_names.h"

namespace reflex::base {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

enum class Mode { kFast, kSafe };
constexpr EnumNames<Mode, 2> kModeNames{{{{Mode::kFast, "fast"}, {Mode::kSafe, "safe"}}}};

enum class ItemKind { kFile, kHttp };
constexpr EnumNames<ItemKind, 2> kItemKindNames{
    {{{ItemKind::kFile, "file"}, {ItemKind::kHttp, "http"}}}};

struct Limits {
  int max = 10;
  int64_t window_ms = 60000;
  bool strict = false;
};

struct Item {
  ItemKind kind = ItemKind::kFile;
  std::string name;
  std::string path;  // file only
  std::string url;   // http only
  int port = 80;
};

struct Settings {
  std::string name = "svc";
  std::string label = "main";
  bool enabled = true;
  int threads = 4;
  int64_t timeout_ms = 30000;
  Mode mode = Mode::kSafe;
  std::vector<std::string> tags = {"a", "b"};
  std::map<std::string, std::string> headers;
  std::string token;
  Limits limits;
  std::vector<Item> items;
};

const Schema<Limits>& LimitsSchema() {
  static const Schema<Limits> schema = [] {
    Schema<Limits> s;
    s.Int("max", &Limits::max, 1, 1000, "most at once").Env("T_LIMITS_MAX");
    s.Duration("window", &Limits::window_ms, 1000, 3600000, "counting window")
        .Env("T_LIMITS_WINDOW");
    s.Bool("strict", &Limits::strict, "fail instead of waiting");
    return s;
  }();
  return schema;
}

const Schema<Item>& ItemSchema() {
  static const Schema<Item> schema = [] {
    Schema<Item> s;
    s.Enum("kind", &Item::kind, kItemKindNames, "what the item is").Selector();
    s.NonEmptyString("name", &Item::name, "the item's name").Required();
    s.String("path", &Item::path, "a file path")
        .OnlyWhen([](const Item& i) { return i.kind == ItemKind::kFile; }, "kind: file");
    s.String("url", &Item::url, "an address")
        .OnlyWhen([](const Item& i) { return i.kind == ItemKind::kHttp; }, "kind: http");
    s.Int("port", &Item::port, 1, 65535, "the port");
    s.Check([](Item* i, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      if (i->kind == ItemKind::kHttp && i->url.empty()) ctx.Error(n, p, "kind http needs a url");
    });
    return s;
  }();
  return schema;
}

const Schema<Settings>& SettingsSchema() {
  static const Schema<Settings> schema = [] {
    Schema<Settings> s;
    s.String("name", &Settings::name, "service name").Env("T_NAME");
    s.NonEmptyString("label", &Settings::label, "display label | shown in lists");
    s.Bool("enabled", &Settings::enabled, "serve at all").Env("T_ENABLED");
    s.Int("threads", &Settings::threads, 1, 64, "worker threads").Env("T_THREADS");
    s.Duration("timeout", &Settings::timeout_ms, 1000, 3600000, "request timeout");
    s.Enum("mode", &Settings::mode, kModeNames, "how hard to try").Env("T_MODE");
    s.Strings("tags", &Settings::tags, "labels attached").Env("T_TAGS");
    s.StringMap("headers", &Settings::headers, "extra headers");
    s.Secret("token", &Settings::token, "bearer token").Env("T_TOKEN");
    s.Object("limits", &Settings::limits, LimitsSchema(), "rate limits");
    s.List("items", &Settings::items, ItemSchema(), false, "what to watch");
    return s;
  }();
  return schema;
}

EnvLookup MapEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Reads `yaml` as the file t.yaml (then the environment, as a loader does).
struct Outcome {
  Settings s;
  Diagnostics diags;
  std::vector<std::string> lines;  // Sorted() ToString()s
};
Outcome Read(const std::string& yaml, EnvLookup env = NoEnv()) {
  Outcome o;
  ConfigContext ctx("t.yaml", std::move(env), &o.diags);
  if (auto root = ParseYaml(yaml, ctx)) {
    SettingsSchema().Read(*root, "", &o.s, ctx);
    SettingsSchema().ApplyEnv(&o.s, ctx);
  }
  for (const auto& d : o.diags.Sorted()) o.lines.push_back(d.ToString());
  return o;
}

TEST(ConfigSchemaTest, ReadsEveryTypeAndKeepsDefaultsForAbsentKeys) {
  Outcome o = Read(
      "name: api\n"
      "threads: 8\n"
      "timeout: 1500ms\n"
      "mode: fast\n"
      "tags: [x, y]\n"
      "headers: {X-A: '1', X-B: two}\n"
      "token_env: SECRET_VAR\n"
      "limits: {max: 3}\n"
      "items:\n"
      "  - {name: logs, path: /var/log}\n"
      "  - {kind: http, name: web, url: 'http://h', port: 8080}\n",
      MapEnv({{"SECRET_VAR", "s3cret"}}));
  ASSERT_THAT(o.lines, IsEmpty());
  EXPECT_EQ(o.s.name, "api");
  EXPECT_EQ(o.s.threads, 8);
  EXPECT_EQ(o.s.timeout_ms, 1500);
  EXPECT_EQ(o.s.mode, Mode::kFast);
  EXPECT_THAT(o.s.tags, ElementsAre("x", "y"));
  EXPECT_EQ(o.s.headers, (std::map<std::string, std::string>{{"X-A", "1"}, {"X-B", "two"}}));
  EXPECT_EQ(o.s.token, "s3cret");
  EXPECT_EQ(o.s.limits.max, 3);
  ASSERT_EQ(o.s.items.size(), 2u);
  EXPECT_EQ(o.s.items[0].kind, ItemKind::kFile);
  EXPECT_EQ(o.s.items[0].path, "/var/log");
  EXPECT_EQ(o.s.items[1].kind, ItemKind::kHttp);
  EXPECT_EQ(o.s.items[1].url, "http://h");
  EXPECT_EQ(o.s.items[1].port, 8080);
  // Absent keys keep the struct's defaults, nested ones too.
  EXPECT_EQ(o.s.label, "main");
  EXPECT_TRUE(o.s.enabled);
  EXPECT_EQ(o.s.limits.window_ms, 60000);
  EXPECT_FALSE(o.s.limits.strict);
  EXPECT_EQ(o.s.items[0].port, 80);
}

TEST(ConfigSchemaTest, EmptyFileIsAllDefaults) {
  Outcome o = Read("");
  ASSERT_THAT(o.lines, IsEmpty());
  EXPECT_EQ(o.s.name, "svc");
  EXPECT_EQ(o.s.threads, 4);
  EXPECT_EQ(o.s.timeout_ms, 30000);
  EXPECT_THAT(o.s.tags, ElementsAre("a", "b"));
  EXPECT_THAT(o.s.items, IsEmpty());
}

TEST(ConfigSchemaTest, UnknownKeyListsTheValidOnes) {
  Outcome o = Read("name: a\nthread: 3\nlimits:\n  maxx: 1\n");
  EXPECT_THAT(o.lines,
              ElementsAre("t.yaml:2:1: thread: unknown key (valid keys: name, label, enabled, "
                          "threads, timeout, mode, tags, headers, token_env, limits, items)",
                          "t.yaml:4:3: limits.maxx: unknown key (valid keys: max, window, "
                          "strict)"));
}

TEST(ConfigSchemaTest, WrongTypeForEachKind) {
  Outcome o = Read(
      "name: {a: 1}\n"     // 1 string
      "enabled: maybe\n"   // 2 bool
      "threads: many\n"    // 3 int
      "timeout: soon\n"    // 4 duration text
      "tags: {a: 1}\n"     // 5 name or list of names
      "headers: [a, b]\n"  // 6 map
      "items: 3\n"         // 7 list
      "limits: [1]\n");    // 8 nested mapping
  EXPECT_THAT(o.lines, ElementsAre("t.yaml:1:7: name: expected a string",
                                   "t.yaml:2:10: enabled: expected true or false",
                                   "t.yaml:3:10: threads: expected an integer",
                                   "t.yaml:4:10: timeout: bad duration 'soon' (e.g. 30s, 10m)",
                                   "t.yaml:5:7: tags: expected a name or a list of names",
                                   "t.yaml:6:10: headers: expected a mapping of names to values",
                                   "t.yaml:7:8: items: expected a list",
                                   "t.yaml:8:9: limits: expected a mapping"));
  // A value that failed keeps the default.
  EXPECT_EQ(o.s.name, "svc");
  EXPECT_EQ(o.s.threads, 4);
  EXPECT_EQ(o.s.timeout_ms, 30000);
}

TEST(ConfigSchemaTest, DurationThatIsNotAScalar) {
  Outcome o = Read("timeout: [1s]\n");
  EXPECT_THAT(o.lines,
              ElementsAre("t.yaml:1:10: timeout: expected a duration such as 30s, 500ms or 10m"));
}

TEST(ConfigSchemaTest, OutOfRangeNotAnEnumNameAndEmpty) {
  Outcome o = Read(
      "threads: 0\n"
      "timeout: 2h\n"
      "mode: turbo\n"
      "label: ''\n"
      "limits: {max: 1001}\n");
  EXPECT_THAT(o.lines,
              ElementsAre("t.yaml:1:10: threads: must be between 1 and 64",
                          "t.yaml:2:10: timeout: must be between 1s and 1h",
                          "t.yaml:3:7: mode: unknown value 'turbo' (expected one of: fast, safe)",
                          "t.yaml:4:8: label: must not be empty",
                          "t.yaml:5:15: limits.max: must be between 1 and 1000"));
  EXPECT_EQ(o.s.label, "main");
}

TEST(ConfigSchemaTest, MissingRequiredKeyAndKeyUnderTheWrongKind) {
  Outcome o = Read(
      "items:\n"
      "  - path: /a\n"  // name missing
      "  - name: b\n"
      "    url: 'http://x'\n"  // url with kind file (the default)
      "  - kind: http\n"
      "    name: c\n"
      "    path: /c\n"  // path with kind http
      "    url: 'http://c'\n");
  EXPECT_THAT(o.lines, ElementsAre("t.yaml:2:5: items[0].name: missing required key",
                                   "t.yaml:4:5: items[1].url: only valid with kind: http",
                                   "t.yaml:7:5: items[2].path: only valid with kind: file"));
}

TEST(ConfigSchemaTest, InvalidSelectorStopsTheKeysAfterIt) {
  // The bad kind is the only complaint: the missing name, the bad port and the Check()
  // (http needs a url) all follow from the kind and are not reported.
  Outcome o = Read(
      "items:\n"
      "  - kind: ftp\n"
      "    port: huge\n"
      "  - kind: http\n"  // a valid selector: the keys after it are read and checked
      "    port: huge\n");
  EXPECT_THAT(
      o.lines,
      ElementsAre("t.yaml:2:11: items[0].kind: unknown value 'ftp' (expected one of: file, http)",
                  "t.yaml:4:5: items[1].name: missing required key",
                  "t.yaml:4:5: items[1]: kind http needs a url",
                  "t.yaml:5:11: items[1].port: expected an integer"));
}

TEST(ConfigSchemaTest, SecretNamingAnUnsetVariable) {
  Outcome o = Read("token_env: NOT_SET_ANYWHERE\n", MapEnv({{"OTHER", "x"}}));
  EXPECT_THAT(o.lines, ElementsAre("t.yaml:1:12: token_env: environment variable "
                                   "NOT_SET_ANYWHERE is not set"));
  Outcome empty = Read("token_env: ''\n");
  EXPECT_THAT(empty.lines,
              ElementsAre("t.yaml:1:12: token_env: expected an environment variable name"));
}

TEST(ConfigSchemaTest, YamlSyntaxErrorHasItsPosition) {
  Outcome o = Read("name: a\nitems: [1, 2\nthreads: 3\n");
  ASSERT_EQ(o.diags.items().size(), 1u);
  const Diagnostic& d = o.diags.items()[0];
  EXPECT_EQ(d.file, "t.yaml");
  EXPECT_GT(d.line, 1);
  EXPECT_GT(d.column, 0);
  EXPECT_THAT(d.message, HasSubstr("YAML syntax: "));
  EXPECT_THAT(o.lines[0], ::testing::StartsWith("t.yaml:" + std::to_string(d.line) + ":" +
                                                std::to_string(d.column) + ": error: YAML syntax"));
}

TEST(ConfigSchemaTest, AllErrorsOfAFileAtOnceInFileOrder) {
  // Declaration order is name, label, ..., limits, items; the file writes them the other
  // way round, and unknown keys are found before the declared ones are read.
  Outcome o = Read(
      "items:\n"
      "  - name: ''\n"
      "limits:\n"
      "  window: 10ms\n"
      "colour: red\n"
      "threads: -1\n"
      "name: [x]\n");
  const std::vector<std::string> expected = {
      "t.yaml:2:11: items[0].name: must not be empty",
      "t.yaml:4:11: limits.window: must be between 1s and 1h",
      "t.yaml:5:1: colour: unknown key (valid keys: name, label, enabled, threads, timeout, mode, "
      "tags, headers, token_env, limits, items)",
      "t.yaml:6:10: threads: must be between 1 and 64", "t.yaml:7:7: name: expected a string"};
  EXPECT_EQ(o.lines, expected);
  Status st = o.diags.ToStatus();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  std::string joined;
  for (const auto& l : expected) joined += (joined.empty() ? "" : "\n") + l;
  EXPECT_EQ(st.message(), joined);
}

TEST(ConfigSchemaTest, EnvironmentOverridesTheFileIncludingNestedObjects) {
  Outcome o =
      Read("name: from-file\nthreads: 2\nlimits: {max: 5}\n", MapEnv({{"T_NAME", "from-env"},
                                                                      {"T_THREADS", "16"},
                                                                      {"T_ENABLED", "false"},
                                                                      {"T_MODE", "fast"},
                                                                      {"T_TOKEN", "tok"},
                                                                      {"T_LIMITS_MAX", "99"}}));
  ASSERT_THAT(o.lines, IsEmpty());
  EXPECT_EQ(o.s.name, "from-env");
  EXPECT_EQ(o.s.threads, 16);
  EXPECT_FALSE(o.s.enabled);
  EXPECT_EQ(o.s.mode, Mode::kFast);
  EXPECT_EQ(o.s.token, "tok");
  EXPECT_EQ(o.s.limits.max, 99);
}

TEST(ConfigSchemaTest, EnvironmentOverridesDurationsAndNameLists) {
  // Every field type that can be declared with .Env() takes its variable.
  Outcome o =
      Read("limits: {window: 10s}\n", MapEnv({{"T_LIMITS_WINDOW", "5m"}, {"T_TAGS", "x, y ,z"}}));
  ASSERT_THAT(o.lines, IsEmpty());
  EXPECT_EQ(o.s.limits.window_ms, 300000);
  EXPECT_THAT(o.s.tags, ElementsAre("x", "y", "z"));

  Outcome bad = Read("", MapEnv({{"T_LIMITS_WINDOW", "2h"}, {"T_TAGS", "x,,y"}}));
  EXPECT_THAT(bad.lines,
              ::testing::UnorderedElementsAre("t.yaml: T_LIMITS_WINDOW: must be between 1s and 1h",
                                              "t.yaml: T_TAGS: expected a non-empty name"));
  EXPECT_EQ(bad.s.limits.window_ms, 60000);
  EXPECT_THAT(bad.s.tags, ElementsAre("a", "b"));
}

TEST(ConfigSchemaTest, BadEnvironmentValueIsReportedByVariable) {
  Outcome o = Read("threads: 2\n", MapEnv({{"T_THREADS", "lots"},
                                           {"T_ENABLED", "perhaps"},
                                           {"T_MODE", "slow"},
                                           {"T_LIMITS_MAX", "0"}}));
  EXPECT_THAT(o.lines, ::testing::UnorderedElementsAre(
                           "t.yaml: T_THREADS: expected an integer",
                           "t.yaml: T_ENABLED: expected true or false",
                           "t.yaml: T_MODE: unknown value 'slow' (expected one of: fast, safe)",
                           "t.yaml: T_LIMITS_MAX: must be between 1 and 1000"));
  EXPECT_EQ(o.s.threads, 2);  // the file's value stays
  EXPECT_EQ(o.s.limits.max, 10);
}

const SchemaDoc* Row(const std::vector<SchemaDoc>& docs, const std::string& key) {
  for (const auto& d : docs) {
    if (d.key == key) return &d;
  }
  return nullptr;
}

TEST(ConfigSchemaTest, DocumentRowsFlattenNestedKeys) {
  std::vector<SchemaDoc> docs;
  SettingsSchema().Document("svc", &docs);
  std::vector<std::string> keys;
  for (const auto& d : docs) keys.push_back(d.key);
  EXPECT_THAT(
      keys,
      ElementsAre("svc.name", "svc.label", "svc.enabled", "svc.threads", "svc.timeout", "svc.mode",
                  "svc.tags", "svc.headers", "svc.token_env", "svc.limits", "svc.limits.max",
                  "svc.limits.window", "svc.limits.strict", "svc.items", "svc.items[].kind",
                  "svc.items[].name", "svc.items[].path", "svc.items[].url", "svc.items[].port"));

  auto row = [&](const std::string& k) {
    const SchemaDoc* d = Row(docs, k);
    EXPECT_NE(d, nullptr) << k;
    return d ? *d : SchemaDoc{};
  };
  EXPECT_EQ(row("svc.threads").type, "integer (1..64)");
  EXPECT_EQ(row("svc.threads").default_value, "4");
  EXPECT_EQ(row("svc.threads").env, "T_THREADS");
  EXPECT_EQ(row("svc.threads").doc, "worker threads");
  EXPECT_EQ(row("svc.enabled").type, "true or false");
  EXPECT_EQ(row("svc.enabled").default_value, "true");
  EXPECT_EQ(row("svc.timeout").type, "duration");
  EXPECT_EQ(row("svc.timeout").default_value, "30s");
  EXPECT_EQ(row("svc.timeout").env, "");
  EXPECT_EQ(row("svc.mode").type, "one of: fast, safe");
  EXPECT_EQ(row("svc.mode").default_value, "safe");
  EXPECT_EQ(row("svc.tags").default_value, "a, b");
  EXPECT_EQ(row("svc.name").default_value, "svc");
  EXPECT_EQ(row("svc.label").type, "non-empty string");
  EXPECT_EQ(row("svc.token_env").type, "environment variable name");
  EXPECT_EQ(row("svc.token_env").env, "T_TOKEN");
  EXPECT_EQ(row("svc.limits").type, "mapping");
  EXPECT_EQ(row("svc.limits.window").default_value, "1m");
  EXPECT_EQ(row("svc.limits.max").env, "T_LIMITS_MAX");
  EXPECT_EQ(row("svc.items").type, "list of mappings");
  EXPECT_EQ(row("svc.items[].name").type, "non-empty string; required");
  EXPECT_EQ(row("svc.items[].path").type, "string; only with kind: file");
  EXPECT_EQ(row("svc.items[].kind").default_value, "file");
  EXPECT_EQ(row("svc.items[].port").default_value, "80");

  std::vector<SchemaDoc> top;
  LimitsSchema().Document("", &top);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].key, "max");
}

TEST(ConfigSchemaTest, RendersTextAndMarkdown) {
  std::vector<SchemaDoc> docs;
  SettingsSchema().Document("", &docs);
  const std::string text = RenderSchemaText(docs);
  std::vector<std::string> lines;
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(text.substr(at, nl - at));
  }
  ASSERT_EQ(lines.size(), docs.size());
  // Keys padded to the longest ("limits.window"), types to the longest, two spaces between.
  EXPECT_EQ(lines[3],
            "threads        integer (1..64)               worker threads (default: 4) "
            "[env T_THREADS]");
  const size_t type_col = lines[0].find("string");
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i].substr(0, docs[i].key.size()), docs[i].key);
    EXPECT_EQ(lines[i].find(docs[i].type, docs[i].key.size()), type_col) << lines[i];
  }
  EXPECT_THAT(text, HasSubstr("headers        map of string to string       extra headers\n"));

  const std::string md = RenderSchemaMarkdown(docs);
  EXPECT_THAT(md, ::testing::StartsWith("| key | type | default | environment | meaning |\n"
                                        "|---|---|---|---|---|\n"));
  EXPECT_THAT(md,
              HasSubstr("| `threads` | integer (1..64) | `4` | `T_THREADS` | worker threads |\n"));
  EXPECT_THAT(md, HasSubstr("| `timeout` | duration | `30s` |  | request timeout |\n"));
  // A `|` in a cell is escaped so the table keeps its columns.
  EXPECT_THAT(md, HasSubstr("| `label` | non-empty string | `main` |  | display label \\| shown "
                            "in lists |\n"));
  EXPECT_THAT(md,
              HasSubstr("| `items[].path` | string; only with kind: file |  |  | a file path |"));
}

}  // namespace
}  // namespace reflex::base
