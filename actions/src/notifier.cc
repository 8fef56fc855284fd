// Notifier targets (YAML -> typed config), payload builders and per-target workers.
#include "reflex/actions/notifier.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_set>

#include "json_util.h"
#include "reflex/base/redact.h"
#include "reflex/base/retry.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;
using json = nlohmann::ordered_json;

constexpr std::string_view kPagerDutyUrl = "https://events.pagerduty.com/v2/enqueue";
constexpr size_t kPagerDutySummaryMax = 1024;

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
    "Escalated: {{meta.notice.table}}/{{meta.notice.row}} for "
    "{{labels.alertname | default(\"an event\")}} (escalation #{{meta.notice.escalation_id}}): "
    "{{meta.notice.reason}}",
    "Resolved: {{labels.alertname | default(\"(no alertname)\")}} from "
    "{{source | default(\"(no source)\")}} (escalation #{{meta.notice.escalation_id}}, seen "
    "{{meta.notice.count}} times)",
};

bool IsHttpUrl(std::string_view u) {
  return (u.rfind("http://", 0) == 0 && u.size() > 7) ||
         (u.rfind("https://", 0) == 0 && u.size() > 8);
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

std::string_view NoticeKindName(NoticeKind kind) { return kNoticeKindNames.Name(kind); }

Result<NoticeKind> ParseNoticeKind(std::string_view name) {
  if (auto k = kNoticeKindNames.Parse(name)) return *k;
  return engine::InvalidArgument("unknown notice kind '" + std::string(name) +
                                 "' (expected one of: " + kNoticeKindNames.List() + ")");
}

// ---------------------------------------------------------------------------------------
// Configuration

namespace {

// A template given in the file: checked now (at its position), compiled by FromSettings.
std::optional<std::string> ReadTemplateText(const YAML::Node& n, const std::string& path,
                                            base::ConfigContext& ctx) {
  auto text = base::ReadString(n, path, ctx);
  if (!text) return std::nullopt;
  if (auto t = engine::Template::Parse(*text); !t.ok()) {
    ctx.Error(n, path, "bad template: " + t.status().message());
    return std::nullopt;
  }
  return text;
}

void ReadOn(const YAML::Node& n, const std::string& path, NotifierSettings* out,
            base::ConfigContext& ctx) {
  if (!n.IsSequence() || n.size() == 0) {
    return ctx.Error(n, path, "expected a non-empty list of notice kinds");
  }
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    if (auto k = base::ReadEnum(n[i], p, kNoticeKindNames, ctx)) out->on.push_back(*k);
  }
}

void ReadTemplates(const YAML::Node& n, const std::string& path, NotifierSettings* out,
                   base::ConfigContext& ctx) {
  if (!n.IsMap()) return ctx.Error(n, path, "expected a mapping of notice kind to template");
  for (const auto& kv : n) {
    const std::string p =
        base::JoinKeyPath(path, kv.first.IsScalar() ? kv.first.Scalar() : std::string("?"));
    auto kind = base::ReadEnum(kv.first, p, kNoticeKindNames, ctx);
    auto text = ReadTemplateText(kv.second, p, ctx);
    if (kind && text) out->templates.emplace_back(*kind, std::move(*text));
  }
}

// Cross-key rules: url or url_env (one of them, an http(s) URL), header syntax, the
// PagerDuty routing key and templates.
void CheckNotifier(NotifierSettings* s, const YAML::Node& node, const std::string& path,
                   base::ConfigContext& ctx) {
  const YAML::Node url = node["url"], url_env = node["url_env"];
  const std::string url_key = url_env && !url ? "url_env" : "url";
  if (url && url_env) ctx.Error(url_env, base::JoinKeyPath(path, "url_env"), "give url or url_env");
  if (!url && !url_env && s->kind != NotifierKind::kPagerDuty) {
    ctx.Error(node, base::JoinKeyPath(path, "url"), "missing required key (or give url_env)");
  }
  if (!s->url.empty() && !IsHttpUrl(s->url)) {
    ctx.Error(node[url_key], base::JoinKeyPath(path, url_key),
              "expected an http:// or https:// URL");
  }
  if (const YAML::Node h = node["headers"]; h && h.IsMap()) {
    for (const auto& kv : h) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const std::string value = kv.second.IsScalar() ? kv.second.Scalar() : std::string();
      if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos ||
          value.find_first_of("\r\n") != std::string::npos) {
        ctx.Error(kv.first, base::JoinKeyPath(path, "headers." + name), "bad header name or value");
      }
    }
  }
  if (s->kind != NotifierKind::kPagerDuty) return;
  if (!node["routing_key_env"]) {
    constexpr const char* kDefaultVar = "PAGERDUTY_ROUTING_KEY";
    if (auto key = ctx.Env(kDefaultVar)) {
      s->routing_key = *key;
    } else {
      ctx.Error(node, base::JoinKeyPath(path, "routing_key_env"),
                std::string("environment variable ") + kDefaultVar +
                    " (the PagerDuty routing key, used when routing_key_env is not given) is "
                    "not set");
    }
  }
  for (const char* key : {"severity", "source"}) {
    if (const YAML::Node t = node[key]) ReadTemplateText(t, base::JoinKeyPath(path, key), ctx);
  }
}

}  // namespace

const base::Schema<NotifierSettings>& NotifierSchema() {
  static const base::Schema<NotifierSettings> schema = [] {
    using S = NotifierSettings;
    base::Schema<S> s;
    s.Enum("kind", &S::kind, kNotifierKindNames,
           "webhook: a JSON document; slack: an incoming webhook; pagerduty: Events API v2")
        .Required()
        .Selector();
    s.NonEmptyString("name", &S::name,
                     "the target's name in metrics and logs (default "
                     "<kind>-<index>)");
    s.String("url", &S::url,
             "where to send (pagerduty default: " + std::string(kPagerDutyUrl) + ")");
    s.Secret("url", &S::url, "read the URL from this environment variable instead of `url`");
    s.Custom("on", "list of notice kinds (" + kNoticeKindNames.List() + ")",
             "the notice kinds this target wants (default: all)", ReadOn);
    s.Custom("templates", "map of notice kind to template",
             "the text per notice kind (engine template syntax; defaults provided)", ReadTemplates);
    s.Duration("timeout", &S::timeout_ms, 1, 3600000, "one send's time limit");
    s.Int("retries", &S::retries, 0, 20, "tries after the first failed send");
    s.Duration("backoff", &S::backoff_ms, 1, 3600000, "the wait after the first failed try");
    s.Int("queue", &S::queue, 1, 1000000, "notices waiting at most (more are dropped)");
    auto kind_is = [](NotifierKind k) { return [k](const S& v) { return v.kind == k; }; };
    s.StringMap("headers", &S::headers, "extra HTTP headers")
        .OnlyWhen(kind_is(NotifierKind::kWebhook), "kind: webhook");
    s.Secret("routing_key", &S::routing_key,
             "the PagerDuty routing key (default variable: PAGERDUTY_ROUTING_KEY)")
        .OnlyWhen(kind_is(NotifierKind::kPagerDuty), "kind: pagerduty");
    s.Enum("event_action", &S::event_action, kPagerDutyActionNames, "the PagerDuty event action")
        .OnlyWhen(kind_is(NotifierKind::kPagerDuty), "kind: pagerduty");
    s.String("severity", &S::severity,
             "template whose text maps to critical, error, warning or info")
        .OnlyWhen(kind_is(NotifierKind::kPagerDuty), "kind: pagerduty");
    s.String("source", &S::source, "template for the PagerDuty source")
        .OnlyWhen(kind_is(NotifierKind::kPagerDuty), "kind: pagerduty");
    s.Check(CheckNotifier);
    return s;
  }();
  return schema;
}

NotifierTarget NotifierTarget::FromSettings(NotifierSettings s, size_t index) {
  NotifierTarget t;
  t.kind_ = s.kind;
  t.name_ = s.name.empty()
                ? std::string(kNotifierKindNames.Name(s.kind)) + "-" + std::to_string(index)
                : std::move(s.name);
  t.url_ = s.url.empty() && s.kind == NotifierKind::kPagerDuty ? std::string(kPagerDutyUrl)
                                                               : std::move(s.url);
  t.on_.fill(s.on.empty());
  for (NoticeKind k : s.on) t.on_[static_cast<size_t>(k)] = true;
  // Every text was parsed by the reader (and the defaults are constants), so Parse succeeds.
  t.templates_.resize(kNoticeKindCount);
  for (size_t i = 0; i < kNoticeKindCount; ++i) {
    t.templates_[i] = std::move(*engine::Template::Parse(kDefaultTemplates[i]));
  }
  for (const auto& [kind, text] : s.templates) {
    t.templates_[static_cast<size_t>(kind)] = std::move(*engine::Template::Parse(text));
  }
  t.headers_ = std::move(s.headers);
  t.timeout_ms_ = s.timeout_ms;
  t.retries_ = s.retries;
  t.backoff_ms_ = s.backoff_ms;
  t.queue_capacity_ = static_cast<size_t>(s.queue);
  if (s.kind == NotifierKind::kPagerDuty) {
    t.routing_key_ = std::move(s.routing_key);
    t.event_action_ = std::string(kPagerDutyActionNames.Name(s.event_action));
    t.severity_ = std::move(*engine::Template::Parse(s.severity));
    t.source_ = std::move(*engine::Template::Parse(s.source));
  }
  return t;
}

std::optional<NotifierTarget> NotifierTarget::Read(const YAML::Node& node, const std::string& path,
                                                   size_t index, base::ConfigContext& ctx) {
  NotifierSettings s;
  if (!NotifierSchema().Read(node, path, &s, ctx)) return std::nullopt;
  return FromSettings(std::move(s), index);
}

std::optional<std::vector<NotifierTarget>> NotifierTarget::ReadList(const YAML::Node& list,
                                                                    const std::string& path,
                                                                    base::ConfigContext& ctx) {
  std::vector<NotifierTarget> out;
  if (!list.IsDefined() || list.IsNull()) return out;
  if (!list.IsSequence()) {
    ctx.Error(list, path, "expected a list of notifier targets");
    return std::nullopt;
  }
  const size_t before = ctx.error_count();
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    auto t = Read(list[i], p, i, ctx);
    if (!t) continue;
    for (const auto& other : out) {
      if (other.name() == t->name()) {
        const YAML::Node name = list[i]["name"];
        ctx.Error(name ? name : list[i], p + ".name",
                  "duplicate notifier name '" + t->name() + "'");
      }
    }
    out.push_back(std::move(*t));
  }
  if (ctx.error_count() > before) return std::nullopt;
  return out;
}

namespace {
// Runs `read` over a context of the process environment; its problems become one Status.
template <typename T, typename ReadFn>
Result<T> ReadWithSystemEnv(std::string_view where, ReadFn read) {
  base::Diagnostics diags;
  base::ConfigContext ctx(std::string(where), base::SystemEnv(), &diags);
  std::optional<T> v;
  try {
    v = read(ctx);
  } catch (const YAML::Exception& e) {
    ctx.Error(YAML::Node(YAML::NodeType::Undefined), "notifiers",
              std::string("bad YAML: ") + e.what());
  }
  if (diags.has_errors() || !v) return diags.ToStatus();
  return std::move(*v);
}
}  // namespace

Result<NotifierTarget> NotifierTarget::FromYaml(const YAML::Node& node, std::string_view where,
                                                size_t index) {
  return ReadWithSystemEnv<NotifierTarget>(where, [&](base::ConfigContext& ctx) {
    return Read(node, "notifiers[" + std::to_string(index) + "]", index, ctx);
  });
}

Result<std::vector<NotifierTarget>> NotifierTarget::ListFromYaml(const YAML::Node& list,
                                                                 std::string_view where) {
  return ReadWithSystemEnv<std::vector<NotifierTarget>>(
      where, [&](base::ConfigContext& ctx) { return ReadList(list, "notifiers", ctx); });
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
      if (notice.event) body["event"] = EventFieldsJson(*notice.event);
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
      if (notice.kind == NoticeKind::kResolved) {
        // Events API v2: a resolve names the incident by its dedup key; no payload.
        body["event_action"] = kPagerDutyActionNames.Name(PagerDutyAction::kResolve);
        body["dedup_key"] = notice.fingerprint;
        body["client"] = "reflex";
        break;
      }
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
      if (notice.event) details["event"] = EventFieldsJson(*notice.event);
      payload["custom_details"] = std::move(details);
      body["payload"] = std::move(payload);
      break;
    }
  }
  req.body = Dump(body);
  return req;
}

base::SecretList NotifierTarget::Secrets() const {
  HttpRequest req;
  req.url = url_;
  req.headers = headers_;
  base::SecretList secrets = RequestSecrets(req);
  if (!routing_key_.empty()) secrets.push_back(routing_key_);
  return secrets;
}

// One target's queue and thread.
class Notifier::Worker {
  struct Queued {
    int64_t outbox_id = 0;  // 0: not in the outbox
    Notice notice;
  };

 public:
  Worker(NotifierTarget target, const NotifierOptions& options)
      : target_(std::move(target)), secrets_(target_.Secrets()), options_(options) {
    Resume();
    thread_ = std::thread([this] { Run(); });
  }
  ~Worker() { Stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  const NotifierTarget& target() const { return target_; }

  void Enqueue(const Notice& notice) {
    int64_t outbox_id = 0;
    if (options_.outbox != nullptr && !stopped()) {
      auto id = options_.outbox->Add(target_.name(), notice, NowMillis());
      if (id.ok()) {
        outbox_id = *id;
      } else {
        Log("notifier " + target_.name() + ": outbox: " + id.status().message() +
            " (this notice is kept in memory only)");
      }
    }
    {
      base::MutexLock lock(mu_);
      if (!stop_ && queue_.size() < target_.queue_capacity()) {
        queue_.push_back({outbox_id, notice});
        if (outbox_id != 0) held_.insert(outbox_id);
        ++stats_.queued;
        cv_.notify_one();
        return;
      }
      ++stats_.dropped;
    }
    if (outbox_id != 0) {
      (void)options_.outbox->MarkFailed(outbox_id, "dropped: queue full", NowMillis());
    }
    Observe("dropped");
    Log("notifier " + target_.name() + ": dropped a " + std::string(NoticeKindName(notice.kind)) +
        " notice (" +
        (stopped() ? std::string("stopped")
                   : "queue full at " + std::to_string(target_.queue_capacity())) +
        ")");
  }

  bool WaitIdle(std::chrono::steady_clock::time_point deadline) {
    base::MutexLock lock(mu_);
    while (!queue_.empty() || busy_) {
      if (lock.WaitUntil(idle_cv_, deadline) == std::cv_status::timeout) {
        return queue_.empty() && !busy_;
      }
    }
    return true;
  }

  void Stop() {
    {
      base::MutexLock lock(mu_);
      if (stop_ && !thread_.joinable()) return;
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    size_t left = 0, kept = 0;
    std::vector<int64_t> release;
    {
      base::MutexLock lock(mu_);
      for (const auto& q : queue_) {
        ++(q.outbox_id != 0 ? kept : left);
        if (q.outbox_id != 0) release.push_back(q.outbox_id);
      }
      stats_.dropped += left;
      queue_.clear();
      held_.clear();
    }
    // What stays pending is given up, so another replica may send it at once.
    for (int64_t id : release) (void)options_.outbox->Release(id);
    for (size_t i = 0; i < left; ++i) Observe("dropped");
    idle_cv_.notify_all();
    if (left > 0) {
      Log("notifier " + target_.name() + ": dropped " + std::to_string(left) +
          " queued notices at stop");
    }
    if (kept > 0) {
      Log("notifier " + target_.name() + ": " + std::to_string(kept) +
          " queued notices stay in the outbox for the next start");
    }
  }

  NotifierStats stats() const {
    base::MutexLock lock(mu_);
    return stats_;
  }

 private:
  bool stopped() const {
    base::MutexLock lock(mu_);
    return stop_;
  }

  int64_t NowMillis() const {
    return options_.clock != nullptr ? options_.clock->NowMillis()
                                     : engine::SystemClock().NowMillis();
  }

  // Claims and queues the notices the outbox still holds for this target (before the thread
  // starts): unclaimed ones, this owner's from before a restart, and those whose replica's
  // lease expired.
  void Resume() {
    if (options_.outbox == nullptr) return;
    ClaimAndQueue(/*include_own=*/true);
  }

  // Claims up to the free room of the queue; skips what this worker holds already. Returns
  // how many it queued.
  size_t ClaimAndQueue(bool include_own) {
    size_t room;
    {
      base::MutexLock lock(mu_);
      const size_t cap = target_.queue_capacity();
      room = queue_.size() < cap ? cap - queue_.size() : 0;
    }
    if (room == 0) return 0;
    auto claimed = options_.outbox->Claim(target_.name(), static_cast<int64_t>(room), NowMillis(),
                                          include_own);
    if (!claimed.ok()) {
      Log("notifier " + target_.name() + ": outbox: " + claimed.status().message());
      return 0;
    }
    size_t queued = 0;
    std::string taken_ids;
    for (const auto& e : *claimed) {
      if (!include_own) taken_ids += (taken_ids.empty() ? "" : ",") + std::to_string(e.id);
      auto notice = NoticeFromJson(e.notice_json);
      if (!notice.ok()) {
        (void)options_.outbox->MarkFailed(e.id, notice.status().message(), NowMillis());
        continue;
      }
      base::MutexLock lock(mu_);
      if (held_.count(e.id) != 0) continue;
      held_.insert(e.id);
      queue_.push_back({e.id, std::move(*notice)});
      ++(include_own ? stats_.resumed : stats_.taken_over);
      ++stats_.queued;
      ++queued;
    }
    if (!taken_ids.empty()) {
      // Said, not silent: another replica stopped (or stalled) with these notices claimed.
      for (size_t i = 0; i < claimed->size(); ++i) Observe("taken_over");
      Log("notifier " + target_.name() + ": took over " + std::to_string(claimed->size()) +
          " notice(s) of a replica whose claim ran out (outbox ids " + taken_ids + ")");
    }
    return queued;
  }

  void Observe(std::string_view outcome) const {
    if (options_.observer != nullptr) options_.observer->NoticeOutcome(target_.name(), outcome);
  }

  void Log(const std::string& text) const {
    const std::string line = base::RedactSecrets(text, secrets_);
    if (options_.log) {
      options_.log(line);
    } else {
      std::cerr << (line + "\n") << std::flush;
    }
  }

  void Run() {
    const bool sweep = options_.outbox != nullptr && options_.outbox_claim_interval_ms > 0;
    const auto interval = std::chrono::milliseconds(options_.outbox_claim_interval_ms);
    auto next_sweep = std::chrono::steady_clock::now() + interval;
    base::MutexLock lock(mu_);
    while (true) {
      while (!stop_ && queue_.empty()) {
        if (!sweep) {
          lock.Wait(cv_);
        } else if (lock.WaitUntil(cv_, next_sweep) == std::cv_status::timeout) {
          break;
        }
      }
      if (stop_) break;
      if (sweep && std::chrono::steady_clock::now() >= next_sweep) {
        // Takes over the notices of replicas whose lease expired (never this owner's own).
        lock.Unlock();
        ClaimAndQueue(/*include_own=*/false);
        lock.Lock();
        next_sweep = std::chrono::steady_clock::now() + interval;
        continue;
      }
      if (queue_.empty()) continue;
      Queued item = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.Unlock();
      Deliver(item);
      lock.Lock();
      if (item.outbox_id != 0) held_.erase(item.outbox_id);
      busy_ = false;
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }

  // Before an attempt: renews the claim on an outbox notice. False when another replica took
  // it over (it sends the notice; this one must not).
  bool StillHeld(const Queued& item) {
    if (item.outbox_id == 0) return true;
    auto held = options_.outbox->Renew(item.outbox_id, NowMillis());
    if (!held.ok()) {  // the database is unreachable: send anyway (at least once)
      Log("notifier " + target_.name() + ": outbox: " + held.status().message());
      return true;
    }
    if (!*held) {
      Log("notifier " + target_.name() + ": a " + std::string(NoticeKindName(item.notice.kind)) +
          " notice was taken over by another replica; not sent here");
    }
    return *held;
  }

  // Sends with retries; counts the outcome and records it in the outbox.
  void Deliver(const Queued& item) {
    const Notice& notice = item.notice;
    HttpRequest req = target_.BuildRequest(notice);
    if (item.outbox_id != 0 && target_.kind() == NotifierKind::kWebhook) {
      req.headers.emplace_back("Idempotency-Key",
                               "reflex-notice-" + std::to_string(item.outbox_id));
    }
    std::string last_error;
    const int attempts = 1 + target_.retries();
    for (int attempt = 0; attempt < attempts; ++attempt) {
      if (attempt > 0) {
        const base::RetryPolicy policy{.max_attempts = attempts,
                                       .base_ms = target_.backoff_ms(),
                                       .max_ms = options_.max_backoff_ms,
                                       .jitter = false};
        const int64_t wait = policy.CeilingMs(attempt);
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait);
        base::MutexLock lock(mu_);
        while (!stop_ && lock.WaitUntil(cv_, until) != std::cv_status::timeout) {
        }
        if (stop_) {
          lock.Unlock();
          if (item.outbox_id != 0) {  // not given up: the next start (or another replica) sends it
            (void)options_.outbox->Release(item.outbox_id);
            Log("notifier " + target_.name() + ": a " + std::string(NoticeKindName(notice.kind)) +
                " notice stays in the outbox at stop: " + last_error);
            return;
          }
          lock.Lock();
          ++stats_.failed;
          lock.Unlock();
          Observe("failed");
          Log("notifier " + target_.name() + ": gave up a " +
              std::string(NoticeKindName(notice.kind)) + " notice at stop: " + last_error);
          return;
        }
        ++stats_.retried;
        lock.Unlock();
        Observe("retried");
      }
      if (!StillHeld(item)) return;
      auto r = HttpSend(req);
      bool retryable;
      if (!r.ok()) {
        last_error = r.status().message();
        retryable = r.status().code() == engine::StatusCode::kUnavailable;
      } else if (r->status >= 200 && r->status < 300) {
        if (item.outbox_id != 0) {
          if (Status s = options_.outbox->MarkDelivered(item.outbox_id, NowMillis()); !s.ok()) {
            Log("notifier " + target_.name() + ": outbox: " + s.message());
          }
        }
        {
          base::MutexLock lock(mu_);
          ++stats_.delivered;
        }
        Observe("delivered");
        return;
      } else {
        last_error = "HTTP " + std::to_string(r->status) + ": " + Cut(r->body, 200);
        retryable = base::IsRetryableHttpStatus(r->status);
      }
      if (!retryable) break;
    }
    if (item.outbox_id != 0)
      (void)options_.outbox->MarkFailed(item.outbox_id, last_error, NowMillis());
    {
      base::MutexLock lock(mu_);
      ++stats_.failed;
    }
    Observe("failed");
    Log("notifier " + target_.name() + ": failed to deliver a " +
        std::string(NoticeKindName(notice.kind)) + " notice: " + last_error);
  }

  const NotifierTarget target_;
  const base::SecretList secrets_;  // redacted from every line logged about the target
  const NotifierOptions& options_;
  mutable base::Mutex mu_;
  std::condition_variable cv_;       // work queued, or stop
  std::condition_variable idle_cv_;  // queue drained
  std::deque<Queued> queue_ GUARDED_BY(mu_);
  // The outbox ids queued or in flight here (a claim never queues one twice).
  std::unordered_set<int64_t> held_ GUARDED_BY(mu_);
  bool busy_ GUARDED_BY(mu_) = false;
  bool stop_ GUARDED_BY(mu_) = false;
  NotifierStats stats_ GUARDED_BY(mu_);
  std::thread thread_;
};

Notifier::Notifier(NotifierOptions options) : options_(std::move(options)) {}

Notifier::~Notifier() { Stop(); }

Result<std::unique_ptr<Notifier>> Notifier::Create(std::vector<NotifierTarget> targets,
                                                   NotifierOptions options) {
  if (options.max_backoff_ms <= 0) {
    return engine::InvalidArgument("notifier: max_backoff_ms must be positive");
  }
  if (options.outbox_claim_interval_ms < 0) {
    return engine::InvalidArgument("notifier: outbox_claim_interval_ms must not be negative");
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

bool Notifier::Wants(NoticeKind kind) const {
  return std::any_of(workers_.begin(), workers_.end(),
                     [kind](const auto& w) { return w->target().Wants(kind); });
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
    sum.resumed += s.resumed;
    sum.taken_over += s.taken_over;
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
