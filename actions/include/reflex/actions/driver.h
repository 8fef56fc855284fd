// Action drivers: one per action kind, each knowing how to carry out actions of its kind.
//
// An ActionDriver renders the request of an action for one decision (the JSON the journal
// stores, without secrets), names the circuit-breaker target of a rendered request, may
// refuse a rendered request (command: a value that would become an option), and performs
// one attempt of a journaled request. A webhook with a job-API preset (`preset: awx`,
// `exastro_ita`) follows the job its launch started until the job finishes (catalog.h,
// FollowSpec): the attempt lasts as long as the job, up to `follow.timeout`, and returns at
// once when the executor stops. The Executor knows no kind: it asks the
// DriverRegistry it was given for the driver of each run's kind. Drivers are registered
// into a registry explicitly; DriverRegistry::Default builds the five built-in ones.
//
// Rendered requests (JSON):
//   webhook  {"method","url","headers":[[k,v]...],"body"}  target "host:port" of the URL
//   command  {"argv":[...],"env":[[k,v]...],"cwd"}         target the program path
//   kafka    {"topic","key","value"}                       target "kafka:<topic>"
//   emit     {"event"}                                     no target
//   escalate {"reason"}                                    no target
//
// Ownership: a registry owns its drivers; the Executor owns the registry it is given. The
// hook-backed drivers (kafka, emit, escalate) keep copies of the hooks they call.
//
// Thread-safety: fill a registry before handing it over; after that it is immutable and
// Find, Get, Render and Target may be called from any thread. Driver methods are const and
// are called concurrently from executor worker threads.
//
//   DriverRegistry drivers = DriverRegistry::Default(hooks);
//   if (Status s = drivers.Register(std::make_unique<MyDriver>()); !s.ok()) ...
//   Executor ex(catalog, journal, hooks, std::move(drivers), ExecutorOptions{}, clock);
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "reflex/actions/catalog.h"
#include "reflex/actions/hooks.h"
#include "reflex/actions/journal.h"
#include "reflex/base/stop_signal.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

// What one attempt of a run came to.
struct ActionOutcome {
  bool ok = false;
  bool permanent = false;  // do not retry
  // The attempt was cut short by the executor's shutdown after it started something that
  // goes on without it (a launched job being followed): the run is put back to pending,
  // attempt uncounted, and resumes on the next start. ok and permanent are false.
  bool interrupted = false;
  std::string error;
  std::string output;
};

// What the executor gives one attempt besides the run: its stop signal and a way to record
// the job an attempt started.
struct AttemptContext {
  // Set when the executor stops; a driver that waits (between polls) waits on it, and
  // returns an `interrupted` outcome promptly once it is set. Never null during Perform.
  const base::StopSignal* stop = nullptr;
  // Records the job a launch started (journaled before the driver goes on to follow it, so a
  // resumed run follows that job instead of launching another). May be empty.
  std::function<void(const std::string& job_id, const std::string& job_url)> job_started;
};

class ActionDriver {
 public:
  virtual ~ActionDriver() = default;

  // The kind this driver carries out; fixed for the driver's lifetime.
  virtual ActionKind kind() const = 0;
  std::string_view name() const { return KindName(kind()); }

  // The request `spec` (of this driver's kind) makes for the decision `ctx` describes.
  virtual nlohmann::json Render(const ActionSpec& spec, const ActionContext& ctx) const = 0;

  // The circuit-breaker target of a rendered request; "" when the kind has none.
  virtual std::string Target(const nlohmann::json& request) const = 0;

  // Why `request` (rendered from `spec` for `ctx`) must not be carried out, e.g. a command
  // argument a value turned into an option; "" when it may. Asked before the run is
  // journaled: a reason journals the run as failed with it. Default: "".
  virtual std::string Refuse(const ActionSpec& /*spec*/, const ActionContext& /*ctx*/,
                             const nlohmann::json& /*request*/) const {
    return "";
  }

  // One attempt of `run`, whose journaled request parsed into `request`. Blocks for at most
  // about spec.timeout_ms (hooks: as long as the hook takes). Failures are outcomes, never
  // exceptions.
  virtual ActionOutcome Perform(const ActionSpec& spec, const ActionRun& run,
                                const nlohmann::json& request) const = 0;

  // One attempt with the executor's context: what the executor calls. A driver whose
  // attempts wait on something outside (a job it launched) overrides it; the default calls
  // Perform. `run.job_id` is the job an earlier attempt started, "" when none.
  virtual ActionOutcome Attempt(const ActionSpec& spec, const ActionRun& run,
                                const nlohmann::json& request,
                                const AttemptContext& /*attempt*/) const {
    return Perform(spec, run, request);
  }
};

// The built-in drivers, for composing a registry by hand. An empty hook makes every attempt
// of that kind fail permanently (escalate: the attempt succeeds, nobody is told).
std::unique_ptr<ActionDriver> NewWebhookDriver();
std::unique_ptr<ActionDriver> NewCommandDriver();
std::unique_ptr<ActionDriver> NewKafkaDriver(decltype(ActionHooks::produce) produce);
std::unique_ptr<ActionDriver> NewEmitDriver(decltype(ActionHooks::emit) emit);
std::unique_ptr<ActionDriver> NewEscalateDriver(decltype(ActionHooks::escalate) escalate);

class DriverRegistry {
 public:
  DriverRegistry() = default;  // empty
  DriverRegistry(DriverRegistry&&) = default;
  DriverRegistry& operator=(DriverRegistry&&) = default;

  // webhook, command, kafka (hooks.produce), emit (hooks.emit), escalate (hooks.escalate).
  static DriverRegistry Default(const ActionHooks& hooks);

  // Adds `driver` for its kind. kInvalidArgument for a null driver; kFailedPrecondition when
  // the kind already has one (the registry is unchanged).
  engine::Status Register(std::unique_ptr<ActionDriver> driver);

  // The driver of `kind`; nullptr when none is registered.
  const ActionDriver* Find(ActionKind kind) const;
  // The same, with kNotFound ("no driver is registered for action kind 'kafka'").
  engine::Result<const ActionDriver*> Get(ActionKind kind) const;

  // Get(spec.kind), then its Render / Target.
  engine::Result<nlohmann::json> Render(const ActionSpec& spec, const ActionContext& ctx) const;
  engine::Result<std::string> Target(ActionKind kind, const nlohmann::json& request) const;

 private:
  std::map<ActionKind, std::unique_ptr<const ActionDriver>> drivers_;
};

}  // namespace reflex::actions
