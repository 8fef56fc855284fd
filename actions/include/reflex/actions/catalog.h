// The action catalog: how each action a decision table names is carried out.
//
// A rules directory's `actions.yaml` maps action names to settings (docs/actions.md has the
// full schema): a kind (`webhook`, `command`, `kafka`, `emit`), the kind's target settings
// with templated fields, and the common policy (retries, timeout, concurrency, throttle,
// suppress, circuit breaker, approval, notify). Every key is declared once in a base::Schema
// (CatalogSchemaDocs() prints the table). ReadCatalog / LoadCatalog check the whole file at
// once and report every problem as `file:line:col: actions.<name>.<key>: message`: unknown
// keys (with the valid ones listed), keys of another kind, unknown kinds, templates naming
// unknown variables, a command whose argv[0] is a template or not an absolute path, bad
// durations and numbers out of range. Templates are rendered with
// ActionContext into plain text; no shell is ever involved, so shell metacharacters in a
// parameter are just bytes. The request an action makes is rendered from its spec by the
// driver of its kind (driver.h).
//
// Parameters: `params: [host, {name: path, pattern: '/srv/[a-z0-9/]+',
// allow_leading_dash: false}]`. A pattern (RE2, matched against the whole value; a bad one is
// a load error with its character position) is checked before a run is journaled: a value
// that does not match fails the run with the reason (CheckParams). A command argument whose
// text starts with a substituted value that begins with '-' is refused the same way unless
// that parameter has `allow_leading_dash: true` or a literal "--" argument comes before it.
//
// Template variables: `params.<name>` (a name listed in the action's `params`),
// `event.<field>` (any event field path: event.labels.host, event.message, event.id),
// `action`, `table`, `row`, `ruleset`. `{{ x | default("y") }}` gives a fallback.
//
// Thread-safety: a Catalog is immutable after loading; share it by const reference.
//
//   base::Diagnostics diags;
//   std::optional<Catalog> c = LoadCatalog("rules/examples/actions.yaml", &diags);
//   if (!c) { std::cerr << diags.ToStatus().message(); return 2; }
//   const ActionSpec* spec = c->Find("clean_tmp");
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/base/config_schema.h"
#include "reflex/base/diagnostic.h"
#include "reflex/base/enum_names.h"
#include "reflex/base/retry.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace re2 {
class RE2;
}

namespace reflex::actions {

enum class ActionKind { kWebhook, kCommand, kKafka, kEmit, kEscalate /* built-in */ };
inline constexpr base::EnumNames<ActionKind, 5> kActionKindNames{
    {{{ActionKind::kWebhook, "webhook"},
      {ActionKind::kCommand, "command"},
      {ActionKind::kKafka, "kafka"},
      {ActionKind::kEmit, "emit"},
      {ActionKind::kEscalate, "escalate"}}}};
std::string_view KindName(ActionKind kind);

// What templates render over. All pointers may be null (then they render as missing).
struct ActionContext {
  const engine::Event* event = nullptr;
  const std::vector<std::pair<std::string, std::string>>* params = nullptr;
  std::string_view action;
  std::string_view table;
  std::string_view row;
  std::string_view ruleset;
};

// Text with `{{ variable }}` placeholders over an ActionContext.
class ContextTemplate {
 public:
  // How substituted values are escaped (literal text is kept as written).
  enum class Escape { kNone, kUrl /* percent-encoding */, kHeader /* CR/LF removed */ };

  ContextTemplate() = default;
  // `params` are the names `params.X` may use. Errors name the 1-based character offset.
  static engine::Result<ContextTemplate> Parse(std::string_view text,
                                               const std::vector<std::string>& params,
                                               Escape escape = Escape::kNone);
  std::string Render(const ActionContext& ctx) const;
  const std::string& source() const { return source_; }
  bool is_literal() const { return vars_.empty(); }
  // The variable the text starts with ("params.path", "event.labels.host", "action"); ""
  // when it starts with literal text.
  std::string LeadingVariable() const;

 private:
  struct Var {
    enum class Root { kParam, kEvent, kAction, kTable, kRow, kRuleset } root = Root::kParam;
    std::string name;                               // param name
    std::shared_ptr<const engine::FieldPath> path;  // event field
    std::string fallback;
    std::string label;  // as written: "params.host", "event.labels.x"
  };
  struct Segment {
    std::string literal;
    int var = -1;
  };
  std::string source_;
  Escape escape_ = Escape::kNone;
  std::vector<Segment> segments_;
  std::vector<Var> vars_;
};

// A JSON value whose string leaves are templates (the rendered text becomes a JSON string,
// so parameters can never break the JSON structure). Built from a YAML node: plain scalars
// that read as numbers, booleans or null keep that type; quoted scalars are strings.
class JsonTemplate {
 public:
  nlohmann::json Render(const ActionContext& ctx) const;
  bool empty() const { return kind_ == Kind::kNone; }

 private:
  friend struct CatalogReader;
  enum class Kind { kNone, kLiteral, kString, kObject, kArray } kind_ = Kind::kNone;
  nlohmann::json literal_;
  ContextTemplate text_;
  std::vector<std::pair<std::string, JsonTemplate>> members_;  // object (in order) / array
};

// `retries:` (max_attempts, backoff_base, backoff_max, jitter), the one retry policy of Reflex.
using RetryPolicy = base::RetryPolicy;

// Skip the action when it already ran `count` times within `window_ms` for the same key
// (the group_by variables rendered). `throttle: {once_within}` is count = 1.
struct RateLimit {
  int64_t window_ms = 0;  // 0 = off
  int count = 1;
  std::vector<ContextTemplate> group_by;  // each renders one variable
  std::string Key(const ActionContext& ctx) const;
};

struct CircuitBreakerSpec {
  int failures = 0;  // consecutive failures per target that open it; 0 = off
  int64_t reset_after_ms = 30000;
};

// `follow:` of a preset: after the launch is accepted, poll the job it started until the job
// finishes, so the run's outcome is the job's. Statuses are compared as text (a number in
// the job's JSON is compared as its decimal text).
struct FollowSpec {
  bool enabled = false;             // presets: true unless `follow: false`
  int64_t poll_interval_ms = 5000;  // between two status reads
  int64_t timeout_ms = 3600000;     // from the launch; then the run fails ("still running")
  // Where the launch answer holds the job's id, and where a status answer holds its status:
  // dot-separated member names ("data.conductor.status_id").
  std::string id_field;
  std::string status_field;
  std::vector<std::string> succeeded;  // final and good
  std::vector<std::string> failed;     // final and bad; any other status is still running
};

struct WebhookSpec {
  std::string method = "POST";
  ContextTemplate url;  // substitutions percent-encoded
  // The URL's literal userinfo ("user:pass", without '@') and literal query (without '?'),
  // taken out of `url` when the catalog is read and added back only when the request is
  // sent, so rendered (journaled) requests never hold them. "" when the URL has none, or
  // when that part has substitutions (then it stays in `url`).
  std::string url_userinfo;
  std::string url_query;
  std::vector<std::pair<std::string, ContextTemplate>> headers;
  JsonTemplate json_body;    // a mapping/list body, sent as application/json
  ContextTemplate raw_body;  // or a text body
  bool has_raw_body = false;
  std::string token_env;  // Authorization: <auth_scheme> <token>, read at send time
  std::string token_file;
  std::string auth_scheme = "Bearer";
  std::vector<int> expected_codes;  // empty = any 2xx
  size_t max_response_bytes = 64 * 1024;
  std::string preset;  // "", "awx", "exastro_ita"
  FollowSpec follow;   // presets only
};

struct CommandSpec {
  std::vector<ContextTemplate> argv;  // argv[0] literal absolute path
  std::vector<std::pair<std::string, ContextTemplate>> env;
  std::string cwd;
  size_t max_output_bytes = 64 * 1024;
  std::vector<int> ok_exit_codes = {0};
};

struct KafkaSpec {
  ContextTemplate topic;
  ContextTemplate key;
  JsonTemplate json_value;
  ContextTemplate text_value;
  bool has_text_value = false;
};

struct EmitSpec {
  JsonTemplate event;
};

// One parameter a row passes, as declared in `params:` (a name, or a mapping with options).
struct ParamSpec {
  std::string name;
  // RE2 syntax; a value must match it whole (FullMatch). "" (and a null regex) = any value.
  std::string pattern;
  std::shared_ptr<const re2::RE2> regex;
  // command: an argument may start with '-' when the text comes from this parameter.
  bool allow_leading_dash = false;
};

struct ActionSpec {
  std::string name;
  ActionKind kind = ActionKind::kWebhook;
  std::string description;
  std::vector<std::string> params;     // the names, in order
  std::vector<ParamSpec> param_specs;  // the same parameters with their options
  std::string file;
  int line = 0;

  int64_t timeout_ms = 30000;
  RetryPolicy retry;
  int concurrency = 0;  // max runs of this action at once; 0 = only the worker pool limits
  RateLimit throttle;
  RateLimit suppress;
  CircuitBreakerSpec breaker;
  bool approval_required = false;
  int64_t approval_ttl_ms = 3600000;
  bool notify_before = false;
  bool notify_after = false;

  WebhookSpec webhook;
  CommandSpec command;
  KafkaSpec kafka;
  EmitSpec emit;
};

class Catalog {
 public:
  // nullptr when there is no such action.
  const ActionSpec* Find(std::string_view name) const;
  const std::map<std::string, ActionSpec, std::less<>>& actions() const { return actions_; }
  void Add(ActionSpec spec) { actions_[spec.name] = std::move(spec); }

 private:
  std::map<std::string, ActionSpec, std::less<>> actions_;
};

// Why the parameter values of `ctx` may not be used by `spec`: the first parameter with a
// pattern its value does not match (a parameter the row does not pass is checked as empty
// text), as "params.host 'a b' does not match the pattern '^[a-z.-]+$': refused". "" when
// every value is acceptable.
std::string CheckParams(const ActionSpec& spec, const ActionContext& ctx);

// Reads a parsed `actions.yaml` document. Every problem goes to ctx (its file names the
// catalog in each "file:line:col: actions.<name>.<key>: message"); then the result is
// nullopt. The catalog reads no environment variables (tokens are read at send time).
std::optional<Catalog> ReadCatalog(const YAML::Node& root, base::ConfigContext& ctx);
// Reads and checks a file; a missing or unreadable file, bad UTF-8 and YAML syntax are
// problems in *diags too. nullopt when any error was added.
std::optional<Catalog> LoadCatalog(const std::string& path, base::Diagnostics* diags);
// The same with every problem in one Status: kInvalidArgument whose message holds one
// "file:line:col: ..." line per problem. `file` names the text in errors.
engine::Result<Catalog> ParseCatalog(std::string_view yaml_text, const std::string& file);
engine::Result<Catalog> LoadCatalog(const std::string& path);

// One row per key an action accepts, "actions.<name>.kind", "actions.<name>.retries.jitter",
// ..., from the schema the reader uses (for `reflex config schema` and docs/actions.md).
std::vector<base::SchemaDoc> CatalogSchemaDocs();

}  // namespace reflex::actions
