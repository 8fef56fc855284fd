#include "reflex/actions/executor.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <utility>

#include "json_util.h"
#include "reflex/base/redact.h"
#include "reflex/base/time.h"

namespace reflex::actions {

using engine::Result;
using engine::Status;

Executor::Executor(const Catalog& catalog, Journal& journal, ActionHooks hooks,
                   ExecutorOptions options, engine::Clock& clock)
    : Executor(std::make_shared<const Catalog>(catalog), journal, hooks,
               DriverRegistry::Default(hooks), options, clock) {}

Executor::Executor(std::shared_ptr<const Catalog> catalog, Journal& journal, ActionHooks hooks,
                   DriverRegistry drivers, ExecutorOptions options, engine::Clock& clock)
    : catalog_(std::move(catalog)),
      journal_(journal),
      hooks_(std::move(hooks)),
      drivers_(std::move(drivers)),
      options_(options),
      clock_(clock),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {
  escalate_spec_.name = "escalate";
  escalate_spec_.kind = ActionKind::kEscalate;
  if (options_.workers < 1) options_.workers = 1;
  if (options_.queue_capacity < 1) options_.queue_capacity = 1;
  if (options_.tick_ms < 1) options_.tick_ms = 1;
}

Executor::~Executor() { Stop(); }

void Executor::SetCatalog(std::shared_ptr<const Catalog> catalog) {
  if (catalog != nullptr) catalog_.Store(std::move(catalog));
}

Executor::Item Executor::ItemFor(ActionRun run) const {
  Item item;
  item.catalog = catalog_.Load();
  item.spec = item.catalog->Find(run.key.action);
  item.run = std::move(run);
  return item;
}

Status Executor::Start() {
  {
    base::MutexLock lock(mu_);
    if (started_ || stopping_) return engine::FailedPrecondition("executor already started");
    started_ = true;
  }
  // A dry run executes nothing, also not what it finds pending in the journal (a crashed
  // engine's runs, runs approved or retried from the CLI): they wait for an engine that does.
  if (options_.resume_journal && !options_.dry_run) {
    if (Status s = LoadPending(); !s.ok()) return s;
  }
  base::MutexLock lock(mu_);
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  // Always: it renews the leases of the runs this process runs; with resume_journal it also
  // expires approvals and takes work from the journal.
  threads_.emplace_back([this] { HousekeepingLoop(); });
  return Status::Ok();
}

Status Executor::LoadPending() {
  int room;
  {
    base::MutexLock lock(mu_);
    room = static_cast<int>(options_.queue_capacity) - static_cast<int>(known_ids_.size());
  }
  if (room <= 0) return Status::Ok();
  // Read a little more than the room: some rows may already be in memory.
  auto pending = journal_.Pending(room + 64);
  if (!pending.ok()) return pending.status();
  for (ActionRun& run : *pending) {
    const int64_t due_ms = run.next_attempt_at_ms;
    Item item = ItemFor(std::move(run));
    item.due_ms = due_ms;
    base::MutexLock lock(mu_);
    if (known_ids_.size() >= options_.queue_capacity) break;
    if (known_ids_.count(item.run.id) != 0) continue;
    known_ids_.insert(item.run.id);
    queue_.push_back(std::move(item));
  }
  work_cv_.notify_all();
  ObserveDepth();
  return Status::Ok();
}

void Executor::Observe(const RunDefinition& run, int64_t run_id, int attempt,
                       std::string_view outcome, std::string_view error) const {
  if (options_.observer == nullptr) return;
  options_.observer->RunOutcome(run.key.action, outcome);
  options_.observer->RunReported(RunReport{.event_id = run.key.event_id,
                                           .table = run.key.table,
                                           .row = run.key.row,
                                           .action = run.key.action,
                                           .outcome = outcome,
                                           .error = error,
                                           .run_id = run_id,
                                           .attempt = attempt});
}

void Executor::ObserveTakenOver(const std::vector<ReclaimedRun>& runs) const {
  if (options_.observer == nullptr) return;
  for (const ReclaimedRun& run : runs) {
    const std::string why = "the claim of " + run.owner + " ran out at " +
                            base::FormatRfc3339Millis(run.lease_until_ms) +
                            " (that replica stopped or stalled); resumed here";
    options_.observer->RunTakenOver(RunReport{.event_id = run.event_id,
                                              .action = run.action,
                                              .outcome = "taken_over",
                                              .error = why,
                                              .run_id = run.id},
                                    run.owner);
  }
}

void Executor::NoteStore(const engine::Status& s) {
  const int64_t now = clock_.NowMillis();
  bool tell = false;
  {
    base::MutexLock lock(health_mu_);
    store_check_started_ms_ = 0;
    if (s.ok()) {
      store_failing_since_ms_ = 0;
      store_error_.clear();
    } else {
      if (store_failing_since_ms_ == 0) store_failing_since_ms_ = now;
      store_error_ = s.message();
    }
    tell = store_down_told_ == s.ok();
    store_down_told_ = !s.ok();
    if (tell && options_.observer != nullptr) {  // under the lock: reports arrive in order
      options_.observer->StoreReachable(s.ok(), s.ok() ? std::string_view() : s.message());
    }
  }
}

engine::Status Executor::StoreHealth() const {
  const int64_t now = clock_.NowMillis();
  engine::Status health;
  {
    base::MutexLock lock(health_mu_);
    if (store_failing_since_ms_ != 0) {
      return engine::Unavailable("action store unreachable for " +
                                 std::to_string((now - store_failing_since_ms_) / 1000) +
                                 " s: " + store_error_);
    }
    if (store_check_started_ms_ == 0 ||
        now - store_check_started_ms_ <= 2 * options_.store_check_ms) {
      return engine::Status::Ok();
    }
    // A check under way for two intervals: the store hangs (a stopped server, a network that
    // drops packets). Told to the observer once, here, as the check itself has not returned.
    health = engine::Unavailable("action store has not answered for " +
                                 std::to_string((now - store_check_started_ms_) / 1000) + " s");
    if (!store_down_told_ && options_.observer != nullptr) {
      options_.observer->StoreReachable(false, health.message());
    }
    store_down_told_ = true;
  }
  return health;
}

void Executor::ObserveDepth() {
  if (options_.observer == nullptr) return;
  // Reported under the lock: read and report apart, a worker's 0 could overtake an enqueuer's
  // 1 and the gauge would stay at 1 on an idle executor (seen under ThreadSanitizer).
  base::MutexLock lock(mu_);
  options_.observer->QueueDepth(static_cast<int64_t>(known_ids_.size()));
}

void Executor::Enqueue(Item item) {
  {
    base::MutexLock lock(mu_);
    if (known_ids_.count(item.run.id) != 0) return;
    known_ids_.insert(item.run.id);
    queue_.push_back(std::move(item));
  }
  work_cv_.notify_one();
  ObserveDepth();
}

Status Executor::Submit(std::string_view decision_json, std::string_view event_json,
                        std::vector<ActionRun>* journaled) {
  nlohmann::json d = nlohmann::json::parse(decision_json, nullptr, false);
  if (d.is_discarded() || !d.is_object()) {
    return engine::InvalidArgument("decision: not a JSON object");
  }
  const std::string event_id = JsonString(d, "event_id");
  if (event_id.empty()) return engine::InvalidArgument("decision: missing event_id");
  const std::string ruleset = JsonString(d, "ruleset");
  auto matches = d.find("matches");
  if (matches == d.end() || matches->is_null()) return Status::Ok();
  if (!matches->is_array()) return engine::InvalidArgument("decision: 'matches' is not a list");

  engine::Event event;
  if (!event_json.empty()) {
    base::MutexLock lock(parser_mu_);
    if (Status s = parser_.Parse(event_json, clock_.NowMillis(), &event); !s.ok()) {
      return engine::InvalidArgument("event: " + s.message());
    }
  } else {
    event.id = event_id;
  }

  // One catalog for the whole decision, kept alive by the runs it queues.
  std::shared_ptr<const Catalog> catalog = catalog_.Load();
  struct Planned {
    NewRun run;
    std::vector<EnqueueLimit> limits;
    const ActionSpec* spec = nullptr;
  };
  std::vector<Planned> plan;
  const int64_t now = clock_.NowMillis();
  for (const auto& m : *matches) {
    if (!m.is_object()) return engine::InvalidArgument("decision: a match is not an object");
    const std::string table = JsonString(m, "table");
    const std::string row = JsonString(m, "row");
    auto acts = m.find("actions");
    if (acts == m.end() || !acts->is_array()) continue;
    // The engine said why these actions are not carried out (suppressed, resolved).
    if (m.contains("not_run")) continue;
    int index = 0;
    for (const auto& a : *acts) {
      const int action_index = index++;
      if (!a.is_object()) return engine::InvalidArgument("decision: an action is not an object");
      const std::string name = JsonString(a, "name");
      if (name.empty() || name == "ignore") continue;
      std::vector<std::pair<std::string, std::string>> params;
      if (auto p = a.find("params"); p != a.end() && p->is_object()) {
        for (auto it = p->begin(); it != p->end(); ++it) {
          params.emplace_back(it.key(), it->is_string() ? it->get<std::string>() : it->dump());
        }
      }
      Planned pl;
      NewRun& r = pl.run;
      r.key = RunKey{event_id, table, row, action_index, name};
      r.ruleset = ruleset;
      r.event_json = std::string(event_json);
      const bool builtin = name == escalate_spec_.name;
      const ActionSpec* spec = builtin ? &escalate_spec_ : catalog->Find(name);
      if (spec == nullptr) {
        r.kind = "unknown";
        r.state = RunState::kFailed;
        r.last_error = "action '" + name + "' is not in the action catalog";
        plan.push_back(std::move(pl));
        continue;
      }
      r.kind = std::string(KindName(spec->kind));
      auto driver = drivers_.Get(spec->kind);
      if (!driver.ok()) {
        r.state = RunState::kFailed;
        r.last_error = "action '" + name + "': " + driver.status().message();
        plan.push_back(std::move(pl));
        continue;
      }
      if (builtin) {
        r.request = (*driver)->Render(*spec, {}).dump();
        r.state = options_.dry_run ? RunState::kSkippedDryRun : RunState::kPending;
        plan.push_back(std::move(pl));
        continue;
      }
      pl.spec = spec;
      ActionContext ctx;
      ctx.event = &event;
      ctx.params = &params;
      ctx.action = name;
      ctx.table = table;
      ctx.row = row;
      ctx.ruleset = ruleset;
      nlohmann::json req = (*driver)->Render(*spec, ctx);
      r.target = (*driver)->Target(req);
      r.request = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      // A value the catalog does not accept fails the run before anything is attempted.
      std::string refused = CheckParams(*spec, ctx);
      if (refused.empty()) refused = (*driver)->Refuse(*spec, ctx, req);
      if (!refused.empty()) {
        r.state = RunState::kFailed;
        r.last_error = std::move(refused);
        plan.push_back(std::move(pl));
        continue;
      }
      if (spec->throttle.window_ms > 0) {
        r.throttle_key = "k:" + spec->throttle.Key(ctx);
        pl.limits.push_back(EnqueueLimit{false, now - spec->throttle.window_ms + 1,
                                         spec->throttle.count, RunState::kThrottled});
      }
      if (spec->suppress.window_ms > 0) {
        r.suppress_key = "k:" + spec->suppress.Key(ctx);
        pl.limits.push_back(EnqueueLimit{true, now - spec->suppress.window_ms + 1,
                                         spec->suppress.count, RunState::kSuppressed});
      }
      if (options_.dry_run) {
        r.state = RunState::kSkippedDryRun;
      } else if (spec->approval_required) {
        r.state = RunState::kAwaitingApproval;
        r.approval_deadline_ms = now + spec->approval_ttl_ms;
      } else {
        r.state = RunState::kPending;
      }
      plan.push_back(std::move(pl));
    }
  }
  if (plan.empty()) return Status::Ok();

  // Backpressure: wait for room before journaling, so the journal never runs far ahead of
  // what the workers can hold. A decision's runs are admitted together.
  {
    base::MutexLock lock(mu_);
    while (!stopping_ && known_ids_.size() >= options_.queue_capacity) lock.Wait(space_cv_);
  }

  for (Planned& pl : plan) {
    auto res = Admit(pl.run, catalog, pl.spec, pl.limits, now, journaled);
    if (!res.ok()) return res.status();
  }
  return Status::Ok();
}

Result<EnqueueResult> Executor::Admit(const NewRun& planned, std::shared_ptr<const Catalog> catalog,
                                      const ActionSpec* spec,
                                      const std::vector<EnqueueLimit>& limits, int64_t now,
                                      std::vector<ActionRun>* journaled) {
  auto res = journal_.Enqueue(planned, now, limits);
  if (!res.ok()) return res.status();
  {
    base::MutexLock lock(mu_);
    if (res->inserted) {
      ++stats_.submitted;
    } else {
      ++stats_.duplicates;
    }
  }
  if (!res->inserted) return res;
  if (res->state != RunState::kPending) {
    Observe(planned, res->id, 0, StateName(res->state),
            res->state == RunState::kFailed ? std::string_view(planned.last_error) : "");
  }
  ActionRun run;
  static_cast<RunDefinition&>(run) = planned;
  run.id = res->id;
  run.state = res->state;
  run.created_at_ms = now;
  if (journaled != nullptr) journaled->push_back(run);
  switch (res->state) {
    case RunState::kPending: {
      Item item;
      item.run = std::move(run);
      item.catalog = std::move(catalog);
      item.spec = spec;
      item.due_ms = 0;
      Enqueue(std::move(item));
      break;
    }
    case RunState::kAwaitingApproval:
      Notify(run, ActionEventKind::kApprovalRequested,
             "action '" + run.key.action + "' needs approval: reflex approvals approve " +
                 std::to_string(run.id));
      break;
    case RunState::kFailed:
      Escalate(run, ActionEventKind::kActionFailed, planned.last_error);
      break;
    default:
      break;
  }
  return res;
}

Result<EnqueueResult> Executor::SubmitManual(const ManualRequest& request) {
  const int64_t now = clock_.NowMillis();
  std::string nonce;
  {
    base::MutexLock lock(mu_);
    char buf[17];
    snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng_()));
    nonce = buf;
  }
  std::shared_ptr<const Catalog> catalog = catalog_.Load();
  auto plan = PlanManualRun(*catalog, drivers_, request, now, nonce);
  if (!plan.ok()) return plan.status();
  if (options_.dry_run) plan->state = RunState::kSkippedDryRun;
  {
    base::MutexLock lock(mu_);
    while (!stopping_ && known_ids_.size() >= options_.queue_capacity) lock.Wait(space_cv_);
  }
  const ActionSpec* spec = catalog->Find(request.action);
  return Admit(*plan, std::move(catalog), spec, {}, now, nullptr);
}

Status Executor::Approve(int64_t run_id, const std::string& who) {
  if (Status s = journal_.Approve(run_id, who, clock_.NowMillis()); !s.ok()) return s;
  if (options_.dry_run) return Status::Ok();  // approved, left pending for an engine that executes
  auto run = journal_.Get(run_id);
  if (!run.ok()) return run.status();
  Enqueue(ItemFor(std::move(*run)));
  return Status::Ok();
}

Status Executor::Reject(int64_t run_id, const std::string& who, const std::string& reason) {
  if (Status s = journal_.Reject(run_id, who, reason, clock_.NowMillis()); !s.ok()) return s;
  auto run = journal_.Get(run_id);
  if (run.ok()) {
    Observe(*run, run->id, run->attempts, StateName(RunState::kRejected),
            "rejected by " + who + ": " + reason);
    Notify(*run, ActionEventKind::kApprovalRejected, "rejected by " + who + ": " + reason);
  }
  return Status::Ok();
}

bool Executor::Drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  base::MutexLock lock(mu_);
  while (!known_ids_.empty()) {
    if (lock.WaitUntil(space_cv_, deadline) == std::cv_status::timeout) return known_ids_.empty();
  }
  return true;
}

void Executor::Stop() {
  {
    base::MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_.Stop();
  work_cv_.notify_all();
  space_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

Executor::Stats Executor::stats() const {
  base::MutexLock lock(mu_);
  Stats s = stats_;
  s.in_flight = in_flight_;
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

void Executor::WorkerLoop() {
  base::MutexLock lock(mu_);
  while (!stopping_) {
    Item item;
    if (PickLocked(clock_.NowMillis(), &item)) {
      lock.Unlock();
      Execute(std::move(item));
      lock.Lock();
      continue;
    }
    lock.WaitFor(work_cv_, std::chrono::milliseconds(options_.tick_ms));
  }
}

void Executor::HousekeepingLoop() {
  auto last_poll = std::chrono::steady_clock::now();
  int64_t last_check_ms = clock_.NowMillis();
  const int64_t check_ms =
      std::max<int64_t>(1, std::min<int64_t>(journal_.lease_ms() / 3, options_.store_check_ms));
  base::MutexLock lock(mu_);
  while (!stopping_) {
    lock.Unlock();
    // The claims of the runs this process is running hold while it lives (journal.h): renewed
    // every check. A round's calls are the store's health check: while one fails the check is
    // retried every second, well within the lease, and StoreHealth() says so; while one has
    // not returned, StoreHealth() sees how long.
    const int64_t now = clock_.NowMillis();
    bool failing;
    {
      base::MutexLock health(health_mu_);
      failing = store_failing_since_ms_ != 0;
    }
    const bool check =
        now - last_check_ms >= (failing ? std::min<int64_t>(check_ms, 1000) : check_ms);
    const bool poll =
        options_.resume_journal && std::chrono::steady_clock::now() - last_poll >=
                                       std::chrono::milliseconds(options_.poll_journal_ms);
    if (check || poll) {
      {
        base::MutexLock health(health_mu_);
        store_check_started_ms_ = now;
      }
      engine::Status store;
      if (check) {
        last_check_ms = now;
        store = journal_.RenewLeases(now).status();
      }
      if (poll) {
        last_poll = std::chrono::steady_clock::now();
        auto expired = journal_.ExpireApprovals(clock_.NowMillis());
        if (expired.ok()) {
          for (const ActionRun& run : *expired) {
            Observe(run, run.id, run.attempts, StateName(RunState::kExpired),
                    "approval was not given in time");
            Escalate(run, ActionEventKind::kApprovalExpired,
                     "approval for action '" + run.key.action + "' was not given in time");
          }
        } else if (store.ok()) {
          store = expired.status();
        }
        if (!options_.dry_run) {
          // The runs of a replica that died while running them, once their lease ran out.
          auto taken = journal_.ReclaimExpired(clock_.NowMillis());
          if (taken.ok()) {
            ObserveTakenOver(*taken);
          } else if (store.ok()) {
            store = taken.status();
          }
          (void)LoadPending();  // a journal error is retried on the next poll
        }
      }
      NoteStore(store);
    }
    lock.Lock();
    if (stopping_) break;
    lock.WaitFor(work_cv_, std::chrono::milliseconds(options_.tick_ms));
  }
}

bool Executor::PickLocked(int64_t now, Item* out) {
  size_t best = queue_.size();
  for (size_t i = 0; i < queue_.size(); ++i) {
    Item& it = queue_[i];
    if (it.due_ms > now) continue;
    const ActionSpec* spec = it.spec;
    if (spec != nullptr && spec->concurrency > 0 &&
        running_per_action_[spec->name] >= spec->concurrency) {
      continue;
    }
    if (spec != nullptr && spec->breaker.failures > 0 && !it.run.target.empty()) {
      auto b = breakers_.find(it.run.target);
      if (b != breakers_.end() && b->second.open_until > 0) {
        if (now < b->second.open_until) {
          it.due_ms = b->second.open_until;  // fail fast: held back, no attempt made
          ++stats_.breaker_rejections;
          continue;
        }
        if (b->second.trial_in_flight) continue;  // half-open: one trial at a time
      }
    }
    if (best == queue_.size() || it.due_ms < queue_[best].due_ms ||
        (it.due_ms == queue_[best].due_ms && it.run.id < queue_[best].run.id)) {
      best = i;
    }
  }
  if (best == queue_.size()) return false;
  *out = std::move(queue_[best]);
  queue_[best] = std::move(queue_.back());
  queue_.pop_back();
  if (out->spec != nullptr) {
    ++running_per_action_[out->spec->name];
    if (out->spec->breaker.failures > 0 && !out->run.target.empty()) {
      auto b = breakers_.find(out->run.target);
      if (b != breakers_.end() && b->second.open_until > 0) {
        b->second.trial_in_flight = true;
        out->breaker_trial = true;
      }
    }
  }
  ++in_flight_;
  return true;
}

void Executor::Execute(Item item) {
  const int64_t now = clock_.NowMillis();
  auto release = [&](bool requeue_due, int64_t due) {
    base::MutexLock lock(mu_);
    --in_flight_;
    if (item.spec != nullptr) --running_per_action_[item.spec->name];
    if (item.breaker_trial) {
      breakers_[item.run.target].trial_in_flight = false;
      item.breaker_trial = false;
    }
    if (requeue_due) {
      item.due_ms = due;
      queue_.push_back(std::move(item));
    } else {
      known_ids_.erase(item.run.id);
    }
    // Before Drain can see the change: its caller then reads the depth this run left.
    if (options_.observer != nullptr) {
      options_.observer->QueueDepth(static_cast<int64_t>(known_ids_.size()));
    }
    work_cv_.notify_all();
    space_cv_.notify_all();
  };
  auto claimed = journal_.MarkRunning(item.run.id, now);
  if (!claimed.ok()) {  // the journal is unavailable: try again shortly
    release(true, now + 1000);
    return;
  }
  if (!*claimed) {  // no longer pending (handled elsewhere, or stale)
    release(false, 0);
    return;
  }
  ++item.run.attempts;
  {
    base::MutexLock lock(mu_);
    ++stats_.attempts;
  }
  if (item.breaker_trial && options_.observer != nullptr) {
    options_.observer->BreakerChanged(item.run.target, BreakerState::kHalfOpen);
  }
  if (item.spec != nullptr && item.spec->notify_before && item.run.attempts == 1) {
    Notify(item.run, ActionEventKind::kActionStarting,
           "starting action '" + item.run.key.action + "'");
  }
  AttemptContext attempt;
  attempt.stop = &stop_;
  std::string job_id = item.run.job_id, job_url = item.run.job_url;
  attempt.job_started = [&](const std::string& id, const std::string& url) {
    job_id = id;
    job_url = url;
    // Journaled before the job is followed: a crash now resumes by following this job.
    Status s = journal_.SetJob(item.run.id, id, url, clock_.NowMillis());
    (void)s;  // a journal failure: the run still follows; a crash would launch again
  };
  ActionOutcome o = Perform(item, attempt);
  item.run.job_id = job_id;
  item.run.job_url = job_url;
  // What is journaled, escalated and notified never holds a URL's userinfo or query, whatever
  // the driver quoted (drivers also redact the secrets only they know).
  o.error = base::RedactSecrets(o.error);
  o.output = base::RedactSecrets(o.output);
  const int64_t done = clock_.NowMillis();

  bool retry = false;
  int64_t next = 0;
  std::optional<BreakerState> breaker_change;
  {
    base::MutexLock lock(mu_);
    if (item.spec != nullptr && item.spec->breaker.failures > 0 && !item.run.target.empty() &&
        !o.interrupted) {
      Breaker& b = breakers_[item.run.target];
      const bool was_open = b.open_until > 0;
      if (o.ok || o.permanent) {  // the target answered: it is up
        b.failures = 0;
        b.open_until = 0;
        if (was_open) breaker_change = BreakerState::kClosed;
      } else {
        ++b.failures;
        if (item.breaker_trial || b.failures >= item.spec->breaker.failures) {
          b.open_until = done + item.spec->breaker.reset_after_ms;
          breaker_change = BreakerState::kOpen;
        }
      }
    }
    if (!o.ok && !o.permanent && !o.interrupted && item.spec != nullptr &&
        item.run.attempts < item.spec->retry.max_attempts) {
      retry = true;
    }
  }
  if (breaker_change && options_.observer != nullptr) {
    options_.observer->BreakerChanged(item.run.target, *breaker_change);
  }
  Observe(item.run, item.run.id, item.run.attempts,
          o.ok            ? "succeeded"
          : retry         ? "retried"
          : o.interrupted ? "interrupted"
                          : "failed",
          o.ok ? std::string_view() : std::string_view(o.error));
  if (o.interrupted) {
    // Shutting down mid-follow: pending again, with its job, for the next Start.
    Status s = journal_.MarkRetry(item.run.id, o.error, o.output, done, done);
    (void)s;
  } else if (o.ok) {
    Status s = journal_.MarkSucceeded(item.run.id, o.output, done);
    (void)s;  // a journal failure here leaves the row running: resumed on the next start
    {
      base::MutexLock lock(mu_);
      ++stats_.succeeded;
    }
    if (item.spec != nullptr && item.spec->notify_after) {
      Notify(item.run, ActionEventKind::kActionSucceeded,
             "action '" + item.run.key.action + "' succeeded");
    }
  } else if (retry) {
    next = done + BackoffMs(*item.spec, item.run.attempts);
    Status s = journal_.MarkRetry(item.run.id, o.error, o.output, next, done);
    (void)s;
    base::MutexLock lock(mu_);
    ++stats_.retries;
  } else {
    Status s = journal_.MarkFailed(item.run.id, o.error, o.output, done);
    (void)s;
    {
      base::MutexLock lock(mu_);
      ++stats_.failed;
    }
    item.run.last_error = o.error;
    std::string reason = "action '" + item.run.key.action + "' failed after " +
                         std::to_string(item.run.attempts) + " attempt(s): " + o.error;
    Escalate(item.run, ActionEventKind::kActionFailed, reason);
    if (item.spec != nullptr && item.spec->notify_after) {
      Notify(item.run, ActionEventKind::kActionFailed, reason);
    }
  }
  release(retry, next);
}

int64_t Executor::BackoffMs(const ActionSpec& spec, int attempt) {
  if (!spec.retry.jitter) return spec.retry.CeilingMs(attempt);
  base::MutexLock lock(mu_);
  return spec.retry.DelayMs(attempt, rng_);
}

ActionOutcome Executor::Perform(const Item& item, const AttemptContext& attempt) {
  ActionOutcome o;
  const bool builtin = item.run.kind == KindName(escalate_spec_.kind);
  const ActionSpec* spec = builtin ? &escalate_spec_ : item.spec;
  if (spec == nullptr) {
    o.permanent = true;
    o.error = "action '" + item.run.key.action + "' is not in the action catalog";
    return o;
  }
  auto driver = drivers_.Get(spec->kind);
  if (!driver.ok()) {
    o.permanent = true;
    o.error = "action '" + item.run.key.action + "': " + driver.status().message();
    return o;
  }
  nlohmann::json req = nlohmann::json::parse(item.run.request, nullptr, false);
  if (req.is_discarded() || !req.is_object()) {
    o.permanent = true;
    o.error = "the journaled request is not valid JSON";
    return o;
  }
  return (*driver)->Attempt(*spec, item.run, req, attempt);
}

void Executor::Escalate(const ActionRun& run, ActionEventKind kind, std::string reason) {
  if (hooks_.escalate) hooks_.escalate(NoticeFor(run, kind, std::move(reason)));
}

void Executor::Notify(const ActionRun& run, ActionEventKind kind, std::string reason) {
  if (hooks_.notify) hooks_.notify(NoticeFor(run, kind, std::move(reason)));
}

}  // namespace reflex::actions
