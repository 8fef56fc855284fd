#include "reflex/actions/catalog.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "reflex/engine/template.h"

namespace reflex::actions {

using engine::InvalidArgument;
using engine::Result;
using engine::Status;

std::string_view KindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kWebhook:
      return "webhook";
    case ActionKind::kCommand:
      return "command";
    case ActionKind::kKafka:
      return "kafka";
    case ActionKind::kEmit:
      return "emit";
    case ActionKind::kEscalate:
      return "escalate";
  }
  return "?";
}

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

// Builds the catalog from YAML, collecting every error with its position.
class CatalogBuilder {
 public:
  explicit CatalogBuilder(std::string file) : file_(std::move(file)) {}

  void Build(const YAML::Node& root, Catalog* out);
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  void Error(const YAML::Node& n, const std::string& msg) {
    const YAML::Mark m = n.Mark();
    errors_.push_back(file_ + ":" + std::to_string(m.line + 1) + ":" +
                      std::to_string(m.column + 1) + ": " + msg);
  }
  void CheckKeys(const YAML::Node& map, const std::vector<std::string>& allowed,
                 const std::string& where) {
    for (auto kv : map) {
      const std::string key = kv.first.as<std::string>("");
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        Error(kv.first, where + ": unknown key '" + key + "' (valid keys: " + list + ")");
      }
    }
  }
  bool Scalar(const YAML::Node& n, const std::string& where, std::string* out) {
    if (!n.IsScalar()) {
      Error(n, where + ": expected a text value");
      return false;
    }
    *out = n.Scalar();
    return true;
  }
  bool Int(const YAML::Node& n, const std::string& where, int64_t lo, int64_t hi, int64_t* out) {
    std::string s;
    if (!Scalar(n, where, &s)) return false;
    try {
      size_t used = 0;
      long long v = std::stoll(s, &used);
      if (used == s.size() && v >= lo && v <= hi) {
        *out = v;
        return true;
      }
    } catch (const std::exception&) {
    }
    Error(n, where + ": expected an integer from " + std::to_string(lo) + " to " +
                 std::to_string(hi) + ", got '" + s + "'");
    return false;
  }
  bool Bool(const YAML::Node& n, const std::string& where, bool* out) {
    std::string s;
    if (!Scalar(n, where, &s)) return false;
    if (s == "true" || s == "yes" || s == "on") {
      *out = true;
      return true;
    }
    if (s == "false" || s == "no" || s == "off") {
      *out = false;
      return true;
    }
    Error(n, where + ": expected true or false, got '" + s + "'");
    return false;
  }
  bool Duration(const YAML::Node& n, const std::string& where, int64_t* out) {
    std::string s;
    if (!Scalar(n, where, &s)) return false;
    auto d = base::ParseDurationMs(s);
    if (!d.ok()) {
      Error(n, where + ": " + d.status().message());
      return false;
    }
    *out = *d;
    return true;
  }
  bool Template(const YAML::Node& n, const std::string& where, const ActionSpec& spec,
                ContextTemplate* out,
                ContextTemplate::Escape esc = ContextTemplate::Escape::kNone) {
    std::string s;
    if (!Scalar(n, where, &s)) return false;
    return TemplateText(n, s, where, spec, out, esc);
  }
  bool TemplateText(const YAML::Node& n, const std::string& s, const std::string& where,
                    const ActionSpec& spec, ContextTemplate* out,
                    ContextTemplate::Escape esc = ContextTemplate::Escape::kNone) {
    auto t = ContextTemplate::Parse(s, spec.params, esc);
    if (!t.ok()) {
      Error(n, where + ": " + t.status().message());
      return false;
    }
    *out = std::move(*t);
    return true;
  }
  bool Json(const YAML::Node& n, const std::string& where, const ActionSpec& spec,
            JsonTemplate* out);
  void Rate(const YAML::Node& n, const std::string& where, const ActionSpec& spec, bool throttle,
            RateLimit* out);
  void Retries(const YAML::Node& n, const std::string& where, RetryPolicy* out);
  void Webhook(const YAML::Node& n, const std::string& where, ActionSpec* spec);
  void Preset(const YAML::Node& n, const std::string& where, const std::string& preset,
              ActionSpec* spec);
  void Command(const YAML::Node& n, const std::string& where, ActionSpec* spec);
  void Kafka(const YAML::Node& n, const std::string& where, ActionSpec* spec);
  void Action(const std::string& name, const YAML::Node& key, const YAML::Node& n, Catalog* out);

  std::string file_;
  std::vector<std::string> errors_;
};

bool CatalogBuilder::Json(const YAML::Node& n, const std::string& where, const ActionSpec& spec,
                          JsonTemplate* out) {
  if (n.IsMap()) {
    out->kind_ = JsonTemplate::Kind::kObject;
    bool ok = true;
    for (auto kv : n) {
      JsonTemplate child;
      std::string key = kv.first.as<std::string>("");
      if (!Json(kv.second, where + "." + key, spec, &child)) ok = false;
      out->members_.emplace_back(key, std::move(child));
    }
    return ok;
  }
  if (n.IsSequence()) {
    out->kind_ = JsonTemplate::Kind::kArray;
    bool ok = true;
    size_t i = 0;
    for (auto item : n) {
      JsonTemplate child;
      if (!Json(item, where + "[" + std::to_string(i++) + "]", spec, &child)) ok = false;
      out->members_.emplace_back("", std::move(child));
    }
    return ok;
  }
  if (n.IsNull()) {
    out->kind_ = JsonTemplate::Kind::kLiteral;
    out->literal_ = nullptr;
    return true;
  }
  const std::string& s = n.Scalar();
  if (n.Tag() == "?") {  // plain scalar: numbers, booleans and null keep their type
    if (s == "true" || s == "false") {
      out->kind_ = JsonTemplate::Kind::kLiteral;
      out->literal_ = (s == "true");
      return true;
    }
    if (s == "null" || s == "~") {
      out->kind_ = JsonTemplate::Kind::kLiteral;
      out->literal_ = nullptr;
      return true;
    }
    nlohmann::json num = nlohmann::json::parse(s, nullptr, false);
    if (!num.is_discarded() && num.is_number()) {
      out->kind_ = JsonTemplate::Kind::kLiteral;
      out->literal_ = std::move(num);
      return true;
    }
  }
  out->kind_ = JsonTemplate::Kind::kString;
  return TemplateText(n, s, where, spec, &out->text_);
}

void CatalogBuilder::Rate(const YAML::Node& n, const std::string& where, const ActionSpec& spec,
                          bool throttle, RateLimit* out) {
  if (!n.IsMap()) {
    Error(n, where + (throttle ? ": expected a mapping {once_within, group_by}"
                               : ": expected a mapping {interval, count, group_by}"));
    return;
  }
  if (throttle) {
    CheckKeys(n, {"once_within", "group_by"}, where);
    if (auto w = n["once_within"]; w) {
      Duration(w, where + ".once_within", &out->window_ms);
    } else {
      Error(n, where + ": missing required key 'once_within'");
    }
    out->count = 1;
  } else {
    CheckKeys(n, {"interval", "count", "group_by"}, where);
    if (auto w = n["interval"]; w) {
      Duration(w, where + ".interval", &out->window_ms);
    } else {
      Error(n, where + ": missing required key 'interval'");
    }
    int64_t count = 1;
    if (auto c = n["count"]; c && Int(c, where + ".count", 1, 1000000, &count)) {
      out->count = static_cast<int>(count);
    }
  }
  if (auto g = n["group_by"]; g) {
    if (!g.IsSequence()) {
      Error(g, where + ".group_by: expected a list of variables (e.g. [params.host])");
      return;
    }
    for (auto v : g) {
      std::string name;
      if (!Scalar(v, where + ".group_by", &name)) continue;
      ContextTemplate t;
      if (TemplateText(v, "{{" + name + "}}", where + ".group_by", spec, &t)) {
        out->group_by.push_back(std::move(t));
      }
    }
  }
}

void CatalogBuilder::Retries(const YAML::Node& n, const std::string& where, RetryPolicy* out) {
  if (n.IsScalar()) {
    int64_t v = 0;
    if (Int(n, where, 1, 1000, &v)) out->max_attempts = static_cast<int>(v);
    return;
  }
  if (!n.IsMap()) {
    Error(n, where + ": expected a number of attempts or a mapping");
    return;
  }
  CheckKeys(n, {"max_attempts", "backoff_base", "backoff_max", "jitter"}, where);
  int64_t v = 0;
  if (auto m = n["max_attempts"]; m && Int(m, where + ".max_attempts", 1, 1000, &v)) {
    out->max_attempts = static_cast<int>(v);
  }
  if (auto b = n["backoff_base"]; b) Duration(b, where + ".backoff_base", &out->backoff_base_ms);
  if (auto b = n["backoff_max"]; b) Duration(b, where + ".backoff_max", &out->backoff_max_ms);
  if (auto j = n["jitter"]; j) {
    std::string s = j.IsScalar() ? j.Scalar() : "";
    if (s == "full" || s == "true") {
      out->jitter = true;
    } else if (s == "none" || s == "false") {
      out->jitter = false;
    } else {
      Error(j, where + ".jitter: expected full or none");
    }
  }
  if (out->backoff_max_ms < out->backoff_base_ms) {
    Error(n, where + ": backoff_max is smaller than backoff_base");
  }
}

namespace {
const std::vector<std::string> kCommonKeys = {
    "kind",     "description", "params",          "timeout",  "retries",      "concurrency",
    "throttle", "suppress",    "circuit_breaker", "approval", "approval_ttl", "notify"};
std::vector<std::string> With(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

void CatalogBuilder::Preset(const YAML::Node& n, const std::string& where,
                            const std::string& preset, ActionSpec* spec) {
  WebhookSpec& w = spec->webhook;
  w.preset = preset;
  w.method = "POST";
  w.headers.emplace_back("Content-Type", *ContextTemplate::Parse("application/json", {}));
  auto required = [&](const char* key, std::string* out) {
    if (auto v = n[key]; v) {
      if (Scalar(v, where + "." + key, out)) {
        // Validate the template now; it is spliced into the URL/body below.
        ContextTemplate t;
        TemplateText(v, *out, where + "." + key, *spec, &t);
      }
      return true;
    }
    Error(n, where + ": preset " + preset + " requires '" + key + "'");
    return false;
  };
  std::string base;
  required("base_url", &base);
  while (!base.empty() && base.back() == '/') base.pop_back();
  w.json_body.kind_ = JsonTemplate::Kind::kObject;
  auto add_string = [&](const std::string& key, const std::string& text) {
    JsonTemplate v;
    v.kind_ = JsonTemplate::Kind::kString;
    auto t = ContextTemplate::Parse(text, spec->params);
    if (t.ok()) v.text_ = std::move(*t);
    w.json_body.members_.emplace_back(key, std::move(v));
  };
  std::string url;
  if (preset == "awx") {
    CheckKeys(
        n,
        With(kCommonKeys, {"preset", "base_url", "job_template", "inventory", "limit", "token_env",
                           "token_file", "auth_scheme", "expected_codes", "max_response_bytes"}),
        where);
    std::string jt;
    required("job_template", &jt);
    url = base + "/api/v2/job_templates/" + jt + "/launch/";
    JsonTemplate vars;
    vars.kind_ = JsonTemplate::Kind::kObject;
    for (const auto& p : spec->params) {
      JsonTemplate v;
      v.kind_ = JsonTemplate::Kind::kString;
      v.text_ = *ContextTemplate::Parse("{{params." + p + "}}", spec->params);
      vars.members_.emplace_back(p, std::move(v));
    }
    w.json_body.members_.emplace_back("extra_vars", std::move(vars));
    std::string s;
    if (auto v = n["limit"]; v && Scalar(v, where + ".limit", &s)) add_string("limit", s);
    if (auto v = n["inventory"]; v && Scalar(v, where + ".inventory", &s)) {
      add_string("inventory", s);
    }
  } else {  // exastro_ita
    CheckKeys(n,
              With(kCommonKeys, {"preset", "base_url", "organization", "workspace", "conductor",
                                 "operation", "schedule_date", "token_env", "token_file",
                                 "auth_scheme", "expected_codes", "max_response_bytes"}),
              where);
    std::string org, ws, conductor, operation;
    required("organization", &org);
    required("workspace", &ws);
    required("conductor", &conductor);
    required("operation", &operation);
    url = base + "/api/" + org + "/workspaces/" + ws +
          "/ita/menu/conductor_class_edit/conductor/execute/";
    add_string("conductor_class_name", conductor);
    add_string("operation_name", operation);
    std::string sd;
    if (auto v = n["schedule_date"]; v) Scalar(v, where + ".schedule_date", &sd);
    add_string("schedule_date", sd);
  }
  // The URL's own substitutions are percent-encoded; the base is taken as written.
  auto t = ContextTemplate::Parse(url, spec->params, ContextTemplate::Escape::kUrl);
  if (t.ok()) w.url = std::move(*t);
}

void CatalogBuilder::Webhook(const YAML::Node& n, const std::string& where, ActionSpec* spec) {
  WebhookSpec& w = spec->webhook;
  std::string preset;
  if (auto p = n["preset"]; p && Scalar(p, where + ".preset", &preset)) {
    if (preset != "awx" && preset != "exastro_ita") {
      Error(p,
            where + ".preset: unknown preset '" + preset + "' (valid presets: awx, exastro_ita)");
      return;
    }
    Preset(n, where, preset, spec);
  } else {
    CheckKeys(n,
              With(kCommonKeys, {"method", "url", "headers", "body", "token_env", "token_file",
                                 "auth_scheme", "expected_codes", "max_response_bytes", "preset"}),
              where);
    if (auto m = n["method"]; m && Scalar(m, where + ".method", &w.method)) {
      std::transform(w.method.begin(), w.method.end(), w.method.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      static const std::vector<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
      if (std::find(kMethods.begin(), kMethods.end(), w.method) == kMethods.end()) {
        Error(m, where + ".method: unknown method '" + w.method +
                     "' (valid: GET, POST, PUT, PATCH, DELETE)");
      }
    }
    if (auto u = n["url"]; u) {
      if (Template(u, where + ".url", *spec, &w.url, ContextTemplate::Escape::kUrl)) {
        const std::string& s = w.url.source();
        if (s.rfind("http://", 0) != 0 && s.rfind("https://", 0) != 0) {
          Error(u, where + ".url: must start with http:// or https://");
        }
      }
    } else {
      Error(n, where + ": missing required key 'url'");
    }
    if (auto h = n["headers"]; h) {
      if (!h.IsMap()) {
        Error(h, where + ".headers: expected a mapping of header name to value");
      } else {
        for (auto kv : h) {
          std::string name = kv.first.as<std::string>("");
          ContextTemplate t;
          if (Template(kv.second, where + ".headers." + name, *spec, &t,
                       ContextTemplate::Escape::kHeader)) {
            w.headers.emplace_back(name, std::move(t));
          }
        }
      }
    }
    if (auto b = n["body"]; b) {
      if (b.IsScalar()) {
        w.has_raw_body = Template(b, where + ".body", *spec, &w.raw_body);
      } else if (Json(b, where + ".body", *spec, &w.json_body)) {
        bool has_ct = false;
        for (const auto& [k, v] : w.headers) {
          std::string lk = k;
          std::transform(lk.begin(), lk.end(), lk.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          has_ct = has_ct || lk == "content-type";
        }
        if (!has_ct) {
          w.headers.emplace_back("Content-Type", *ContextTemplate::Parse("application/json", {}));
        }
      }
    }
  }
  if (auto t = n["token_env"]; t) Scalar(t, where + ".token_env", &w.token_env);
  if (auto t = n["token_file"]; t) Scalar(t, where + ".token_file", &w.token_file);
  if (!w.token_env.empty() && !w.token_file.empty()) {
    Error(n, where + ": give token_env or token_file, not both");
  }
  if (auto a = n["auth_scheme"]; a) Scalar(a, where + ".auth_scheme", &w.auth_scheme);
  if (auto e = n["expected_codes"]; e) {
    if (!e.IsSequence()) {
      Error(e, where + ".expected_codes: expected a list of HTTP status codes");
    } else {
      for (auto c : e) {
        int64_t v = 0;
        if (Int(c, where + ".expected_codes", 100, 599, &v)) {
          w.expected_codes.push_back(static_cast<int>(v));
        }
      }
    }
  }
  if (auto m = n["max_response_bytes"]; m) {
    int64_t v = 0;
    if (Int(m, where + ".max_response_bytes", 0, 16 << 20, &v)) {
      w.max_response_bytes = static_cast<size_t>(v);
    }
  }
}

void CatalogBuilder::Command(const YAML::Node& n, const std::string& where, ActionSpec* spec) {
  CheckKeys(n, With(kCommonKeys, {"argv", "env", "cwd", "max_output", "ok_exit_codes"}), where);
  CommandSpec& c = spec->command;
  auto argv = n["argv"];
  if (!argv) {
    Error(n, where + ": missing required key 'argv' (a list: program path, then arguments)");
  } else if (!argv.IsSequence() || argv.size() == 0) {
    Error(argv, where + ".argv: expected a non-empty list (program path, then arguments)");
  } else {
    size_t i = 0;
    for (auto a : argv) {
      ContextTemplate t;
      std::string w = where + ".argv[" + std::to_string(i) + "]";
      if (!Template(a, w, *spec, &t)) {
        ++i;
        continue;
      }
      if (i == 0) {
        if (!t.is_literal()) {
          Error(a, w + ": the program must be a fixed path, not a template");
        } else if (t.source().empty() || t.source()[0] != '/') {
          Error(a, w + ": the program must be an absolute path (no PATH search), got '" +
                       t.source() + "'");
        }
      }
      c.argv.push_back(std::move(t));
      ++i;
    }
  }
  if (auto e = n["env"]; e) {
    if (!e.IsMap()) {
      Error(e, where + ".env: expected a mapping of variable name to value");
    } else {
      for (auto kv : e) {
        std::string name = kv.first.as<std::string>("");
        if (name.empty() || name.find('=') != std::string::npos) {
          Error(kv.first, where + ".env: bad variable name '" + name + "'");
          continue;
        }
        ContextTemplate t;
        if (Template(kv.second, where + ".env." + name, *spec, &t)) {
          c.env.emplace_back(name, std::move(t));
        }
      }
    }
  }
  if (auto d = n["cwd"]; d) Scalar(d, where + ".cwd", &c.cwd);
  if (auto m = n["max_output"]; m) {
    int64_t v = 0;
    if (Int(m, where + ".max_output", 0, 16 << 20, &v)) c.max_output_bytes = static_cast<size_t>(v);
  }
  if (auto e = n["ok_exit_codes"]; e) {
    if (!e.IsSequence()) {
      Error(e, where + ".ok_exit_codes: expected a list of exit codes");
    } else {
      c.ok_exit_codes.clear();
      for (auto x : e) {
        int64_t v = 0;
        if (Int(x, where + ".ok_exit_codes", 0, 255, &v))
          c.ok_exit_codes.push_back(static_cast<int>(v));
      }
    }
  }
}

void CatalogBuilder::Kafka(const YAML::Node& n, const std::string& where, ActionSpec* spec) {
  CheckKeys(n, With(kCommonKeys, {"topic", "key", "value"}), where);
  KafkaSpec& k = spec->kafka;
  if (auto t = n["topic"]; t) {
    Template(t, where + ".topic", *spec, &k.topic);
  } else {
    Error(n, where + ": missing required key 'topic'");
  }
  if (auto t = n["key"]; t) Template(t, where + ".key", *spec, &k.key);
  if (auto v = n["value"]; v) {
    if (v.IsScalar()) {
      k.has_text_value = Template(v, where + ".value", *spec, &k.text_value);
    } else {
      Json(v, where + ".value", *spec, &k.json_value);
    }
  } else {
    Error(n, where + ": missing required key 'value'");
  }
}

void CatalogBuilder::Action(const std::string& name, const YAML::Node& key, const YAML::Node& n,
                            Catalog* out) {
  const std::string where = "actions." + name;
  if (!n.IsMap()) {
    Error(n.IsNull() ? key : n, where + ": expected a mapping of settings (kind, ...)");
    return;
  }
  ActionSpec spec;
  spec.name = name;
  spec.file = file_;
  spec.line = key.Mark().line + 1;
  if (auto d = n["description"]; d) Scalar(d, where + ".description", &spec.description);
  if (auto p = n["params"]; p) {
    if (!p.IsSequence()) {
      Error(p, where + ".params: expected a list of parameter names");
    } else {
      for (auto x : p) {
        std::string s;
        if (Scalar(x, where + ".params", &s)) spec.params.push_back(s);
      }
    }
  }
  auto kind = n["kind"];
  std::string kind_text;
  if (!kind) {
    Error(key, where + ": missing required key 'kind' (webhook, command, kafka or emit)");
    return;
  }
  if (!Scalar(kind, where + ".kind", &kind_text)) return;
  if (kind_text == "webhook") {
    spec.kind = ActionKind::kWebhook;
    Webhook(n, where, &spec);
  } else if (kind_text == "command") {
    spec.kind = ActionKind::kCommand;
    Command(n, where, &spec);
  } else if (kind_text == "kafka") {
    spec.kind = ActionKind::kKafka;
    Kafka(n, where, &spec);
  } else if (kind_text == "emit") {
    spec.kind = ActionKind::kEmit;
    CheckKeys(n, With(kCommonKeys, {"event"}), where);
    if (auto e = n["event"]; e && e.IsMap()) {
      Json(e, where + ".event", spec, &spec.emit.event);
    } else {
      Error(e ? e : key, where + ": 'event' must be a mapping (the conclusion event's JSON)");
    }
  } else {
    Error(kind, where + ".kind: unknown kind '" + kind_text +
                    "' (valid kinds: webhook, command, kafka, emit)");
    return;
  }
  if (auto t = n["timeout"]; t) {
    if (Duration(t, where + ".timeout", &spec.timeout_ms) && spec.timeout_ms <= 0) {
      Error(t, where + ".timeout: must be positive");
    }
  }
  if (auto r = n["retries"]; r) Retries(r, where + ".retries", &spec.retry);
  if (auto c = n["concurrency"]; c) {
    int64_t v = 0;
    if (Int(c, where + ".concurrency", 1, 100000, &v)) spec.concurrency = static_cast<int>(v);
  }
  if (auto t = n["throttle"]; t) Rate(t, where + ".throttle", spec, true, &spec.throttle);
  if (auto s = n["suppress"]; s) Rate(s, where + ".suppress", spec, false, &spec.suppress);
  if (auto b = n["circuit_breaker"]; b) {
    if (!b.IsMap()) {
      Error(b, where + ".circuit_breaker: expected a mapping {failures, reset_after}");
    } else {
      CheckKeys(b, {"failures", "reset_after"}, where + ".circuit_breaker");
      int64_t v = 5;
      if (auto f = b["failures"]; f) Int(f, where + ".circuit_breaker.failures", 1, 100000, &v);
      spec.breaker.failures = static_cast<int>(v);
      if (auto r = b["reset_after"]; r) {
        Duration(r, where + ".circuit_breaker.reset_after", &spec.breaker.reset_after_ms);
      }
    }
  }
  if (auto a = n["approval"]; a) {
    std::string s;
    if (Scalar(a, where + ".approval", &s)) {
      if (s == "required") {
        spec.approval_required = true;
      } else if (s != "none") {
        Error(a, where + ".approval: expected 'required' or 'none', got '" + s + "'");
      }
    }
  }
  if (auto a = n["approval_ttl"]; a) Duration(a, where + ".approval_ttl", &spec.approval_ttl_ms);
  if (auto nt = n["notify"]; nt) {
    if (!nt.IsMap()) {
      Error(nt, where + ".notify: expected a mapping {before, after}");
    } else {
      CheckKeys(nt, {"before", "after"}, where + ".notify");
      if (auto b = nt["before"]; b) Bool(b, where + ".notify.before", &spec.notify_before);
      if (auto b = nt["after"]; b) Bool(b, where + ".notify.after", &spec.notify_after);
    }
  }
  out->Add(std::move(spec));
}

void CatalogBuilder::Build(const YAML::Node& root, Catalog* out) {
  YAML::Node actions = root.IsMap() ? root["actions"] : YAML::Node();
  if (!actions || !actions.IsMap()) {
    Error(root, "expected 'actions:' mapping action names to their settings");
    return;
  }
  if (root.IsMap()) CheckKeys(root, {"actions"}, "catalog");
  for (auto kv : actions) {
    const std::string name = kv.first.as<std::string>("");
    if (name.empty()) {
      Error(kv.first, "empty action name");
      continue;
    }
    if (name == "ignore" || name == "escalate") {
      Error(kv.first, "'" + name + "' is a built-in outcome and cannot be redefined");
      continue;
    }
    Action(name, kv.first, kv.second, out);
  }
}

Result<Catalog> ParseCatalog(std::string_view yaml_text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": YAML syntax: " + e.msg);
  }
  Catalog catalog;
  CatalogBuilder b(file);
  try {
    b.Build(root, &catalog);
  } catch (const YAML::Exception& e) {
    return InvalidArgument(file + ": " + e.what());
  }
  if (!b.errors().empty()) {
    std::string msg;
    for (const auto& e : b.errors()) msg += (msg.empty() ? "" : "\n") + e;
    return InvalidArgument(msg);
  }
  return catalog;
}

Result<Catalog> LoadCatalog(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument(path + ": cannot open the action catalog");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return InvalidArgument(path + ": cannot read the action catalog");
  return ParseCatalog(ss.str(), path);
}

}  // namespace reflex::actions
