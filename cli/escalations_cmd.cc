// reflex escalations list | show | ack | resolve: what the run mode escalated to people.
//
//   reflex escalations list [--state open|acknowledged|resolved|all] [--kind K] [--limit N]
//                           [--json]                        + state options
//   reflex escalations show <id> [--json]                   + state options
//   reflex escalations ack <id> [--by NAME] [--note TEXT]   + state options
//   reflex escalations resolve <id> [--by NAME] [--note TEXT] + state options
// State options: --config FILE, --state-dir DIR, --db FILE (state_options.h).
//
// Exit codes: 0 ok; 1 no such escalation, or a state change that is not allowed; 2 usage or
// I/O (including a missing database: these commands never create one).
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <string>

#include "modules.h"
#include "reflex/actions/escalations.h"
#include "reflex/base/time.h"
#include "reflex/engine/event.h"
#include "state_options.h"

namespace reflex::cli {

namespace {

using actions::EscalationGroup;
using actions::EscalationStore;

struct ListOptions {
  app::StateFlags where;
  std::string state = "open";
  std::string kind;
  size_t limit = 100;
  bool json = false;
};

struct ShowOptions {
  app::StateFlags where;
  int64_t id = 0;
  bool json = false;
};

struct ChangeOptions {
  app::StateFlags where;
  int64_t id = 0;
  std::string by;
  std::string note;
};

int ExitFor(const engine::Status& s) {
  return s.code() == engine::StatusCode::kNotFound ||
                 s.code() == engine::StatusCode::kFailedPrecondition
             ? 1
             : 2;
}

// The escalation store of the state the options name; `where` receives the location.
engine::Result<std::unique_ptr<EscalationStore>> OpenExisting(const app::StateFlags& flags,
                                                              app::StateLocation* where) {
  auto loc = app::ResolveStateLocation(flags, base::SystemEnv());
  if (!loc.ok()) return loc.status();
  *where = *loc;
  return app::OpenExistingEscalations(*loc);
}

std::string ShapeText(const EscalationGroup& g) {
  std::string s;
  for (const auto& [field, value] : g.shape) {
    if (!s.empty()) s += " ";
    s += field + "=" + (value ? *value : "-");
  }
  return s;
}

std::string Json(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

int RunList(const ListOptions& o, std::ostream& out, std::ostream& err) {
  actions::EscalationFilter filter;
  filter.limit = o.limit;
  if (o.state != "all") {
    auto st = actions::ParseEscalationState(o.state);
    if (!st.ok()) {
      err << "escalations list: " << st.status().message() << "\n";
      return 2;
    }
    filter.state = *st;
  }
  if (!o.kind.empty()) {
    auto k = actions::ParseEscalationKind(o.kind);
    if (!k.ok()) {
      err << "escalations list: " << k.status().message() << "\n";
      return 2;
    }
    filter.kind = *k;
  }
  app::StateLocation where;
  auto store = OpenExisting(o.where, &where);
  if (!store.ok()) {
    err << "escalations list: " << store.status().message() << "\n";
    return 2;
  }
  auto groups = (*store)->List(filter);
  if (!groups.ok()) {
    err << "escalations list: " << groups.status().message() << "\n";
    return 2;
  }
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& g : *groups) arr.push_back(nlohmann::json::parse(EscalationGroupJson(g)));
    out << Json(arr) << "\n";
    return 0;
  }
  if (groups->empty()) {
    out << "no " << (o.state == "all" ? "" : o.state + " ") << "escalations in "
        << where.DescribeDb() << "\n";
    return 0;
  }
  out << std::right << std::setw(6) << "ID"
      << "  " << std::left << std::setw(13) << "STATE" << std::setw(17) << "KIND" << std::right
      << std::setw(7) << "COUNT"
      << "  " << std::left << std::setw(25) << "LAST SEEN"
      << "SHAPE\n";
  for (const auto& g : *groups) {
    out << std::right << std::setw(6) << g.id << "  " << std::left << std::setw(13)
        << actions::EscalationStateName(g.state) << std::setw(17)
        << actions::EscalationKindName(g.kind) << std::right << std::setw(7) << g.count << "  "
        << std::left << std::setw(25) << base::FormatRfc3339Millis(g.last_seen_ms) << ShapeText(g)
        << (g.symptoms > 0 ? "  (root of " + std::to_string(g.symptoms) + " symptom(s))" : "")
        << "\n";
  }
  return 0;
}

int RunShow(const ShowOptions& o, std::ostream& out, std::ostream& err) {
  app::StateLocation where;
  auto store = OpenExisting(o.where, &where);
  if (!store.ok()) {
    err << "escalations show: " << store.status().message() << "\n";
    return 2;
  }
  auto g = (*store)->Get(o.id);
  if (!g.ok()) {
    err << "escalations show: " << g.status().message() << "\n";
    return ExitFor(g.status());
  }
  if (o.json) {
    out << Json(nlohmann::json::parse(EscalationGroupJson(*g))) << "\n";
    return 0;
  }
  auto row = [&out](const char* label, const std::string& value) {
    out << "  " << std::left << std::setw(12) << label << value << "\n";
  };
  out << "escalation " << g->id << " (" << actions::EscalationKindName(g->kind) << ", "
      << actions::EscalationStateName(g->state) << ")\n";
  row("fingerprint", g->fingerprint);
  row("shape", ShapeText(*g));
  row("count", std::to_string(g->count) +
                   (g->reopen_count > 0 ? " (reopened " + std::to_string(g->reopen_count) + "x)"
                                        : std::string()));
  if (g->symptoms > 0) {
    row("root cause", g->root_cause + ": " + std::to_string(g->symptoms) +
                          " event(s) of dependent nodes suppressed as its symptoms");
  }
  row("first seen", base::FormatRfc3339Millis(g->first_seen_ms));
  row("last seen", base::FormatRfc3339Millis(g->last_seen_ms));
  if (!g->state_by.empty()) {
    row("state", std::string(actions::EscalationStateName(g->state)) + " by " + g->state_by +
                     " at " + base::FormatRfc3339Millis(g->state_at_ms) +
                     (g->state_note.empty() ? "" : ": " + g->state_note));
  }
  if (g->kind != actions::EscalationKind::kUnknownEvent) {
    row("action", g->action);
    row("row", g->table + "/" + g->row);
    row("reason", g->reason);
  }
  out << "history:\n";
  for (const auto& h : g->history) {
    out << "  " << base::FormatRfc3339Millis(h.at_ms) << "  " << std::left << std::setw(13)
        << actions::EscalationStateName(h.state) << h.by << (h.note.empty() ? "" : ": " + h.note)
        << "\n";
  }
  out << "samples (" << g->samples.size() << "):\n";
  for (const auto& s : g->samples) {
    out << "  " << base::FormatRfc3339Millis(s.at_ms) << "  " << s.event
        << (s.truncated ? " [truncated]" : "") << "\n";
  }
  return 0;
}

int RunChange(const ChangeOptions& o, bool resolve, std::ostream& out, std::ostream& err) {
  const char* verb = resolve ? "resolve" : "ack";
  const std::string by = WhoIs(o.by);
  app::StateLocation where;
  auto store = OpenExisting(o.where, &where);
  if (!store.ok()) {
    err << "escalations " << verb << ": " << store.status().message() << "\n";
    return 2;
  }
  auto before = (*store)->Get(o.id);
  engine::Status s =
      resolve ? (*store)->Resolve(o.id, by, o.note) : (*store)->Ack(o.id, by, o.note);
  if (!s.ok()) {
    err << "escalations " << verb << ": " << s.message() << "\n";
    return ExitFor(s);
  }
  auto after = (*store)->Get(o.id);
  AuditChange(where,
              {.actor = by,
               .action = std::string("escalation.") + verb,
               .target = "escalation/" + std::to_string(o.id),
               .detail = o.note,
               .before = before.ok() ? actions::EscalationStateJson(*before) : "",
               .after = after.ok() ? actions::EscalationStateJson(*after) : ""},
              err);
  out << "escalation " << o.id << " " << (resolve ? "resolved" : "acknowledged") << " by " << by
      << "\n";
  return 0;
}

}  // namespace

void AddEscalationCommands(CLI::App& app, Runner* run) {
  auto* esc =
      app.add_subcommand("escalations",
                         "Unknown events and failed actions waiting for a person (list, show, ack, "
                         "resolve)");
  esc->require_subcommand(1);

  auto list = std::make_shared<ListOptions>();
  auto* l = esc->add_subcommand("list", "List escalation groups, most recently seen first");
  l->add_option("--state", list->state, "open, acknowledged, resolved or all (default open)")
      ->check(CLI::IsMember({"open", "acknowledged", "resolved", "all"}));
  l->add_option("--kind", list->kind,
                "Only this kind: unknown_event, action_failed, approval_expired, "
                "escalate_action")
      ->check(
          CLI::IsMember({"unknown_event", "action_failed", "approval_expired", "escalate_action"}));
  l->add_option("--limit", list->limit, "At most this many groups (default 100)")
      ->check(CLI::Range(1, 1000000));
  AddStateOptions(l, &list->where, true);
  l->add_flag("--json", list->json, "Machine-readable output");
  l->callback([run, list] { *run = [list] { return RunList(*list, std::cout, std::cerr); }; });

  auto show = std::make_shared<ShowOptions>();
  auto* s = esc->add_subcommand("show", "One escalation with its samples and history");
  s->add_option("id", show->id, "Escalation id")->required();
  AddStateOptions(s, &show->where, true);
  s->add_flag("--json", show->json, "Machine-readable output");
  s->callback([run, show] { *run = [show] { return RunShow(*show, std::cout, std::cerr); }; });

  for (bool resolve : {false, true}) {
    auto change = std::make_shared<ChangeOptions>();
    auto* c = esc->add_subcommand(resolve ? "resolve" : "ack",
                                  resolve ? "Mark an open or acknowledged escalation resolved"
                                          : "Acknowledge an open escalation");
    c->add_option("id", change->id, "Escalation id")->required();
    c->add_option("--by", change->by, "Who (default $USER)");
    c->add_option("--note", change->note, "A note kept in the history");
    AddStateOptions(c, &change->where, true);
    c->callback([run, change, resolve] {
      *run = [change, resolve] { return RunChange(*change, resolve, std::cout, std::cerr); };
    });
  }
}

}  // namespace reflex::cli
