// reflex actions list | show and reflex approvals list | approve | reject: the action
// journal, read and changed from the command line.
//
//   reflex actions list [--state S] [--limit N] [--db PATH] [--json]
//   reflex actions show <id> [--db PATH] [--json]
//   reflex approvals list [--db PATH] [--json]
//   reflex approvals approve <id> [--by NAME] [--db PATH]
//   reflex approvals reject <id> --reason TEXT [--by NAME] [--db PATH]
//
// These commands open the journal without crash recovery (a `reflex run` may be executing
// from the same file) and never create a database. An approval made here sets the run to
// pending; the running executor picks it up when it next polls the journal.
// Exit codes: 0 ok; 1 no such run, or a change that is not allowed (not awaiting approval,
// approval expired); 2 usage or I/O (including a missing database).
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "modules.h"
#include "reflex/actions/journal.h"
#include "reflex/base/time.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/event.h"

namespace reflex::cli {

namespace {

using actions::ActionRun;
using actions::Journal;
using actions::RunState;

constexpr const char* kDefaultDb = ".reflex/reflex.db";

struct ActionsOptions {
  std::string db = kDefaultDb;
  std::string state;
  int limit = 100;
  int64_t id = 0;
  bool json = false;
  std::string by;
  std::string reason;
};

int ExitFor(const engine::Status& s) {
  return s.code() == engine::StatusCode::kNotFound ||
                 s.code() == engine::StatusCode::kFailedPrecondition
             ? 1
             : 2;
}

std::unique_ptr<Journal> OpenJournal(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    std::cerr << "reflex: no journal at " << path << " (use --db PATH)\n";
    return nullptr;
  }
  actions::JournalOptions o;
  o.recover = false;
  auto j = Journal::Open(path, o);
  if (!j.ok()) {
    std::cerr << "reflex: " << j.status().message() << "\n";
    return nullptr;
  }
  return std::move(*j);
}

std::string Time(int64_t ms) { return ms > 0 ? base::FormatRfc3339Millis(ms) : "-"; }

nlohmann::json ToJson(const ActionRun& r, bool full) {
  nlohmann::json j = {{"id", r.id},
                      {"state", std::string(actions::StateName(r.state))},
                      {"action", r.key.action},
                      {"kind", r.kind},
                      {"event_id", r.key.event_id},
                      {"table", r.key.table},
                      {"row", r.key.row},
                      {"action_index", r.key.action_index},
                      {"attempts", r.attempts},
                      {"last_error", r.last_error},
                      {"created_at", Time(r.created_at_ms)},
                      {"updated_at", Time(r.updated_at_ms)}};
  if (r.state == RunState::kAwaitingApproval) {
    j["approval_deadline"] = Time(r.approval_deadline_ms);
  }
  if (!r.decided_by.empty()) j["decided_by"] = r.decided_by;
  if (!r.job_id.empty()) {  // the job a job-API preset started and followed
    j["job_id"] = r.job_id;
    j["job_url"] = r.job_url;
  }
  if (full) {
    j["target"] = r.target;
    j["ruleset"] = r.ruleset;
    j["next_attempt_at"] = Time(r.next_attempt_at_ms);
    nlohmann::json req = nlohmann::json::parse(r.request, nullptr, false);
    j["request"] = req.is_discarded() ? nlohmann::json(r.request) : req;
    j["output"] = r.output;
    nlohmann::json ev = nlohmann::json::parse(r.event_json, nullptr, false);
    j["event"] = ev.is_discarded() ? nlohmann::json(r.event_json) : ev;
  }
  return j;
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
  auto j = OpenJournal(o.db);
  if (!j) return 2;
  auto runs = j->List(state, o.limit);
  if (!runs.ok()) {
    std::cerr << "reflex: " << runs.status().message() << "\n";
    return 2;
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
  auto j = OpenJournal(o.db);
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
  auto j = OpenJournal(o.db);
  if (!j) return 2;
  engine::SystemClock clock;
  std::string by = o.by;
  if (by.empty()) {
    const char* user = std::getenv("USER");
    by = user != nullptr ? user : "cli";
  }
  engine::Status s = approve ? j->Approve(o.id, by, clock.NowMillis())
                             : j->Reject(o.id, by, o.reason, clock.NowMillis());
  if (!s.ok()) {
    std::cerr << "reflex: " << s.message() << "\n";
    return ExitFor(s);
  }
  std::cout << (approve ? "approved" : "rejected") << " action run " << o.id << " (by " << by
            << ")\n";
  return 0;
}

}  // namespace

void AddActionCommands(CLI::App& app, Runner* run) {
  auto opts = std::make_shared<ActionsOptions>();

  CLI::App* actions_cmd = app.add_subcommand("actions", "Inspect the action journal");
  actions_cmd->require_subcommand(1);
  CLI::App* list = actions_cmd->add_subcommand("list", "List action runs, newest first");
  list->add_option("--state", opts->state,
                   "Only runs in this state (pending, running, succeeded, failed, expired, "
                   "awaiting_approval, rejected, skipped_dry_run, throttled, suppressed)");
  list->add_option("--limit", opts->limit, "At most this many runs (default 100; 0 = all)");
  list->add_option("--db", opts->db, "Journal database (default .reflex/reflex.db)");
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
  show->add_option("--db", opts->db, "Journal database (default .reflex/reflex.db)");
  show->add_flag("--json", opts->json, "Compact JSON");
  show->callback([opts, run] { *run = [opts] { return RunShow(*opts); }; });

  CLI::App* approvals = app.add_subcommand("approvals",
                                           "List, approve or reject action runs "
                                           "awaiting approval");
  approvals->require_subcommand(1);
  CLI::App* alist = approvals->add_subcommand("list", "Runs awaiting approval");
  alist->add_option("--db", opts->db, "Journal database (default .reflex/reflex.db)");
  alist->add_option("--limit", opts->limit, "At most this many runs (default 100; 0 = all)");
  alist->add_flag("--json", opts->json, "One JSON array");
  alist->callback(
      [opts, run] { *run = [opts] { return RunList(*opts, RunState::kAwaitingApproval); }; });
  CLI::App* approve = approvals->add_subcommand("approve", "Approve a run: it runs next");
  approve->add_option("id", opts->id, "Run id")->required();
  approve->add_option("--by", opts->by, "Who approves (default $USER)");
  approve->add_option("--db", opts->db, "Journal database (default .reflex/reflex.db)");
  approve->callback([opts, run] { *run = [opts] { return RunDecide(*opts, true); }; });
  CLI::App* reject = approvals->add_subcommand("reject", "Reject a run: it never runs");
  reject->add_option("id", opts->id, "Run id")->required();
  reject->add_option("--reason", opts->reason, "Why")->required();
  reject->add_option("--by", opts->by, "Who rejects (default $USER)");
  reject->add_option("--db", opts->db, "Journal database (default .reflex/reflex.db)");
  reject->callback([opts, run] { *run = [opts] { return RunDecide(*opts, false); }; });
}

}  // namespace reflex::cli
