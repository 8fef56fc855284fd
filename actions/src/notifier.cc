// Notifier targets (YAML -> typed config), payload builders and per-target workers.
#include "reflex/actions/notifier.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "reflex/actions/catalog.h"  // base::ParseDurationMs
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;
using json = nlohmann::ordered_json;

constexpr std::string_view kPagerDutyUrl = "https://events.pagerduty.com/v2/enqueue";
constexpr size_t kPagerDutySummaryMax = 1024;

constexpr std::array<NoticeKind, kNoticeKindCount> kAllKinds = {
    NoticeKind::kNewUnknown,        NoticeKind::kKnownWithAction, NoticeKind::kActionFailed,
    NoticeKind::kApprovalRequested, NoticeKind::kApprovalExpired, NoticeKind::kActionBefore,
    NoticeKind::kActionAfter};

// Default text per notice kind, in NoticeKind order.
constexpr std::array<std::string_view, kNoticeKindCount> kDefaultTemplates = {
    "Unknown event {{labels.alertname | default(\"(no alertname)\")}} from "
    "{{source | default(\"(no source)\")}}: {{message}} (escalation "
    "#{{meta.notice.escalation_id}}, seen {{meta.notice.count}} times)",
    "{{labels.alertname | default(\"an event\")}} is known "
    "({{meta.notice.table}}/{{meta.notice.row}}): running {{meta.notice.action}}",
    "Action {{meta.notice.action}} failed for {{labels.alertname | default(\"an event\")}}"
    " ({{meta.notice.table}}/{{meta.notice.row}}): {{meta.notice.reason}}",
    "Approval needed: {{meta.notice.action}} for {{labels.alertname | default(\"an event\")}}"
    " ({{meta.notice.table}}/{{meta.notice.row}})",
    "Approval for {{meta.notice.action}} on {{labels.alertname | default(\"an event\")}} "
    "expired: {{meta.notice.reason}}",
    "Running {{meta.notice.action}} for {{labels.alertname | default(\"an event\")}} "
    "({{meta.notice.table}}/{{meta.notice.row}})",
    "{{meta.notice.action}} finished for {{labels.alertname | default(\"an event\")}}: "
    "{{meta.notice.reason}}",
};

bool IsHttpUrl(std::string_view u) {
  return (u.rfind("http://", 0) == 0 && u.size() > 7) ||
         (u.rfind("https://", 0) == 0 && u.size() > 8);
}

// Collects "where:line:col: path: message" lines.
class Errors {
 public:
  explicit Errors(std::string_view where) : where_(where) {}
  void Add(const YAML::Node& node, const std::string& path, const std::string& msg) {
    std::string line(where_);
    if (node.IsDefined() && node.Mark().line >= 0) {
      line +=
          ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);
    }
    line += ": " + path + ": " + msg;
    lines_.push_back(std::move(line));
  }
  bool empty() const { return lines_.empty(); }
  Status ToStatus() const {
    std::string m;
    for (const auto& l : lines_) {
      if (!m.empty()) m += "\n";
      m += l;
    }
    return engine::InvalidArgument(std::move(m));
  }

 private:
  std::string where_;
  std::vector<std::string> lines_;
};

std::optional<std::string> Scalar(const YAML::Node& n, const std::string& path, Errors* errors) {
  if (!n.IsScalar()) {
    errors->Add(n, path, "expected a text value");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<int64_t> Duration(const YAML::Node& n, const std::string& path, Errors* errors) {
  auto s = Scalar(n, path, errors);
  if (!s) return std::nullopt;
  auto d = base::ParseDurationMs(*s);
  if (!d.ok()) {
    errors->Add(n, path, d.status().message());
    return std::nullopt;
  }
  if (*d <= 0) {
    errors->Add(n, path, "must be positive");
    return std::nullopt;
  }
  return *d;
}

std::optional<int64_t> Count(const YAML::Node& n, const std::string& path, int64_t lo, int64_t hi,
                             Errors* errors) {
  auto s = Scalar(n, path, errors);
  if (!s) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s->c_str(), &end, 10);
  if (s->empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    errors->Add(n, path,
                "expected a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) +
                    ", got '" + *s + "'");
    return std::nullopt;
  }
  return v;
}

std::optional<engine::Template> ParseTemplate(const YAML::Node& n, const std::string& path,
                                              Errors* errors) {
  auto s = Scalar(n, path, errors);
  if (!s) return std::nullopt;
  auto t = engine::Template::Parse(*s);
  if (!t.ok()) {
    errors->Add(n, path, "bad template: " + t.status().message());
    return std::nullopt;
  }
  return std::move(*t);
}

std::string_view PagerDutySeverity(std::string_view s, NoticeKind kind) {
  std::string v(s);
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (v == "critical" || v == "fatal" || v == "page" || v == "high" || v == "p1" ||
      v == "emergency" || v == "alert") {
    return "critical";
  }
  if (v == "error" || v == "major" || v == "p2") return "error";
  if (v == "warning" || v == "warn" || v == "minor" || v == "medium" || v == "p3") {
    return "warning";
  }
  if (v == "info" || v == "informational" || v == "low" || v == "p4" || v == "p5" ||
      v == "notice") {
    return "info";
  }
  return kind == NoticeKind::kActionFailed || kind == NoticeKind::kApprovalExpired ? "error"
                                                                                   : "warning";
}

// Slack mrkdwn control characters.
std::string SlackEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '&') {
      out += "&amp;";
    } else if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Cuts at a UTF-8 boundary.
std::string Cut(std::string s, size_t limit) {
  s.resize(base::CutUtf8(s, limit).size());
  return s;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json NoticeFields(const Notice& n) {
  json j;
  j["kind"] = NoticeKindName(n.kind);
  if (n.at_ms != 0) j["at"] = base::FormatRfc3339Millis(n.at_ms);
  if (n.escalation_id != 0) j["escalation_id"] = n.escalation_id;
  if (!n.fingerprint.empty()) j["fingerprint"] = n.fingerprint;
  if (n.count != 0) j["count"] = n.count;
  if (n.reopened) j["reopened"] = true;
  if (!n.action.empty()) j["action"] = n.action;
  if (!n.table.empty()) j["table"] = n.table;
  if (!n.row.empty()) j["row"] = n.row;
  if (!n.reason.empty()) j["reason"] = n.reason;
  if (!n.runbook.empty()) j["runbook"] = n.runbook;
  if (!n.details.empty()) {
    json& d = j["details"] = json::object();
    for (const auto& [k, v] : n.details) d[k] = v;
  }
  return j;
}

json EventFields(const engine::Event& ev) {
  json j;
  j["id"] = ev.id;
  j["timestamp"] = base::FormatRfc3339Millis(ev.time_ms);
  if (!ev.source.empty()) j["source"] = ev.source;
  if (!ev.labels.empty()) {
    json& l = j["labels"] = json::object();
    for (const auto& [k, v] : ev.labels) l[k] = v;
  }
  if (!ev.values.empty()) {
    json& l = j["values"] = json::object();
    for (const auto& [k, v] : ev.values) l[k] = v;
  }
  if (!ev.message.empty()) j["message"] = ev.message;
  return j;
}

// The event templates render over: the notice's event plus `meta.notice.*`.
engine::Event RenderContext(const Notice& n) {
  engine::Event ev = n.event ? *n.event : engine::Event();
  auto add = [&ev](std::string key, std::string value) {
    ev.meta.emplace_back("notice." + std::move(key), std::move(value));
  };
  add("kind", std::string(NoticeKindName(n.kind)));
  if (n.escalation_id != 0) add("escalation_id", std::to_string(n.escalation_id));
  if (!n.fingerprint.empty()) add("fingerprint", n.fingerprint);
  add("count", std::to_string(n.count));
  add("reopened", n.reopened ? "true" : "false");
  if (!n.action.empty()) add("action", n.action);
  if (!n.table.empty()) add("table", n.table);
  if (!n.row.empty()) add("row", n.row);
  if (!n.reason.empty()) add("reason", n.reason);
  if (!n.runbook.empty()) add("runbook", n.runbook);
  for (const auto& [k, v] : n.details) add(k, v);
  return ev;
}

}  // namespace

std::string_view NoticeKindName(NoticeKind kind) {
  switch (kind) {
    case NoticeKind::kNewUnknown:
      return "new_unknown";
    case NoticeKind::kKnownWithAction:
      return "known_with_action";
    case NoticeKind::kActionFailed:
      return "action_failed";
    case NoticeKind::kApprovalRequested:
      return "approval_requested";
    case NoticeKind::kApprovalExpired:
      return "approval_expired";
    case NoticeKind::kActionBefore:
      return "action_before";
    case NoticeKind::kActionAfter:
      return "action_after";
  }
  return "new_unknown";
}

Result<NoticeKind> ParseNoticeKind(std::string_view name) {
  for (NoticeKind k : kAllKinds) {
    if (NoticeKindName(k) == name) return k;
  }
  return engine::InvalidArgument(
      "unknown notice kind '" + std::string(name) +
      "' (expected new_unknown, known_with_action, action_failed, approval_requested, "
      "approval_expired, action_before or action_after)");
}

Result<NotifierTarget> NotifierTarget::FromYaml(const YAML::Node& node, std::string_view where,
                                                size_t index) {
  Errors errors(where);
  const std::string base = "notifiers[" + std::to_string(index) + "]";
  NotifierTarget t;
  try {
    if (!node.IsMap()) {
      errors.Add(node, base, "expected a mapping with at least `kind`");
      return errors.ToStatus();
    }
    static const std::vector<std::string_view> kKeys = {
        "name",         "kind",     "url",     "url_env", "on",      "templates",
        "timeout",      "retries",  "backoff", "queue",   "headers", "routing_key_env",
        "event_action", "severity", "source"};
    for (const auto& kv : node) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
        errors.Add(kv.first, base + "." + key,
                   "unknown key (expected name, kind, url, url_env, on, templates, timeout, "
                   "retries, backoff, queue, headers, routing_key_env, event_action, severity, "
                   "source)");
      }
    }
    auto key = [&](const char* k) { return base + "." + k; };

    if (const YAML::Node& k = node["kind"]; !k) {
      errors.Add(node, key("kind"), "missing (webhook, slack or pagerduty)");
    } else if (auto s = Scalar(k, key("kind"), &errors)) {
      if (*s == "webhook") {
        t.kind_ = NotifierKind::kWebhook;
      } else if (*s == "slack") {
        t.kind_ = NotifierKind::kSlack;
      } else if (*s == "pagerduty") {
        t.kind_ = NotifierKind::kPagerDuty;
      } else {
        errors.Add(k, key("kind"), "unknown kind '" + *s + "' (webhook, slack or pagerduty)");
      }
    }
    static constexpr std::array<std::string_view, 3> kKindNames = {"webhook", "slack", "pagerduty"};
    t.name_ = std::string(kKindNames[static_cast<size_t>(t.kind_)]) + "-" + std::to_string(index);
    if (const YAML::Node& n = node["name"]) {
      if (auto s = Scalar(n, key("name"), &errors)) {
        if (s->empty()) {
          errors.Add(n, key("name"), "must not be empty");
        } else {
          t.name_ = *s;
        }
      }
    }

    const YAML::Node& url = node["url"];
    const YAML::Node& url_env = node["url_env"];
    if (url && url_env) errors.Add(url_env, key("url_env"), "give either url or url_env");
    if (url) {
      if (auto s = Scalar(url, key("url"), &errors)) t.url_ = *s;
    } else if (url_env) {
      if (auto s = Scalar(url_env, key("url_env"), &errors)) {
        const char* v = std::getenv(s->c_str());
        if (v == nullptr || *v == '\0') {
          errors.Add(url_env, key("url_env"), "environment variable " + *s + " is not set");
        } else {
          t.url_ = v;
        }
      }
    } else if (t.kind_ == NotifierKind::kPagerDuty) {
      t.url_ = kPagerDutyUrl;
    } else {
      errors.Add(node, key("url"), "missing (or give url_env)");
    }
    if (!t.url_.empty() && !IsHttpUrl(t.url_)) {
      errors.Add(url ? url : url_env, key(url ? "url" : "url_env"),
                 "expected an http:// or https:// URL");
    }

    t.on_.fill(true);
    if (const YAML::Node& on = node["on"]) {
      if (!on.IsSequence() || on.size() == 0) {
        errors.Add(on, key("on"), "expected a non-empty list of notice kinds");
      } else {
        t.on_.fill(false);
        for (size_t i = 0; i < on.size(); ++i) {
          std::string p = key("on") + "[" + std::to_string(i) + "]";
          if (auto s = Scalar(on[i], p, &errors)) {
            auto k = ParseNoticeKind(*s);
            if (!k.ok()) {
              errors.Add(on[i], p, k.status().message());
            } else {
              t.on_[static_cast<size_t>(*k)] = true;
            }
          }
        }
      }
    }

    t.templates_.resize(kNoticeKindCount);
    for (size_t i = 0; i < kNoticeKindCount; ++i) {
      auto d = engine::Template::Parse(kDefaultTemplates[i]);
      if (!d.ok()) return engine::Internal("default notifier template: " + d.status().message());
      t.templates_[i] = std::move(*d);
    }
    if (const YAML::Node& tpl = node["templates"]) {
      if (!tpl.IsMap()) {
        errors.Add(tpl, key("templates"), "expected a mapping of notice kind to template");
      } else {
        for (const auto& kv : tpl) {
          std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
          std::string p = key("templates") + "." + name;
          auto k = ParseNoticeKind(name);
          if (!k.ok()) {
            errors.Add(kv.first, p, k.status().message());
            continue;
          }
          if (auto parsed = ParseTemplate(kv.second, p, &errors)) {
            t.templates_[static_cast<size_t>(*k)] = std::move(*parsed);
          }
        }
      }
    }

    if (const YAML::Node& n = node["timeout"]) {
      if (auto d = Duration(n, key("timeout"), &errors)) t.timeout_ms_ = *d;
    }
    if (const YAML::Node& n = node["backoff"]) {
      if (auto d = Duration(n, key("backoff"), &errors)) t.backoff_ms_ = *d;
    }
    if (const YAML::Node& n = node["retries"]) {
      if (auto c = Count(n, key("retries"), 0, 20, &errors)) t.retries_ = static_cast<int>(*c);
    }
    if (const YAML::Node& n = node["queue"]) {
      if (auto c = Count(n, key("queue"), 1, 1000000, &errors)) {
        t.queue_capacity_ = static_cast<size_t>(*c);
      }
    }
    if (const YAML::Node& h = node["headers"]) {
      if (t.kind_ != NotifierKind::kWebhook) {
        errors.Add(h, key("headers"), "only for kind webhook");
      } else if (!h.IsMap()) {
        errors.Add(h, key("headers"), "expected a mapping of header name to value");
      } else {
        for (const auto& kv : h) {
          std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
          std::string p = key("headers") + "." + name;
          auto v = Scalar(kv.second, p, &errors);
          if (!v) continue;
          if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos ||
              v->find_first_of("\r\n") != std::string::npos) {
            errors.Add(kv.first, p, "bad header name or value");
            continue;
          }
          t.headers_.emplace_back(name, *v);
        }
      }
    }

    const bool pd = t.kind_ == NotifierKind::kPagerDuty;
    for (const char* k : {"routing_key_env", "event_action", "severity", "source"}) {
      if (!pd && node[k]) errors.Add(node[k], key(k), "only for kind pagerduty");
    }
    if (pd) {
      std::string env = "PAGERDUTY_ROUTING_KEY";
      const YAML::Node& rk = node["routing_key_env"];
      if (rk) {
        if (auto s = Scalar(rk, key("routing_key_env"), &errors)) env = *s;
      }
      const char* v = std::getenv(env.c_str());
      if (v == nullptr || *v == '\0') {
        errors.Add(rk ? rk : node, key("routing_key_env"),
                   "environment variable " + env + " (the PagerDuty routing key) is not set");
      } else {
        t.routing_key_ = v;
      }
      if (const YAML::Node& ea = node["event_action"]) {
        if (auto s = Scalar(ea, key("event_action"), &errors)) {
          if (*s != "trigger" && *s != "acknowledge" && *s != "resolve") {
            errors.Add(ea, key("event_action"),
                       "expected trigger, acknowledge or resolve, got '" + *s + "'");
          } else {
            t.event_action_ = *s;
          }
        }
      }
      if (const YAML::Node& n = node["severity"]) {
        t.severity_ = ParseTemplate(n, key("severity"), &errors);
      } else {
        t.severity_ = std::move(*engine::Template::Parse("{{labels.severity}}"));
      }
      if (const YAML::Node& n = node["source"]) {
        t.source_ = ParseTemplate(n, key("source"), &errors);
      } else {
        t.source_ = std::move(*engine::Template::Parse("{{source | default(\"reflex\")}}"));
      }
    }
  } catch (const YAML::Exception& e) {
    errors.Add(node, base, std::string("bad YAML: ") + e.what());
  }
  if (!errors.empty()) return errors.ToStatus();
  return t;
}

Result<std::vector<NotifierTarget>> NotifierTarget::ListFromYaml(const YAML::Node& list,
                                                                 std::string_view where) {
  std::vector<NotifierTarget> out;
  if (!list || list.IsNull()) return out;
  if (!list.IsSequence()) {
    Errors e(where);
    e.Add(list, "notifiers", "expected a list of notifier targets");
    return e.ToStatus();
  }
  std::string all_errors;
  for (size_t i = 0; i < list.size(); ++i) {
    auto t = FromYaml(list[i], where, i);
    if (!t.ok()) {
      if (!all_errors.empty()) all_errors += "\n";
      all_errors += t.status().message();
      continue;
    }
    for (const auto& other : out) {
      if (other.name() == t->name()) {
        Errors e(where);
        e.Add(list[i], "notifiers[" + std::to_string(i) + "].name",
              "duplicate notifier name '" + t->name() + "'");
        if (!all_errors.empty()) all_errors += "\n";
        all_errors += e.ToStatus().message();
      }
    }
    out.push_back(std::move(*t));
  }
  if (!all_errors.empty()) return engine::InvalidArgument(all_errors);
  return out;
}

std::string NotifierTarget::RenderText(const Notice& notice) const {
  return templates_[static_cast<size_t>(notice.kind)].Render(RenderContext(notice));
}

HttpRequest NotifierTarget::BuildRequest(const Notice& notice) const {
  engine::Event ctx = RenderContext(notice);
  std::string text = templates_[static_cast<size_t>(notice.kind)].Render(ctx);
  HttpRequest req;
  req.method = "POST";
  req.url = url_;
  req.timeout_ms = timeout_ms_;
  req.headers.emplace_back("Content-Type", "application/json");
  json body;
  switch (kind_) {
    case NotifierKind::kWebhook: {
      for (const auto& h : headers_) req.headers.push_back(h);
      body = NoticeFields(notice);
      body["text"] = text;
      if (notice.event) body["event"] = EventFields(*notice.event);
      break;
    }
    case NotifierKind::kSlack: {
      body["text"] = text;
      json blocks = json::array();
      blocks.push_back({{"type", "section"},
                        {"text", {{"type", "mrkdwn"}, {"text", SlackEscape(Cut(text, 2900))}}}});
      std::string context = "*" + std::string(NoticeKindName(notice.kind)) + "*";
      if (notice.escalation_id != 0) {
        context += " · escalation #" + std::to_string(notice.escalation_id);
      }
      if (notice.count > 1) context += " · seen " + std::to_string(notice.count) + " times";
      if (notice.reopened) context += " · reopened";
      if (!notice.runbook.empty()) context += " · <" + SlackEscape(notice.runbook) + "|runbook>";
      json elements = json::array();
      elements.push_back({{"type", "mrkdwn"}, {"text", context}});
      blocks.push_back({{"type", "context"}, {"elements", std::move(elements)}});
      body["blocks"] = std::move(blocks);
      break;
    }
    case NotifierKind::kPagerDuty: {
      body["routing_key"] = routing_key_;
      body["event_action"] = event_action_;
      if (!notice.fingerprint.empty()) body["dedup_key"] = notice.fingerprint;
      body["client"] = "reflex";
      if (!notice.runbook.empty()) {
        json links = json::array();
        links.push_back({{"href", notice.runbook}, {"text", "runbook"}});
        body["links"] = std::move(links);
      }
      json payload;
      std::string summary = Cut(text, kPagerDutySummaryMax);
      payload["summary"] = summary.empty() ? std::string(NoticeKindName(notice.kind)) : summary;
      payload["severity"] = PagerDutySeverity(severity_ ? severity_->Render(ctx) : "", notice.kind);
      std::string source = source_ ? source_->Render(ctx) : "";
      payload["source"] = source.empty() ? "reflex" : source;
      if (notice.at_ms != 0) payload["timestamp"] = base::FormatRfc3339Millis(notice.at_ms);
      if (!notice.table.empty()) payload["component"] = notice.table;
      if (!notice.action.empty()) payload["group"] = notice.action;
      payload["class"] = NoticeKindName(notice.kind);
      json details = NoticeFields(notice);
      if (notice.event) details["event"] = EventFields(*notice.event);
      payload["custom_details"] = std::move(details);
      body["payload"] = std::move(payload);
      break;
    }
  }
  req.body = Dump(body);
  return req;
}

// One target's queue and thread.
class Notifier::Worker {
 public:
  Worker(NotifierTarget target, const NotifierOptions& options)
      : target_(std::move(target)), options_(options) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Worker() { Stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  const NotifierTarget& target() const { return target_; }

  void Enqueue(const Notice& notice) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stop_ && queue_.size() < target_.queue_capacity()) {
        queue_.push_back(notice);
        ++stats_.queued;
        cv_.notify_one();
        return;
      }
      ++stats_.dropped;
    }
    Log("notifier " + target_.name() + ": dropped a " + std::string(NoticeKindName(notice.kind)) +
        " notice (" +
        (stopped() ? std::string("stopped")
                   : "queue full at " + std::to_string(target_.queue_capacity())) +
        ")");
  }

  bool WaitIdle(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    return idle_cv_.wait_until(lock, deadline, [this] { return queue_.empty() && !busy_; });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_ && !thread_.joinable()) return;
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    size_t left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      left = queue_.size();
      stats_.dropped += left;
      queue_.clear();
    }
    idle_cv_.notify_all();
    if (left > 0) {
      Log("notifier " + target_.name() + ": dropped " + std::to_string(left) +
          " queued notices at stop");
    }
  }

  NotifierStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

  void Log(const std::string& line) const {
    if (options_.log) {
      options_.log(line);
    } else {
      std::cerr << (line + "\n") << std::flush;
    }
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) break;
      Notice notice = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      Deliver(notice);
      lock.lock();
      busy_ = false;
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }

  // Sends with retries; counts the outcome.
  void Deliver(const Notice& notice) {
    HttpRequest req = target_.BuildRequest(notice);
    std::string last_error;
    const int attempts = 1 + target_.retries();
    for (int attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0) {
        int64_t wait = target_.backoff_ms();
        for (int i = 1; i < attempt && wait < options_.max_backoff_ms; ++i) wait *= 2;
        wait = std::min(wait, options_.max_backoff_ms);
        std::unique_lock<std::mutex> lock(mu_);
        if (cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return stop_; })) {
          ++stats_.failed;
          lock.unlock();
          Log("notifier " + target_.name() + ": gave up a " +
              std::string(NoticeKindName(notice.kind)) + " notice at stop: " + last_error);
          return;
        }
        ++stats_.retried;
      }
      auto r = HttpSend(req);
      bool retryable;
      if (!r.ok()) {
        last_error = r.status().message();
        retryable = r.status().code() == engine::StatusCode::kUnavailable;
      } else if (r->status >= 200 && r->status < 300) {
        std::lock_guard<std::mutex> lock(mu_);
        ++stats_.delivered;
        return;
      } else {
        last_error = "HTTP " + std::to_string(r->status) + ": " + Cut(r->body, 200);
        retryable = r->status == 429 || r->status >= 500 || r->status == 408;
      }
      if (!retryable) break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.failed;
    }
    Log("notifier " + target_.name() + ": failed to deliver a " +
        std::string(NoticeKindName(notice.kind)) + " notice: " + last_error);
  }

  const NotifierTarget target_;
  const NotifierOptions& options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work queued, or stop
  std::condition_variable idle_cv_;  // queue drained
  std::deque<Notice> queue_;         // guarded by mu_
  bool busy_ = false;                // guarded by mu_
  bool stop_ = false;                // guarded by mu_
  NotifierStats stats_;              // guarded by mu_
  std::thread thread_;
};

Notifier::Notifier(NotifierOptions options) : options_(std::move(options)) {}

Notifier::~Notifier() { Stop(); }

Result<std::unique_ptr<Notifier>> Notifier::Create(std::vector<NotifierTarget> targets,
                                                   NotifierOptions options) {
  if (options.max_backoff_ms <= 0) {
    return engine::InvalidArgument("notifier: max_backoff_ms must be positive");
  }
  std::unique_ptr<Notifier> n(new Notifier(std::move(options)));
  for (auto& t : targets)
    n->workers_.push_back(std::make_unique<Worker>(std::move(t), n->options_));
  return n;
}

void Notifier::Notify(const Notice& notice) {
  for (auto& w : workers_) {
    if (w->target().Wants(notice.kind)) w->Enqueue(notice);
  }
}

bool Notifier::Flush(std::chrono::steady_clock::time_point deadline) {
  bool all = true;
  for (auto& w : workers_) all = w->WaitIdle(deadline) && all;
  return all;
}

void Notifier::Stop() {
  for (auto& w : workers_) w->Stop();
}

NotifierStats Notifier::stats() const {
  NotifierStats sum;
  for (const auto& w : workers_) {
    NotifierStats s = w->stats();
    sum.queued += s.queued;
    sum.delivered += s.delivered;
    sum.retried += s.retried;
    sum.failed += s.failed;
    sum.dropped += s.dropped;
  }
  return sum;
}

NotifierStats Notifier::target_stats(std::string_view name) const {
  for (const auto& w : workers_) {
    if (w->target().name() == name) return w->stats();
  }
  return {};
}

}  // namespace reflex::actions
