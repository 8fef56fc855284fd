// reflex actions list | show | retry | run and reflex approvals list | approve | reject: the
// action journal, read and changed from the command line (docs/actions.md, Commands).
//
//   reflex actions list [--state S] [--limit N] [--json]            + state options
//   reflex actions show <id> [--json]                               + state options
//   reflex actions retry <id> [--by NAME]                           + state options, --rules
//   reflex actions run <action> [--param k=v]... [--by NAME] [--wait SECONDS] [--dry-run]
//                      [--json]                                     + state options, --rules
//   reflex approvals list [--json]                                  + state options
//   reflex approvals approve <id> [--by NAME]                       + state options
//   reflex approvals reject <id> --reason TEXT [--by NAME]          + state options
// State options: --config FILE, --state-dir DIR, --db FILE (state_options.h).
//
// These commands open the journal without crash recovery (a `reflex run` may be executing
// from the same file) and never create a database. An approval or a retry made here leaves
// a pending run; the running executor picks it up when it next polls the journal. `actions
// run` carries the action out itself (app/manual_run.h).
// Exit codes: 0 ok (run: succeeded, or skipped in dry run); 1 no such run, a change that is
// not allowed (not awaiting approval, approval expired, not retryable), or (run) the action
// failed; 2 usage or I/O (including a missing database) and (run) a refused action or
// parameter, nothing journaled; 3 (run) not finished: awaiting approval, or still pending
// when --wait ran out (the engine carries it on).
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "modules.h"
#include "reflex/actions/journal.h"
#include "reflex/app/manual_run.h"
#include "reflex/base/time.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/event.h"
#include "state_options.h"

namespace reflex::cli {

namespace {

using actions::ActionRun;
using actions::Journal;
using actions::RunState;

struct ActionsOptions {
  app::StateFlags where;
  std::string state;
  int limit = 100;
  int64_t id = 0;
  bool json = false;
  std::string by;
  std::string reason;
  std::string action;               // run
  std::vector<std::string> params;  // run: k=v
  double wait_seconds = 300;        // run
  bool dry_run = false;             // run
};

int ExitFor(const engine::Status& s) {
  return s.code() == engine::StatusCode::kNotFound ||
                 s.code() == engine::StatusCode::kFailedPrecondition
             ? 1
             : 2;
}

// The journal of the state the options name, or null after printing why.
std::unique_ptr<Journal> OpenJournal(const ActionsOptions& o, app::StateLocation* where) {
  auto loc = ResolveState(o.where, "reflex", std::cerr);
  if (!loc) return nullptr;
  auto j = app::OpenExistingJournal(*loc);
  if (!j.ok()) {
    std::cerr << "reflex: " << j.status().message() << "\n";
    return nullptr;
  }
  if (where != nullptr) *where = *loc;
  return std::move(*j);
}

std::string Time(int64_t ms) { return ms > 0 ? base::FormatRfc3339Millis(ms) : "-"; }

nlohmann::json ToJson(const ActionRun& r, bool full) {
  return nlohmann::json::parse(actions::ActionRunJson(r, full));
}

std::string Dump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PrintTable(const std::vector<ActionRun>& runs) {
  std::cout << "ID\tSTATE\tACTION\tEVENT\tTABLE/ROW\tATTEMPTS\tUPDATED\tLAST ERROR\n";
  for (const auto& r : runs) {
    std::cout << r.id << '\t' << actions::StateName(r.state) << '\t' << r.key.action << '\t'
              << r.key.event_id << '\t' << r.key.table << '/' << r.key.row << '\t' << r.attempts
              << '\t' << Time(r.updated_at_ms) << '\t' << r.last_error << '\n';
  }
}

int RunList(const ActionsOptions& o, std::optional<RunState> state) {
  app::StateLocation where;
  auto j = OpenJournal(o, &where);
  if (!j) return 2;
  auto runs = j->List(state, o.limit);
  if (!runs.ok()) {
    std::cerr << "reflex: " << runs.status().message() << "\n";
    return 2;
  }
  if (runs->empty()) {
    // An empty journal is an answer, not an error; say where it was read.
    (o.json ? std::cerr : std::cout)
        << "no " << (state ? std::string(actions::StateName(*state)) + " " : std::string())
        << "action runs in " << where.DescribeDb() << "\n";
    if (!o.json) return 0;
  }
  if (o.json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& r : *runs) a.push_back(ToJson(r, false));
    std::cout << Dump(a) << "\n";
  } else {
    PrintTable(*runs);
  }
  return 0;
}

int RunShow(const ActionsOptions& o) {
  auto j = OpenJournal(o, nullptr);
  if (!j) return 2;
  auto r = j->Get(o.id);
  if (!r.ok()) {
    std::cerr << "reflex: " << r.status().message() << "\n";
    return ExitFor(r.status());
  }
  std::cout << Dump(ToJson(*r, true), o.json ? -1 : 2) << "\n";
  return 0;
}

int RunDecide(const ActionsOptions& o, bool approve) {
  app::StateLocation where;
  auto j = OpenJournal(o, &where);
  if (!j) return 2;
  engine::SystemClock clock;
  const std::string by = WhoIs(o.by);
  auto before = j->Get(o.id);
  engine::Status s = approve ? j->Approve(o.id, by, clock.NowMillis())
                             : j->Reject(o.id, by, o.reason, clock.NowMillis());
  if (!s.ok()) {
    std::cerr << "reflex: " << s.message() << "\n";
    return ExitFor(s);
  }
  auto after = j->Get(o.id);
  AuditChange(where,
              {.actor = by,
               .action = approve ? "approval.approve" : "approval.reject",
               .target = "run/" + std::to_string(o.id),
               .detail = o.reason,
               .before = before.ok() ? actions::ActionRunStateJson(*before) : "",
               .after = after.ok() ? actions::ActionRunStateJson(*after) : ""},
              std::cerr);
  std::cout << (approve ? "approved" : "rejected") << " action run " << o.id << " (by " << by
            << ")\n";
  return 0;
}

int RunRetry(const ActionsOptions& o) {
  auto loc = ResolveState(o.where, "actions retry", std::cerr);
  if (!loc) return 2;
  const std::string by = WhoIs(o.by);
  auto run = app::QueueRetry(*loc, o.id, by);
  if (!run.ok()) {
    std::cerr << "actions retry: " << run.status().message() << "\n";
    return ExitFor(run.status());
  }
  std::cout << "queued action run " << run->id << " (" << run->key.action << ", retry of run "
            << o.id << " by " << by << "): " << actions::StateName(run->state) << "\n";
  if (run->state == RunState::kAwaitingApproval) {
    std::cout << "  the action requires approval: reflex approvals approve " << run->id << "\n";
  } else {
    std::cout << "  the running engine carries it out when it next polls the journal (or when "
                 "it starts); follow it with: reflex actions show "
              << run->id << "\n";
  }
  return 0;
}

int RunByHand(const ActionsOptions& o) {
  actions::ManualRequest request;
  request.action = o.action;
  request.by = WhoIs(o.by);
  for (const std::string& p : o.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "actions run: --param '" << p << "': expected name=value\n";
      return 2;
    }
    request.params.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  if (!(o.wait_seconds >= 0)) {
    std::cerr << "actions run: --wait must be zero or more seconds\n";
    return 2;
  }
  auto loc = ResolveState(o.where, "actions run", std::cerr);
  if (!loc) return 2;
  app::ManualRunOptions mo;
  mo.wait = std::chrono::milliseconds(static_cast<int64_t>(o.wait_seconds * 1000));
  mo.dry_run = o.dry_run;
  auto result = app::RunActionByHand(*loc, request, mo);
  if (!result.ok()) {
    std::cerr << "actions run: " << result.status().message() << "\n";
    return 2;
  }
  const ActionRun& r = result->run;
  if (o.json) {
    std::cout << Dump(ToJson(r, true)) << "\n";
  } else {
    std::cout << "action run " << r.id << " (" << r.key.action << ", manual by " << r.requested_by
              << "): " << actions::StateName(r.state);
    if (r.attempts > 0) std::cout << " after " << r.attempts << " attempt(s)";
    std::cout << "\n";
    if (!r.last_error.empty()) std::cout << "  error: " << r.last_error << "\n";
    if (!r.output.empty()) {
      std::cout << "  output:\n" << r.output << (r.output.back() == '\n' ? "" : "\n");
    }
    if (r.state == RunState::kSkippedDryRun) std::cout << "  request: " << r.request << "\n";
  }
  switch (r.state) {
    case RunState::kSucceeded:
    case RunState::kSkippedDryRun:
      return 0;
    case RunState::kAwaitingApproval:
      std::cerr << "actions run: run " << r.id << " awaits approval: reflex approvals approve "
                << r.id << " (the running engine then carries it out)\n";
      return 3;
    case RunState::kPending:
    case RunState::kRunning:
      std::cerr << "actions run: run " << r.id << " has not finished after --wait "
                << o.wait_seconds << " s; it stays in the journal and the running engine "
                << "carries it on: reflex actions show " << r.id << "\n";
      return 3;
    default:
      return 1;
  }
}

}  // namespace

void AddActionCommands(CLI::App& app, Runner* run) {
  auto opts = std::make_shared<ActionsOptions>();

  CLI::App* actions_cmd = app.add_subcommand(
      "actions",
      "The action journal: list, show, retry failed or expired runs, run an action by hand");
  actions_cmd->require_subcommand(1);
  CLI::App* list = actions_cmd->add_subcommand("list", "List action runs, newest first");
  list->add_option("--state", opts->state,
                   "Only runs in this state (pending, running, succeeded, failed, expired, "
                   "awaiting_approval, rejected, skipped_dry_run, throttled, suppressed)");
  list->add_option("--limit", opts->limit, "At most this many runs (default 100; 0 = all)");
  AddStateOptions(list, &opts->where, true);
  list->add_flag("--json", opts->json, "One JSON array");
  list->callback([opts, run] {
    *run = [opts] {
      std::optional<RunState> state;
      if (!opts->state.empty()) {
        state = actions::ParseState(opts->state);
        if (!state) {
          std::cerr << "reflex: unknown state '" << opts->state << "'\n";
          return 2;
        }
      }
      return RunList(*opts, state);
    };
  });
  CLI::App* show = actions_cmd->add_subcommand("show", "Show one action run in full");
  show->add_option("id", opts->id, "Run id")->required();
  AddStateOptions(show, &opts->where, true);
  show->add_flag("--json", opts->json, "Compact JSON");
  show->callback([opts, run] { *run = [opts] { return RunShow(*opts); }; });
  CLI::App* retry = actions_cmd->add_subcommand(
      "retry",
      "Queue a failed or expired run again (a new attempt with the same idempotency key) for "
      "the running engine");
  retry->add_option("id", opts->id, "Id of the failed or expired run")->required();
  retry->add_option("--by", opts->by, "Who retries (default $USER)");
  AddStateOptions(retry, &opts->where, true, true);
  retry->callback([opts, run] { *run = [opts] { return RunRetry(*opts); }; });
  CLI::App* by_hand = actions_cmd->add_subcommand(
      "run", "Run a catalog action by hand now, journaled as manual; print the outcome");
  by_hand->add_option("action", opts->action, "Action name (actions.yaml)")->required();
  by_hand->add_option("-p,--param", opts->params,
                      "A parameter as name=value (repeat for more); only declared ones");
  by_hand->add_option("--by", opts->by, "Who runs it (default $USER)");
  by_hand->add_option("--wait", opts->wait_seconds,
                      "Seconds to wait for the outcome (default 300); an unfinished run stays "
                      "journaled for the engine");
  by_hand->add_flag("--dry-run", opts->dry_run,
                    "Check and render only: journaled as skipped_dry_run, not executed");
  by_hand->add_flag("--json", opts->json, "The run as JSON");
  AddStateOptions(by_hand, &opts->where, true, true);
  by_hand->callback([opts, run] { *run = [opts] { return RunByHand(*opts); }; });

  CLI::App* approvals = app.add_subcommand("approvals",
                                           "List, approve or reject action runs "
                                           "awaiting approval");
  approvals->require_subcommand(1);
  CLI::App* alist = approvals->add_subcommand("list", "Runs awaiting approval");
  AddStateOptions(alist, &opts->where, true);
  alist->add_option("--limit", opts->limit, "At most this many runs (default 100; 0 = all)");
  alist->add_flag("--json", opts->json, "One JSON array");
  alist->callback(
      [opts, run] { *run = [opts] { return RunList(*opts, RunState::kAwaitingApproval); }; });
  CLI::App* approve = approvals->add_subcommand("approve", "Approve a run: it runs next");
  approve->add_option("id", opts->id, "Run id")->required();
  approve->add_option("--by", opts->by, "Who approves (default $USER)");
  AddStateOptions(approve, &opts->where, true);
  approve->callback([opts, run] { *run = [opts] { return RunDecide(*opts, true); }; });
  CLI::App* reject = approvals->add_subcommand("reject", "Reject a run: it never runs");
  reject->add_option("id", opts->id, "Run id")->required();
  reject->add_option("--reason", opts->reason, "Why")->required();
  reject->add_option("--by", opts->by, "Who rejects (default $USER)");
  AddStateOptions(reject, &opts->where, true);
  reject->callback([opts, run] { *run = [opts] { return RunDecide(*opts, false); }; });
}

}  // namespace reflex::cli
