#include "reflex/actions/catalog.h"

#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/engine/template.h"

namespace reflex::actions {

using engine::InvalidArgument;
using engine::Result;
using engine::Status;

std::string_view KindName(ActionKind kind) { return kActionKindNames.Name(kind); }

namespace {

using base::Trim;

Status AtOffset(size_t offset, const std::string& msg) {
  return engine::TemplateErrorAt(offset, msg);
}

constexpr const char* kVariables =
    "use params.<name>, event.<field>, action, table, row or ruleset";

void AppendEscaped(std::string_view v, ContextTemplate::Escape escape, std::string* out) {
  switch (escape) {
    case ContextTemplate::Escape::kNone:
      out->append(v);
      return;
    case ContextTemplate::Escape::kHeader:
      for (char c : v) {
        if (c != '\r' && c != '\n' && c != '\0') out->push_back(c);
      }
      return;
    case ContextTemplate::Escape::kUrl: {
      static constexpr char kHex[] = "0123456789ABCDEF";
      for (unsigned char c : v) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
          out->push_back(static_cast<char>(c));
        } else {
          out->push_back('%');
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        }
      }
      return;
    }
  }
}

}  // namespace

Result<ContextTemplate> ContextTemplate::Parse(std::string_view text,
                                               const std::vector<std::string>& params,
                                               Escape escape) {
  ContextTemplate t;
  t.source_ = std::string(text);
  t.escape_ = escape;
  Status s = engine::ScanTemplate(
      text, [&](std::string literal, const engine::TemplatePlaceholder* p) -> Status {
        if (p == nullptr) {
          if (!literal.empty() || t.segments_.empty()) {
            t.segments_.push_back(Segment{std::move(literal), -1});
          }
          return Status::Ok();
        }
        const size_t open = p->offset;
        const std::string_view name = p->name;
        Var var;
        var.fallback = p->fallback;
        var.label = std::string(name);
        if (name == "action") {
          var.root = Var::Root::kAction;
        } else if (name == "table") {
          var.root = Var::Root::kTable;
        } else if (name == "row") {
          var.root = Var::Root::kRow;
        } else if (name == "ruleset") {
          var.root = Var::Root::kRuleset;
        } else if (name.substr(0, 7) == "params.") {
          std::string param(name.substr(7));
          if (std::find(params.begin(), params.end(), param) == params.end()) {
            std::string list;
            for (const auto& x : params) list += (list.empty() ? "" : ", ") + x;
            return AtOffset(open, "unknown variable '" + std::string(name) +
                                      "': the action's params are [" + list + "]");
          }
          var.root = Var::Root::kParam;
          var.name = std::move(param);
        } else if (name.substr(0, 6) == "event.") {
          auto path = engine::FieldPath::Parse(name.substr(6));
          if (!path.ok()) {
            return AtOffset(open, "bad event field '" + std::string(name.substr(6)) +
                                      "': " + path.status().message());
          }
          var.root = Var::Root::kEvent;
          var.path = std::make_shared<const engine::FieldPath>(std::move(*path));
        } else {
          return AtOffset(open,
                          "unknown variable '" + std::string(name) + "' (" + kVariables + ")");
        }
        t.vars_.push_back(std::move(var));
        t.segments_.push_back(Segment{std::move(literal), static_cast<int>(t.vars_.size() - 1)});
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return t;
}

std::string CheckParams(const ActionSpec& spec, const ActionContext& ctx) {
  for (const ParamSpec& p : spec.param_specs) {
    if (!p.regex) continue;
    std::string_view value;
    if (ctx.params != nullptr) {
      for (const auto& [k, v] : *ctx.params) {
        if (k == p.name) {
          value = v;
          break;
        }
      }
    }
    if (RE2::FullMatch(value, *p.regex)) continue;
    return "params." + p.name + " '" + std::string(base::CutUtf8(value, 200)) +
           "' does not match the pattern '" + p.pattern + "': refused";
  }
  return "";
}

std::string ContextTemplate::LeadingVariable() const {
  if (segments_.empty() || segments_[0].var < 0 || !segments_[0].literal.empty()) return "";
  return vars_[static_cast<size_t>(segments_[0].var)].label;
}

std::string ContextTemplate::Render(const ActionContext& ctx) const {
  std::string out;
  for (const Segment& seg : segments_) {
    out.append(seg.literal);
    if (seg.var < 0) continue;
    const Var& var = vars_[static_cast<size_t>(seg.var)];
    std::string value;
    bool missing = false;
    switch (var.root) {
      case Var::Root::kAction:
        value = ctx.action;
        break;
      case Var::Root::kTable:
        value = ctx.table;
        break;
      case Var::Root::kRow:
        value = ctx.row;
        break;
      case Var::Root::kRuleset:
        value = ctx.ruleset;
        break;
      case Var::Root::kParam: {
        missing = true;
        if (ctx.params != nullptr) {
          for (const auto& [k, v] : *ctx.params) {
            if (k == var.name) {
              value = v;
              missing = false;
              break;
            }
          }
        }
        break;
      }
      case Var::Root::kEvent: {
        missing = true;
        if (ctx.event != nullptr) {
          engine::FieldValue fv = ctx.event->Get(*var.path);
          if (!fv.missing()) {
            value = std::string(fv.text());
            missing = false;
          }
        }
        break;
      }
    }
    if (missing || value.empty()) value = var.fallback;
    AppendEscaped(value, escape_, &out);
  }
  return out;
}

nlohmann::json JsonTemplate::Render(const ActionContext& ctx) const {
  switch (kind_) {
    case Kind::kNone:
      return nullptr;
    case Kind::kLiteral:
      return literal_;
    case Kind::kString:
      return text_.Render(ctx);
    case Kind::kObject: {
      nlohmann::json o = nlohmann::json::object();
      for (const auto& [k, v] : members_) o[k] = v.Render(ctx);
      return o;
    }
    case Kind::kArray: {
      nlohmann::json a = nlohmann::json::array();
      for (const auto& m : members_) a.push_back(m.second.Render(ctx));
      return a;
    }
  }
  return nullptr;
}

std::string RateLimit::Key(const ActionContext& ctx) const {
  std::string key;
  for (const auto& g : group_by) {
    key += g.Render(ctx);
    key.push_back('\x1f');
  }
  return key;
}

const ActionSpec* Catalog::Find(std::string_view name) const {
  auto it = actions_.find(name);
  return it == actions_.end() ? nullptr : &it->second;
}

// ---------------------------------------------------------------------------------------
// Reading actions.yaml

// Builds JsonTemplate values (whose members are private to the catalog's reader).
struct CatalogReader {
  // A JSON value from YAML: string leaves are templates over `params`. False on an error.
  static bool ReadJson(const YAML::Node& n, const std::string& path,
                       const std::vector<std::string>& params, base::ConfigContext& ctx,
                       JsonTemplate* out);
  static JsonTemplate Text(ContextTemplate t) {
    JsonTemplate j;
    j.kind_ = JsonTemplate::Kind::kString;
    j.text_ = std::move(t);
    return j;
  }
  static JsonTemplate Object(std::vector<std::pair<std::string, JsonTemplate>> members) {
    JsonTemplate j;
    j.kind_ = JsonTemplate::Kind::kObject;
    j.members_ = std::move(members);
    return j;
  }
};

namespace {

using base::ConfigContext;
using base::JoinKeyPath;

constexpr int64_t kDayMs = 86400000;
constexpr int64_t kMaxBytes = 16 << 20;

// The kinds actions.yaml may name (escalate is built in).
constexpr base::EnumNames<ActionKind, 4> kConfigurableKinds{{{{ActionKind::kWebhook, "webhook"},
                                                              {ActionKind::kCommand, "command"},
                                                              {ActionKind::kKafka, "kafka"},
                                                              {ActionKind::kEmit, "emit"}}}};

enum class Preset { kNone, kAwx, kExastroIta };
constexpr base::EnumNames<Preset, 3> kPresetNames{
    {{{Preset::kNone, "none"}, {Preset::kAwx, "awx"}, {Preset::kExastroIta, "exastro_ita"}}}};

enum class Approval { kNone, kRequired };
constexpr base::EnumNames<Approval, 2> kApprovalNames{
    {{{Approval::kNone, "none"}, {Approval::kRequired, "required"}}}};

constexpr base::EnumNames<bool, 4> kJitterNames{
    {{{true, "full"}, {false, "none"}, {true, "true"}, {false, "false"}}}};

constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

// `throttle:` and `suppress:` as written; group_by becomes templates once read.
struct RateSettings {
  int64_t window_ms = 0;
  int count = 1;
  std::vector<std::string> group_by;
};

// `circuit_breaker:` as written; giving the mapping turns the breaker on.
struct BreakerSettings {
  int failures = 5;
  int64_t reset_after_ms = CircuitBreakerSpec().reset_after_ms;
};

struct NotifySettings {
  bool before = false;
  bool after = false;
};

// `follow:` as written: a boolean, or a mapping (which turns following on). Text left empty
// takes the preset's default when the spec is built.
struct FollowSettings {
  bool given = false;  // the key was written
  bool enabled = true;
  int64_t poll_interval_ms = FollowSpec().poll_interval_ms;
  int64_t timeout_ms = FollowSpec().timeout_ms;
  std::string id_field, status_field;
  std::vector<std::string> succeeded, failed;
};

// One `params:` entry written as a mapping.
struct ParamSettings {
  std::string name;
  std::string pattern;
  bool allow_leading_dash = false;
};

// One action as written. Keys holding templates are compiled (against `params`, read first)
// straight into `spec`; the plain values land in the fields below, defaulting to the spec's
// own defaults, and Finish() copies them over.
struct ActionSettings {
  ActionSpec spec;
  ActionKind kind = ActionKind::kWebhook;
  std::string description;
  std::vector<std::string> params;
  std::vector<ParamSpec> param_specs;
  int64_t timeout_ms = spec.timeout_ms;
  RetryPolicy retry = spec.retry;
  int concurrency = spec.concurrency;
  Approval approval = Approval::kNone;
  int64_t approval_ttl_ms = spec.approval_ttl_ms;
  NotifySettings notify;
  // webhook
  Preset preset = Preset::kNone;
  std::string method = spec.webhook.method;
  std::string token_env, token_file;
  std::string auth_scheme = spec.webhook.auth_scheme;
  size_t max_response_bytes = spec.webhook.max_response_bytes;
  // presets: template text, spliced into the URL and body the preset builds
  std::string base_url, job_template, inventory, limit;                      // awx
  std::string organization, workspace, conductor, operation, schedule_date;  // exastro_ita
  FollowSettings follow;
  // command
  std::string cwd;
  size_t max_output_bytes = spec.command.max_output_bytes;
};

using Field = base::Schema<ActionSettings>::Field;
using Escape = ContextTemplate::Escape;

std::optional<ContextTemplate> CompileTemplate(const YAML::Node& at, const std::string& text,
                                               const std::string& path,
                                               const std::vector<std::string>& params,
                                               ConfigContext& ctx, Escape escape = Escape::kNone) {
  auto t = ContextTemplate::Parse(text, params, escape);
  if (!t.ok()) {
    ctx.Error(at, path, t.status().message());
    return std::nullopt;
  }
  return std::move(*t);
}

std::optional<ContextTemplate> ReadTemplate(const YAML::Node& n, const std::string& path,
                                            const std::vector<std::string>& params,
                                            ConfigContext& ctx, Escape escape = Escape::kNone) {
  auto text = base::ReadString(n, path, ctx);
  if (!text) return std::nullopt;
  return CompileTemplate(n, *text, path, params, ctx, escape);
}

// A mapping of names to templates (headers, environment variables).
void ReadTemplateMap(const YAML::Node& n, const std::string& path,
                     const std::vector<std::string>& params, Escape escape, ConfigContext& ctx,
                     std::vector<std::pair<std::string, ContextTemplate>>* out) {
  if (!n.IsMap()) return ctx.Error(n, path, "expected a mapping of names to templates");
  for (const auto& kv : n) {
    const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    const std::string p = JoinKeyPath(path, name);
    if (name.empty() || name.find_first_of("=:\r\n") != std::string::npos) {
      ctx.Error(kv.first, p, "bad name '" + name + "'");
    } else if (auto t = ReadTemplate(kv.second, p, params, ctx, escape)) {
      out->emplace_back(name, std::move(*t));
    }
  }
}

// A list of integers within [lo, hi] (HTTP status codes, exit codes).
void ReadIntList(const YAML::Node& n, const std::string& path, int64_t lo, int64_t hi,
                 ConfigContext& ctx, std::vector<int>* out) {
  if (!n.IsSequence()) return ctx.Error(n, path, "expected a list of integers");
  out->clear();
  for (size_t i = 0; i < n.size(); ++i) {
    if (auto v = base::ReadInt(n[i], path + "[" + std::to_string(i) + "]", lo, hi, ctx)) {
      out->push_back(static_cast<int>(*v));
    }
  }
}

// The schemas of the nested policy mappings.
const base::Schema<RetryPolicy>& RetrySchema() {
  static const base::Schema<RetryPolicy> schema = [] {
    base::Schema<RetryPolicy> s;
    s.Int("max_attempts", &RetryPolicy::max_attempts, 1, 1000, "tries in all, first included");
    s.Duration("backoff_base", &RetryPolicy::base_ms, 1, kDayMs,
               "the wait after the first failure; attempt n waits base * 2^(n-1)");
    s.Duration("backoff_max", &RetryPolicy::max_ms, 1, kDayMs, "the longest wait");
    s.Enum("jitter", &RetryPolicy::jitter, kJitterNames,
           "full: each wait is drawn uniformly from [0, wait]; none: exact waits");
    s.Check([](RetryPolicy* r, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      if (r->max_ms >= r->base_ms) return;
      const YAML::Node at = n.IsMap() && n["backoff_max"] ? n["backoff_max"] : n;
      ctx.Error(at, JoinKeyPath(p, "backoff_max"), "is smaller than backoff_base");
    });
    return s;
  }();
  return schema;
}

const base::Schema<RateSettings>& RateSchema(bool throttle) {
  static const auto make = [](bool once) {
    base::Schema<RateSettings> s;
    if (once) {
      s.Duration("once_within", &RateSettings::window_ms, 1, 365 * kDayMs,
                 "run at most once within this time per group")
          .Required();
    } else {
      s.Duration("interval", &RateSettings::window_ms, 1, 365 * kDayMs, "the counting window")
          .Required();
      s.Int("count", &RateSettings::count, 1, 1000000, "runs allowed per window and group");
    }
    s.Strings("group_by", &RateSettings::group_by,
              "variables that make a group (params.<name>, event.<field>, action, table, row)");
    return s;
  };
  static const base::Schema<RateSettings> throttle_schema = make(true);
  static const base::Schema<RateSettings> suppress_schema = make(false);
  return throttle ? throttle_schema : suppress_schema;
}

const base::Schema<BreakerSettings>& BreakerSchema() {
  static const base::Schema<BreakerSettings> schema = [] {
    base::Schema<BreakerSettings> s;
    s.Int("failures", &BreakerSettings::failures, 1, 100000,
          "consecutive failures per target that open the breaker");
    s.Duration("reset_after", &BreakerSettings::reset_after_ms, 1, kDayMs,
               "how long an open breaker refuses runs before it tries again");
    return s;
  }();
  return schema;
}

const base::Schema<NotifySettings>& NotifySchema() {
  static const base::Schema<NotifySettings> schema = [] {
    base::Schema<NotifySettings> s;
    s.Bool("before", &NotifySettings::before, "send action_before notices");
    s.Bool("after", &NotifySettings::after, "send action_after notices");
    return s;
  }();
  return schema;
}

const base::Schema<FollowSettings>& FollowSchema() {
  static const base::Schema<FollowSettings> schema = [] {
    base::Schema<FollowSettings> s;
    s.Bool("enabled", &FollowSettings::enabled, "poll the launched job until it finishes");
    s.Duration("poll_interval", &FollowSettings::poll_interval_ms, 10, kDayMs,
               "the wait between two reads of the job's status (default 5s)");
    s.Duration("timeout", &FollowSettings::timeout_ms, 10, 7 * kDayMs,
               "how long after the launch the job may run; then the run fails and is "
               "escalated (default 1h)");
    s.NonEmptyString("id_field", &FollowSettings::id_field,
                     "where the launch answer holds the job id (awx: job; exastro_ita: "
                     "data.conductor_instance_id)");
    s.NonEmptyString("status_field", &FollowSettings::status_field,
                     "where the job's answer holds its status (awx: status; exastro_ita: "
                     "data.conductor.status_id)");
    s.Strings("succeeded", &FollowSettings::succeeded,
              "statuses that mean the job succeeded (awx: successful; exastro_ita: 6)");
    s.Strings("failed", &FollowSettings::failed,
              "statuses that mean the job failed (awx: failed, error, canceled; exastro_ita: "
              "7, 8, 9, 10, 11)");
    s.Check([](FollowSettings* f, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      for (const std::string& v : f->succeeded) {
        if (std::find(f->failed.begin(), f->failed.end(), v) != f->failed.end()) {
          ctx.Error(n["failed"], JoinKeyPath(p, "failed"),
                    "status '" + v + "' is also listed in succeeded");
        }
      }
    });
    return s;
  }();
  return schema;
}

void ReadFollow(const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
  FollowSettings& f = a->follow;
  f.given = true;
  if (n.IsScalar()) {
    if (auto v = base::ReadBool(n, p, ctx)) f.enabled = *v;
    return;
  }
  FollowSchema().Read(n, p, &f, ctx);
}

// A pattern compiled with RE2; a bad one is reported with its character position.
std::shared_ptr<const re2::RE2> CompilePattern(const YAML::Node& n, const std::string& path,
                                               const std::string& pattern, ConfigContext& ctx) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  if (re->ok()) return re;
  const size_t at = re->error_arg().empty() ? std::string::npos : pattern.find(re->error_arg());
  ctx.Error(
      n, path,
      "bad pattern" +
          (at == std::string::npos ? std::string() : " at character " + std::to_string(at + 1)) +
          ": " + re->error());
  return nullptr;
}

const base::Schema<ParamSettings>& ParamSchema() {
  static const base::Schema<ParamSettings> schema = [] {
    base::Schema<ParamSettings> s;
    s.NonEmptyString("name", &ParamSettings::name, "the parameter's name (params.<name>)")
        .Required();
    s.String("pattern", &ParamSettings::pattern,
             "RE2 pattern a value must match whole, else the run is refused (a parameter the "
             "row does not pass is checked as empty text)");
    s.Bool("allow_leading_dash", &ParamSettings::allow_leading_dash,
           "command: an argument may start with '-' from this value (default: refused unless "
           "a literal \"--\" argument comes first)");
    return s;
  }();
  return schema;
}

// `params:`: a list of names, or of mappings (ParamSchema) for parameters with options.
void ReadParams(const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
  if (!n.IsSequence()) return ctx.Error(n, p, "expected a list of parameter names or mappings");
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string ip = p + "[" + std::to_string(i) + "]";
    const YAML::Node item = n[i];
    ParamSpec spec;
    YAML::Node name_node = item;
    if (item.IsScalar()) {
      auto name = base::ReadString(item, ip, ctx);
      if (!name) continue;
      if (name->empty()) {
        ctx.Error(item, ip, "expected a non-empty name");
        continue;
      }
      spec.name = std::move(*name);
    } else if (item.IsMap()) {
      ParamSettings ps;
      if (!ParamSchema().Read(item, ip, &ps, ctx)) continue;
      spec.name = std::move(ps.name);
      spec.pattern = std::move(ps.pattern);
      spec.allow_leading_dash = ps.allow_leading_dash;
      name_node.reset(item["name"]);  // (operator= would assign into `item`)
      if (!spec.pattern.empty()) {
        spec.regex = CompilePattern(item["pattern"], JoinKeyPath(ip, "pattern"), spec.pattern, ctx);
        if (!spec.regex) continue;
      }
    } else {
      ctx.Error(item, ip, "expected a name or a mapping (name, pattern, allow_leading_dash)");
      continue;
    }
    if (std::find(a->params.begin(), a->params.end(), spec.name) != a->params.end()) {
      ctx.Error(name_node, item.IsMap() ? JoinKeyPath(ip, "name") : ip,
                "duplicate parameter '" + spec.name + "'");
      continue;
    }
    a->params.push_back(spec.name);
    a->param_specs.push_back(std::move(spec));
  }
}

// Readers of the keys no typed field fits.

void ReadRetries(const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
  if (!n.IsScalar()) return void(RetrySchema().Read(n, p, &a->retry, ctx));
  if (auto v = base::ReadInt(n, p, 1, 1000, ctx)) a->retry.max_attempts = static_cast<int>(*v);
}

void ReadRate(const YAML::Node& n, const std::string& p, bool throttle, ActionSettings* a,
              ConfigContext& ctx) {
  RateSettings r;
  if (!RateSchema(throttle).Read(n, p, &r, ctx)) return;
  RateLimit& out = throttle ? a->spec.throttle : a->spec.suppress;
  out.window_ms = r.window_ms;
  out.count = r.count;
  const YAML::Node g = r.group_by.empty() ? YAML::Node() : n["group_by"];
  for (size_t i = 0; i < r.group_by.size(); ++i) {
    const std::string gp = p + ".group_by[" + std::to_string(i) + "]";
    if (auto t = CompileTemplate(g.IsSequence() ? g[i] : g, "{{" + r.group_by[i] + "}}", gp,
                                 a->params, ctx)) {
      out.group_by.push_back(std::move(*t));
    }
  }
}

void ReadBreaker(const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
  BreakerSettings b;
  if (!BreakerSchema().Read(n, p, &b, ctx)) return;
  a->spec.breaker.failures = b.failures;
  a->spec.breaker.reset_after_ms = b.reset_after_ms;
}

void ReadMethod(const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
  auto text = base::ReadString(n, p, ctx);
  if (!text) return;
  std::string upper = *text;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (std::find(std::begin(kMethods), std::end(kMethods), upper) == std::end(kMethods)) {
    return ctx.Error(
        n, p,
        "unknown value '" + *text + "' (expected one of: " +
            base::Join(std::vector<std::string_view>(std::begin(kMethods), std::end(kMethods)),
                       ", ") +
            ")");
  }
  a->method = std::move(upper);
}

// A webhook URL's literal userinfo ("user:pass@") and literal query ("?token=...") move from
// the template into the spec: the driver adds them back when it sends, so the journaled
// request never holds them. A part with substitutions stays in the template; the fragment,
// which is never sent, is dropped with a literal query.
std::string TakeUrlSecrets(std::string text, WebhookSpec* w) {
  const size_t sep = text.find("://");
  if (sep == std::string::npos) return text;
  const size_t host = sep + 3;
  const size_t auth_end = std::min(text.find_first_of("/?#", host), text.size());
  const std::string authority = text.substr(host, auth_end - host);
  const size_t at = authority.rfind('@');
  if (at != std::string::npos && authority.find("{{") == std::string::npos) {
    w->url_userinfo = authority.substr(0, at);
    text.erase(host, at + 1);
  }
  const size_t q = text.find('?', host);
  if (q != std::string::npos) {
    const size_t end = std::min(text.find('#', q), text.size());
    std::string query = text.substr(q + 1, end - q - 1);
    if (query.find("{{") == std::string::npos) {
      w->url_query = std::move(query);
      text.erase(q);
    }
  }
  return text;
}

void ReadUrl(const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
  auto text = base::ReadString(n, p, ctx);
  if (!text) return;
  if (text->rfind("http://", 0) != 0 && text->rfind("https://", 0) != 0) {
    return ctx.Error(n, p, "must start with http:// or https://");
  }
  WebhookSpec& w = a->spec.webhook;
  if (auto t = CompileTemplate(n, TakeUrlSecrets(*text, &w), p, a->params, ctx, Escape::kUrl)) {
    w.url = std::move(*t);
  }
}

// A scalar is a text template; a mapping or list is a JSON template.
void ReadBody(const YAML::Node& n, const std::string& p, const std::vector<std::string>& params,
              ConfigContext& ctx, ContextTemplate* text, bool* has_text, JsonTemplate* json) {
  if (!n.IsScalar()) return void(CatalogReader::ReadJson(n, p, params, ctx, json));
  if (auto t = ReadTemplate(n, p, params, ctx)) {
    *text = std::move(*t);
    *has_text = true;
  }
}

void ReadArgv(const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
  if (!n.IsSequence() || n.size() == 0) {
    return ctx.Error(n, p, "expected a non-empty list (program path, then arguments)");
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string ap = p + "[" + std::to_string(i) + "]";
    auto t = ReadTemplate(n[i], ap, a->params, ctx);
    if (!t) continue;
    if (i == 0 && !t->is_literal()) {
      ctx.Error(n[i], ap, "the program must be a fixed path, not a template");
    } else if (i == 0 && (t->source().empty() || t->source()[0] != '/')) {
      ctx.Error(n[i], ap,
                "the program must be an absolute path (no PATH search), got '" + t->source() + "'");
    }
    a->spec.command.argv.push_back(std::move(*t));
  }
}

// A key holding one template, compiled into *target(settings).
Field& TemplateKey(base::Schema<ActionSettings>& s, std::string key, std::string doc,
                   ContextTemplate* (*target)(ActionSettings*)) {
  return s.Custom(
      std::move(key), "template", std::move(doc),
      [target](const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
        if (auto t = ReadTemplate(n, p, a->params, ctx)) *target(a) = std::move(*t);
      });
}

// A key holding template text that a preset splices into its URL or body.
Field& PresetText(base::Schema<ActionSettings>& s, std::string key, std::string ActionSettings::*m,
                  std::string doc) {
  return s.Custom(
      std::move(key), "template", std::move(doc),
      [m](const YAML::Node& n, const std::string& p, ActionSettings* a, ConfigContext& ctx) {
        if (ReadTemplate(n, p, a->params, ctx)) a->*m = n.Scalar();
      });
}

const base::Schema<ActionSettings>& ActionSchema() {
  static const base::Schema<ActionSettings> schema = [] {
    using A = ActionSettings;
    base::Schema<A> s;
    auto kind_is = [](ActionKind k) { return [k](const A& a) { return a.kind == k; }; };
    auto preset_is = [](Preset p) {
      return [p](const A& a) { return a.kind == ActionKind::kWebhook && a.preset == p; };
    };
    const auto any_preset = [](const A& a) {
      return a.kind == ActionKind::kWebhook && a.preset != Preset::kNone;
    };
    const std::string kWebhook = "kind: webhook", kPlain = "kind: webhook without a preset";
    const std::string kCommand = "kind: command", kKafka = "kind: kafka";

    // Common policy.
    s.Enum("kind", &A::kind, kConfigurableKinds,
           "webhook: an HTTP request; command: run a program (no shell); kafka: produce a "
           "record; emit: feed a conclusion event back to the rules")
        .Required()
        .Selector();
    s.String("description", &A::description, "what the action does, for people");
    s.Custom("params", "list of names or mappings",
             "the parameters a row passes; templates read them as params.<name>; a mapping "
             "gives options",
             ReadParams)
        .NestedList(ParamSchema());
    s.Duration("timeout", &A::timeout_ms, 1, kDayMs, "one attempt's time limit");
    s.Custom("retries", "integer (1..1000) or mapping",
             "tries in all (first included), or the retry policy", ReadRetries)
        .Nested(RetrySchema());
    s.Int("concurrency", &A::concurrency, 1, 100000,
          "runs of this action at once (default: only the worker pool limits)");
    s.Custom("throttle", "mapping", "skip a run when one ran within once_within for its group",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               ReadRate(n, p, true, a, ctx);
             })
        .Nested(RateSchema(true));
    s.Custom("suppress", "mapping", "skip a run when count ran within interval for its group",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               ReadRate(n, p, false, a, ctx);
             })
        .Nested(RateSchema(false));
    s.Custom("circuit_breaker", "mapping",
             "stop calling a target that keeps failing (giving the mapping turns it on)",
             ReadBreaker)
        .Nested(BreakerSchema());
    s.Enum("approval", &A::approval, kApprovalNames, "required: a person approves each run");
    s.Duration("approval_ttl", &A::approval_ttl_ms, 1000, 30 * kDayMs,
               "how long a run waits for approval");
    s.Object("notify", &A::notify, NotifySchema(), "notices around each run");

    // webhook
    s.Enum("preset", &A::preset, kPresetNames,
           "a job API whose URL and body Reflex builds (awx, exastro_ita)")
        .OnlyWhen(kind_is(ActionKind::kWebhook), kWebhook);
    s.Custom("method", "one of: GET, POST, PUT, PATCH, DELETE", "the HTTP method (default POST)",
             ReadMethod)
        .OnlyWhen(preset_is(Preset::kNone), kPlain);
    s.Custom("url", "template (http:// or https://)",
             "the request URL; substituted values are percent-encoded", ReadUrl)
        .Required()
        .OnlyWhen(preset_is(Preset::kNone), kPlain);
    s.Custom("headers", "map of name to template", "request headers",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               ReadTemplateMap(n, p, a->params, Escape::kHeader, ctx, &a->spec.webhook.headers);
             })
        .OnlyWhen(preset_is(Preset::kNone), kPlain);
    s.Custom("body", "template, or mapping/list (JSON)",
             "the request body: text, or JSON whose strings are templates",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               WebhookSpec& w = a->spec.webhook;
               ReadBody(n, p, a->params, ctx, &w.raw_body, &w.has_raw_body, &w.json_body);
             })
        .OnlyWhen(preset_is(Preset::kNone), kPlain);
    PresetText(s, "base_url", &A::base_url, "the job API's base URL")
        .Required()
        .OnlyWhen(any_preset, "preset: awx or exastro_ita");
    PresetText(s, "job_template", &A::job_template, "the AWX job template id")
        .Required()
        .OnlyWhen(preset_is(Preset::kAwx), "preset: awx");
    PresetText(s, "inventory", &A::inventory, "the AWX inventory")
        .OnlyWhen(preset_is(Preset::kAwx), "preset: awx");
    PresetText(s, "limit", &A::limit, "the AWX host limit")
        .OnlyWhen(preset_is(Preset::kAwx), "preset: awx");
    for (auto [key, member, doc] :
         {std::tuple{"organization", &A::organization, "the Exastro ITA organization"},
          std::tuple{"workspace", &A::workspace, "the Exastro ITA workspace"},
          std::tuple{"conductor", &A::conductor, "the conductor class name"},
          std::tuple{"operation", &A::operation, "the operation name"}}) {
      PresetText(s, key, member, doc)
          .Required()
          .OnlyWhen(preset_is(Preset::kExastroIta), "preset: exastro_ita");
    }
    PresetText(s, "schedule_date", &A::schedule_date, "when the conductor runs (default: now)")
        .OnlyWhen(preset_is(Preset::kExastroIta), "preset: exastro_ita");
    s.Custom("follow", "boolean or mapping",
             "poll the launched job until it finishes and take its outcome as the run's "
             "(default: true; a mapping tunes it)",
             ReadFollow)
        .Nested(FollowSchema())
        .OnlyWhen(any_preset, "preset: awx or exastro_ita");
    s.String("token_env", &A::token_env,
             "environment variable holding the token (read at send time)")
        .OnlyWhen(kind_is(ActionKind::kWebhook), kWebhook);
    s.String("token_file", &A::token_file, "file holding the token (read at send time)")
        .OnlyWhen(kind_is(ActionKind::kWebhook), kWebhook);
    s.String("auth_scheme", &A::auth_scheme, "Authorization: <auth_scheme> <token>")
        .OnlyWhen(kind_is(ActionKind::kWebhook), kWebhook);
    s.Custom("expected_codes", "list of integers (100..599)",
             "the HTTP statuses that mean success (default: any 2xx)",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               ReadIntList(n, p, 100, 599, ctx, &a->spec.webhook.expected_codes);
             })
        .OnlyWhen(kind_is(ActionKind::kWebhook), kWebhook);
    s.Int("max_response_bytes", &A::max_response_bytes, 0, kMaxBytes,
          "response bytes kept in the journal")
        .OnlyWhen(kind_is(ActionKind::kWebhook), kWebhook);

    // command
    s.Custom("argv", "list of templates", "the absolute program path, then its arguments", ReadArgv)
        .Required()
        .OnlyWhen(kind_is(ActionKind::kCommand), kCommand);
    s.Custom("env", "map of name to template", "the program's environment",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               ReadTemplateMap(n, p, a->params, Escape::kNone, ctx, &a->spec.command.env);
             })
        .OnlyWhen(kind_is(ActionKind::kCommand), kCommand);
    s.String("cwd", &A::cwd, "the working directory")
        .OnlyWhen(kind_is(ActionKind::kCommand), kCommand);
    s.Int("max_output", &A::max_output_bytes, 0, kMaxBytes, "output bytes kept in the journal")
        .OnlyWhen(kind_is(ActionKind::kCommand), kCommand);
    s.Custom("ok_exit_codes", "list of integers (0..255)", "exit codes that mean success",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               ReadIntList(n, p, 0, 255, ctx, &a->spec.command.ok_exit_codes);
             })
        .OnlyWhen(kind_is(ActionKind::kCommand), kCommand);

    // kafka
    TemplateKey(s, "topic", "the topic", [](A* a) { return &a->spec.kafka.topic; })
        .Required()
        .OnlyWhen(kind_is(ActionKind::kKafka), kKafka);
    TemplateKey(s, "key", "the record key", [](A* a) {
      return &a->spec.kafka.key;
    }).OnlyWhen(kind_is(ActionKind::kKafka), kKafka);
    s.Custom("value", "template, or mapping/list (JSON)", "the record value",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               KafkaSpec& k = a->spec.kafka;
               ReadBody(n, p, a->params, ctx, &k.text_value, &k.has_text_value, &k.json_value);
             })
        .Required()
        .OnlyWhen(kind_is(ActionKind::kKafka), kKafka);

    // emit
    s.Custom("event", "mapping (JSON)", "the conclusion event; its strings are templates",
             [](const YAML::Node& n, const std::string& p, A* a, ConfigContext& ctx) {
               if (!n.IsMap()) return ctx.Error(n, p, "expected a mapping (the event's JSON)");
               CatalogReader::ReadJson(n, p, a->params, ctx, &a->spec.emit.event);
             })
        .Required()
        .OnlyWhen(kind_is(ActionKind::kEmit), "kind: emit");

    s.Check([](A* a, const YAML::Node& n, const std::string& p, ConfigContext& ctx) {
      if (!a->token_env.empty() && !a->token_file.empty()) {
        ctx.Error(n["token_file"], JoinKeyPath(p, "token_file"),
                  "give token_env or token_file, not both");
      }
    });
    return s;
  }();
  return schema;
}

ContextTemplate Literal(std::string_view text) { return *ContextTemplate::Parse(text, {}); }

// The request a preset makes: its URL and JSON body from the preset's keys.
void BuildPreset(const ActionSettings& s, const YAML::Node& node, const std::string& path,
                 ConfigContext& ctx, ActionSpec* spec) {
  WebhookSpec& w = spec->webhook;
  w.preset = std::string(kPresetNames.Name(s.preset));
  w.method = "POST";
  w.headers.emplace_back("Content-Type", Literal("application/json"));
  // Each piece was checked as a template when read, so these parse.
  std::vector<std::pair<std::string, JsonTemplate>> body;
  auto text = [&](std::string key, const std::string& t) {
    body.emplace_back(std::move(key), CatalogReader::Text(*ContextTemplate::Parse(t, s.params)));
  };
  std::string base = s.base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url;
  if (s.preset == Preset::kAwx) {
    url = base + "/api/v2/job_templates/" + s.job_template + "/launch/";
    std::vector<std::pair<std::string, JsonTemplate>> vars;
    for (const auto& p : s.params) {
      vars.emplace_back(
          p, CatalogReader::Text(*ContextTemplate::Parse("{{params." + p + "}}", s.params)));
    }
    body.emplace_back("extra_vars", CatalogReader::Object(std::move(vars)));
    if (node["limit"]) text("limit", s.limit);
    if (node["inventory"]) text("inventory", s.inventory);
  } else {
    url = base + "/api/" + s.organization + "/workspaces/" + s.workspace +
          "/ita/menu/conductor_class_edit/conductor/execute/";
    text("conductor_class_name", s.conductor);
    text("operation_name", s.operation);
    text("schedule_date", s.schedule_date);
  }
  w.json_body = CatalogReader::Object(std::move(body));
  // Following the job: on unless switched off; text not written takes the preset's default.
  const FollowSettings& f = s.follow;
  FollowSpec& follow = w.follow;
  follow.enabled = f.enabled;
  follow.poll_interval_ms = f.poll_interval_ms;
  follow.timeout_ms = f.timeout_ms;
  const bool awx = s.preset == Preset::kAwx;
  follow.id_field = !f.id_field.empty() ? f.id_field : awx ? "job" : "data.conductor_instance_id";
  follow.status_field = !f.status_field.empty() ? f.status_field
                        : awx                   ? "status"
                                                : "data.conductor.status_id";
  follow.succeeded = !f.succeeded.empty() ? f.succeeded
                     : awx                ? std::vector<std::string>{"successful"}
                                          : std::vector<std::string>{"6"};
  follow.failed = !f.failed.empty() ? f.failed
                  : awx             ? std::vector<std::string>{"failed", "error", "canceled"}
                                    : std::vector<std::string>{"7", "8", "9", "10", "11"};
  // The URL's own substitutions are percent-encoded; the base is taken as written.
  if (auto t = CompileTemplate(node["base_url"], TakeUrlSecrets(url, &w),
                               JoinKeyPath(path, "base_url"), s.params, ctx, Escape::kUrl)) {
    w.url = std::move(*t);
  }
}

// The ActionSpec of settings the schema accepted.
ActionSpec Finish(ActionSettings s, const YAML::Node& node, const std::string& path,
                  ConfigContext& ctx) {
  ActionSpec spec = std::move(s.spec);
  spec.kind = s.kind;
  spec.description = s.description;
  spec.params = s.params;
  spec.param_specs = s.param_specs;
  spec.timeout_ms = s.timeout_ms;
  spec.retry = s.retry;
  spec.concurrency = s.concurrency;
  spec.approval_required = s.approval == Approval::kRequired;
  spec.approval_ttl_ms = s.approval_ttl_ms;
  spec.notify_before = s.notify.before;
  spec.notify_after = s.notify.after;
  if (s.kind == ActionKind::kWebhook) {
    WebhookSpec& w = spec.webhook;
    w.method = s.method;
    w.token_env = s.token_env;
    w.token_file = s.token_file;
    w.auth_scheme = s.auth_scheme;
    w.max_response_bytes = s.max_response_bytes;
    if (s.preset != Preset::kNone) {
      BuildPreset(s, node, path, ctx, &spec);
    } else if (!w.json_body.empty()) {
      const bool has_type = std::any_of(w.headers.begin(), w.headers.end(), [](const auto& h) {
        return base::AsciiLower(h.first) == "content-type";
      });
      if (!has_type) w.headers.emplace_back("Content-Type", Literal("application/json"));
    }
  } else if (s.kind == ActionKind::kCommand) {
    spec.command.cwd = s.cwd;
    spec.command.max_output_bytes = s.max_output_bytes;
  }
  return spec;
}

// The top of the file: `actions:` and nothing else.
struct CatalogFile {
  YAML::Node actions;
};

const base::Schema<CatalogFile>& CatalogFileSchema() {
  static const base::Schema<CatalogFile> schema = [] {
    base::Schema<CatalogFile> s;
    s.Node("actions", &CatalogFile::actions, "mapping of action name to settings",
           "the actions decision tables name")
        .Required();
    return s;
  }();
  return schema;
}

void ReadAction(const YAML::Node& key, const YAML::Node& node, ConfigContext& ctx, Catalog* out) {
  const std::string name = key.IsScalar() ? key.Scalar() : std::string();
  const std::string path = JoinKeyPath("actions", name);
  if (name.empty()) return ctx.Error(key, "actions", "expected an action name");
  if (name == "ignore" || name == "escalate") {
    return ctx.Error(key, path, "'" + name + "' is a built-in outcome and cannot be redefined");
  }
  if (!node.IsMap()) {
    return ctx.Error(node.IsNull() ? key : node, path,
                     "expected a mapping of settings (kind, ...)");
  }
  ActionSettings settings;
  if (!ActionSchema().Read(node, path, &settings, ctx)) return;
  const size_t before = ctx.error_count();
  ActionSpec spec = Finish(std::move(settings), node, path, ctx);
  if (ctx.error_count() > before) return;
  spec.name = name;
  spec.file = ctx.file();
  spec.line = key.Mark().line + 1;
  out->Add(std::move(spec));
}

std::optional<Catalog> ParseCatalogText(std::string_view text, ConfigContext& ctx) {
  if (!base::CheckUtf8(text, ctx.file(), &ctx.diagnostics())) return std::nullopt;
  auto root = base::ParseYaml(text, ctx);
  if (!root) return std::nullopt;
  return ReadCatalog(*root, ctx);
}

}  // namespace

bool CatalogReader::ReadJson(const YAML::Node& n, const std::string& path,
                             const std::vector<std::string>& params, ConfigContext& ctx,
                             JsonTemplate* out) {
  if (n.IsMap() || n.IsSequence()) {
    out->kind_ = n.IsMap() ? JsonTemplate::Kind::kObject : JsonTemplate::Kind::kArray;
    bool ok = true;
    size_t i = 0;
    for (const auto& item : n) {
      const YAML::Node& value = n.IsMap() ? item.second : item;
      std::string key = n.IsMap() && item.first.IsScalar() ? item.first.Scalar() : std::string();
      const std::string p =
          n.IsMap() ? JoinKeyPath(path, key) : path + "[" + std::to_string(i) + "]";
      JsonTemplate child;
      ok = ReadJson(value, p, params, ctx, &child) && ok;
      out->members_.emplace_back(std::move(key), std::move(child));
      ++i;
    }
    return ok;
  }
  out->kind_ = JsonTemplate::Kind::kLiteral;
  out->literal_ = nullptr;
  if (n.IsNull()) return true;
  const std::string& s = n.Scalar();
  if (n.Tag() == "?") {  // plain scalar: numbers, booleans and null keep their type
    if (s == "true" || s == "false") {
      out->literal_ = (s == "true");
      return true;
    }
    if (s == "null" || s == "~") return true;
    nlohmann::json num = nlohmann::json::parse(s, nullptr, false);
    if (!num.is_discarded() && num.is_number()) {
      out->literal_ = std::move(num);
      return true;
    }
  }
  auto t = CompileTemplate(n, s, path, params, ctx);
  if (!t) return false;
  *out = Text(std::move(*t));
  return true;
}

std::optional<Catalog> ReadCatalog(const YAML::Node& root, ConfigContext& ctx) {
  const size_t before = ctx.error_count();
  Catalog catalog;
  try {
    // Unknown top-level keys are reported; the actions are read all the same.
    CatalogFile file;
    CatalogFileSchema().Read(root, "", &file, ctx);
    const YAML::Node actions = root.IsMap() ? root["actions"] : YAML::Node();
    if (!actions.IsDefined() || !root.IsMap()) return std::nullopt;  // reported by the schema
    if (!actions.IsMap()) {
      ctx.Error(actions, "actions", "expected a mapping of action names to their settings");
      return std::nullopt;
    }
    for (const auto& kv : actions) ReadAction(kv.first, kv.second, ctx, &catalog);
  } catch (const YAML::Exception& e) {
    ctx.Error(root, "actions", std::string("bad YAML: ") + e.what());
  }
  if (ctx.error_count() > before) return std::nullopt;
  return catalog;
}

std::optional<Catalog> LoadCatalog(const std::string& path, base::Diagnostics* diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags->Error(path, 0, 0, "cannot open the action catalog");
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    diags->Error(path, 0, 0, "cannot read the action catalog");
    return std::nullopt;
  }
  ConfigContext ctx(path, base::NoEnv(), diags);
  return ParseCatalogText(ss.str(), ctx);
}

Result<Catalog> ParseCatalog(std::string_view yaml_text, const std::string& file) {
  base::Diagnostics diags;
  ConfigContext ctx(file, base::NoEnv(), &diags);
  auto c = ParseCatalogText(yaml_text, ctx);
  if (!c) return diags.ToStatus();
  return std::move(*c);
}

Result<Catalog> LoadCatalog(const std::string& path) {
  base::Diagnostics diags;
  auto c = LoadCatalog(path, &diags);
  if (!c) return diags.ToStatus();
  return std::move(*c);
}

std::vector<base::SchemaDoc> CatalogSchemaDocs() {
  std::vector<base::SchemaDoc> docs;
  CatalogFileSchema().Document("", &docs);
  ActionSchema().Document("actions.<name>", &docs);
  return docs;
}

}  // namespace reflex::actions
