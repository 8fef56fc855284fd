// Notifier: tells people what Reflex saw and did, over Slack, PagerDuty or a generic webhook.
//
// Targets come from the `notifiers:` list of the run configuration, read through one
// declared schema (NotifierSchema(); NotifierTarget::ReadList reports every problem at once,
// each as `file:line:col: notifiers[i].key: message`). Each
// target picks the notice kinds it wants (`on:`), renders a text per kind from a template
// (engine/template.h syntax; defaults provided; a bad template is a load-time error) and
// sends the kind's payload through HttpSend: Slack incoming-webhook JSON (`text` and
// `blocks`), PagerDuty Events API v2 (routing key from an environment variable, dedup key =
// the escalation fingerprint; a `resolved` notice is always event_action `resolve` for that
// key, whatever `event_action` says), or a generic JSON document.
//
// Templates render over the notice's event (`labels.x`, `source`, `message`, ...) and read
// the notice itself through `meta.notice.<field>`: kind, escalation_id, fingerprint, count,
// reopened, action, table, row, reason, runbook, plus every `details` key.
//
// Delivery never blocks the caller: Notify() copies the notice onto each interested
// target's bounded queue, served by that target's own worker thread (a dead PagerDuty does
// not delay Slack). A full queue drops the notice, counts it and logs it. Failed sends are
// retried with exponential backoff (transport errors, HTTP 429 and 5xx; other statuses are
// final), then counted as failed and logged. Nothing here throws or aborts on bad input.
// With an outbox (NotifierOptions.outbox) the queue is durable: notices pending when the
// process stopped or died are sent at the next start (at least once; webhook requests carry
// an Idempotency-Key). Replicas sharing one outbox on PostgreSQL send each notice from one
// replica at a time: each claims what it sends, with a lease, and takes over the notices of
// a replica whose lease expired (notice_outbox.h).
//
// Thread-safety: Notify, Flush and stats may be called from any thread. Stop is idempotent;
// the destructor calls it.
//
//   base::ConfigContext ctx("run.yaml", base::SystemEnv(), &diags);
//   auto targets = NotifierTarget::ReadList(config["notifiers"], "notifiers", ctx);
//   auto notifier = Notifier::Create(std::move(*targets), {});
//   (*notifier)->Notify(Notice{.kind = NoticeKind::kNewUnknown, .event = ev, ...});
//   (*notifier)->Flush(std::chrono::steady_clock::now() + std::chrono::seconds(5));
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/actions/http_client.h"
#include "reflex/actions/notice_outbox.h"
#include "reflex/actions/observer.h"
#include "reflex/base/config_schema.h"
#include "reflex/base/enum_names.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"
#include "reflex/engine/template.h"

namespace reflex::actions {

enum class NoticeKind {
  kNewUnknown,         // an unknown event opened (or reopened) an escalation
  kKnownWithAction,    // a known event's row names an action
  kActionFailed,       // an action failed after its retries
  kApprovalRequested,  // an action waits for a person's approval
  kApprovalExpired,    // nobody approved in time
  kActionBefore,       // an action is about to run
  kActionAfter,        // an action finished (reason holds the outcome)
  kEscalated,          // a row's built-in `escalate` action handed the event to a person
  kResolved,           // a resolved event resolved an open escalation (PagerDuty: resolve)
};
inline constexpr size_t kNoticeKindCount = 9;
// "new_unknown", "known_with_action", "action_failed", "approval_requested",
// "approval_expired", "action_before", "action_after", "escalated", "resolved".
std::string_view NoticeKindName(NoticeKind kind);
engine::Result<NoticeKind> ParseNoticeKind(std::string_view name);

// One thing to tell people. Fields that do not apply stay empty.
struct Notice {
  NoticeKind kind = NoticeKind::kNewUnknown;
  int64_t at_ms = 0;                   // when it happened (ms since the epoch)
  std::optional<engine::Event> event;  // the event concerned, if any
  int64_t escalation_id = 0;           // the escalation group, 0 when none
  std::string fingerprint;             // the group's fingerprint (PagerDuty dedup_key)
  int64_t count = 0;                   // occurrences of the group so far
  bool reopened = false;               // a resolved group came back
  std::string action, table, row;      // the action and the row that named it
  std::string reason;                  // error, expiry reason or outcome
  std::string runbook;
  std::vector<std::pair<std::string, std::string>> details;  // extra key/values
};

inline constexpr base::EnumNames<NoticeKind, kNoticeKindCount> kNoticeKindNames{
    {{{NoticeKind::kNewUnknown, "new_unknown"},
      {NoticeKind::kKnownWithAction, "known_with_action"},
      {NoticeKind::kActionFailed, "action_failed"},
      {NoticeKind::kApprovalRequested, "approval_requested"},
      {NoticeKind::kApprovalExpired, "approval_expired"},
      {NoticeKind::kActionBefore, "action_before"},
      {NoticeKind::kActionAfter, "action_after"},
      {NoticeKind::kEscalated, "escalated"},
      {NoticeKind::kResolved, "resolved"}}}};

enum class NotifierKind { kWebhook, kSlack, kPagerDuty };
inline constexpr base::EnumNames<NotifierKind, 3> kNotifierKindNames{
    {{{NotifierKind::kWebhook, "webhook"},
      {NotifierKind::kSlack, "slack"},
      {NotifierKind::kPagerDuty, "pagerduty"}}}};

// The PagerDuty Events API v2 `event_action`.
enum class PagerDutyAction { kTrigger, kAcknowledge, kResolve };
inline constexpr base::EnumNames<PagerDutyAction, 3> kPagerDutyActionNames{
    {{{PagerDutyAction::kTrigger, "trigger"},
      {PagerDutyAction::kAcknowledge, "acknowledge"},
      {PagerDutyAction::kResolve, "resolve"}}}};

// The settings of one `notifiers:` entry as written (NotifierSchema() declares each key, its
// type, default and meaning). Secrets named by `*_env` keys hold the variable's value.
struct NotifierSettings {
  NotifierKind kind = NotifierKind::kWebhook;
  std::string name;            // default "<kind>-<index>"
  std::string url;             // `url`, or the value of the variable `url_env` names
  std::vector<NoticeKind> on;  // empty = every kind
  std::vector<std::pair<NoticeKind, std::string>> templates;  // overrides of the default texts
  int64_t timeout_ms = 10000;
  int retries = 3;
  int64_t backoff_ms = 1000;
  int queue = 1000;
  std::vector<std::pair<std::string, std::string>> headers;  // webhook only
  std::string routing_key;  // pagerduty: the value of `routing_key_env`
  PagerDutyAction event_action = PagerDutyAction::kTrigger;
  std::string severity = "{{labels.severity}}";
  std::string source = "{{source | default(\"reflex\")}}";
};

// The schema of one `notifiers:` entry (for the reader and for documentation).
const base::Schema<NotifierSettings>& NotifierSchema();

// One configured target, parsed and validated; immutable.
class NotifierTarget {
 public:
  // Reads the `notifiers:` list at `path` (a missing or null node is an empty list). Every
  // problem goes to ctx with its position and key path ("notifiers[1].url: ..."), and then
  // the result is nullopt. Environment variables (`url_env`, `routing_key_env`, the default
  // PAGERDUTY_ROUTING_KEY) are looked up through ctx.
  static std::optional<std::vector<NotifierTarget>> ReadList(const YAML::Node& list,
                                                             const std::string& path,
                                                             base::ConfigContext& ctx);
  // Reads one entry (the schema, then the templates) at `path`; `index` names it by default.
  static std::optional<NotifierTarget> Read(const YAML::Node& node, const std::string& path,
                                            size_t index, base::ConfigContext& ctx);
  // Wrappers over Read/ReadList with the process environment: `where` is the file name in
  // errors; kInvalidArgument holds one "file:line:col: key: message" line per problem.
  static engine::Result<NotifierTarget> FromYaml(const YAML::Node& node, std::string_view where,
                                                 size_t index = 0);
  static engine::Result<std::vector<NotifierTarget>> ListFromYaml(const YAML::Node& list,
                                                                  std::string_view where);

  const std::string& name() const { return name_; }
  NotifierKind kind() const { return kind_; }
  bool Wants(NoticeKind kind) const { return on_[static_cast<size_t>(kind)]; }
  // The text rendered for a notice (its kind's template).
  std::string RenderText(const Notice& notice) const;
  // The HTTP request this target sends for a notice.
  HttpRequest BuildRequest(const Notice& notice) const;
  // What must never be shown in a log line about this target: its URL's userinfo and query,
  // its secret header values and the PagerDuty routing key (base/redact.h).
  base::SecretList Secrets() const;

  int64_t timeout_ms() const { return timeout_ms_; }
  int retries() const { return retries_; }
  int64_t backoff_ms() const { return backoff_ms_; }
  size_t queue_capacity() const { return queue_capacity_; }

 private:
  NotifierTarget() = default;
  // Builds a target from settings the schema accepted.
  static NotifierTarget FromSettings(NotifierSettings s, size_t index);
  std::string name_;
  NotifierKind kind_ = NotifierKind::kWebhook;
  std::string url_;
  std::array<bool, kNoticeKindCount> on_{};
  std::vector<engine::Template> templates_;  // one per NoticeKind
  std::vector<std::pair<std::string, std::string>> headers_;
  int64_t timeout_ms_ = 10000;
  int retries_ = 3;
  int64_t backoff_ms_ = 1000;
  size_t queue_capacity_ = 1000;
  std::string routing_key_;
  std::string event_action_ = "trigger";
  std::optional<engine::Template> severity_;
  std::optional<engine::Template> source_;
};

struct NotifierStats {
  uint64_t queued = 0;      // accepted onto a target's queue
  uint64_t delivered = 0;   // answered 2xx
  uint64_t retried = 0;     // attempts beyond the first
  uint64_t failed = 0;      // gave up (retries exhausted or a final status)
  uint64_t dropped = 0;     // queue full, or still queued at Stop() (without an outbox)
  uint64_t resumed = 0;     // pending in the outbox at Create, claimed and queued again
  uint64_t taken_over = 0;  // claimed while running from a replica whose lease expired
};

struct NotifierOptions {
  // Receives one line per failure or drop, with the target's secrets redacted
  // (NotifierTarget::Secrets). Default: standard error.
  std::function<void(std::string_view)> log;
  // Longest single wait between retries. Default: 30 s.
  int64_t max_backoff_ms = 30000;
  // Durable queue (notice_outbox.h): every notice is stored (claimed by the outbox's owner)
  // before it is queued, its claim renewed before each attempt (a notice another replica took
  // over is not sent), marked delivered or failed when done, and Create claims and queues
  // again what is still pending for its targets and not held by a live replica (up to each
  // queue's capacity). Notices queued at Stop stay pending, their claims released, for the
  // next start or another replica instead of being lost. Default (nullptr): memory only. Must
  // outlive the notifier.
  NoticeOutbox* outbox = nullptr;
  // With an outbox: how often an idle target's worker claims the pending notices of replicas
  // whose lease expired (a replica that died). 0: only at Create. Default: 30 s.
  int64_t outbox_claim_interval_ms = 30'000;
  // Time source for the outbox's timestamps. Default (nullptr): the system clock.
  const engine::Clock* clock = nullptr;
  // Told each notice's outcome per target (observer.h); may be null. Must outlive the
  // Notifier.
  ActionObserver* observer = nullptr;
};

class Notifier {
 public:
  // Starts one worker thread per target.
  static engine::Result<std::unique_ptr<Notifier>> Create(std::vector<NotifierTarget> targets,
                                                          NotifierOptions options);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues the notice for every target that wants its kind. Never blocks on the network;
  // after Stop() the notice is dropped (and counted).
  void Notify(const Notice& notice);
  // Waits until every queue is empty and nothing is in flight, or the deadline passes.
  // True when everything was handled (delivered or failed).
  bool Flush(std::chrono::steady_clock::time_point deadline);
  // Stops the workers: the send in flight finishes (bounded by its timeout), pending
  // retries are abandoned, queued notices are dropped and counted. Call Flush first to
  // deliver them.
  void Stop();

  // True when some target wants notices of `kind` (a caller may skip building the others).
  bool Wants(NoticeKind kind) const;
  NotifierStats stats() const;                              // summed over targets
  NotifierStats target_stats(std::string_view name) const;  // zero for an unknown name
  size_t target_count() const { return workers_.size(); }

 private:
  class Worker;
  explicit Notifier(NotifierOptions options);
  NotifierOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace reflex::actions
