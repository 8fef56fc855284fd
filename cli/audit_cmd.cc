// reflex audit list: who changed what, and when (actions/audit.h), through the REST API,
// the console or these commands.
//
//   reflex audit list [--actor NAME] [--action A] [--target T] [--since RFC3339]
//                     [--limit N] [--json]                  + state options
//
// Exit codes: 0 ok; 2 usage or I/O (including a missing database: never created here).
#include <algorithm>
#include <array>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modules.h"
#include "reflex/actions/audit.h"
#include "reflex/base/time.h"
#include "state_options.h"

namespace reflex::cli {
namespace {

struct ListOptions {
  app::StateFlags where;
  std::string actor, action, target, since;
  size_t limit = 100;
  bool json = false;
};

int RunList(const ListOptions& o, std::ostream& out, std::ostream& err) {
  actions::AuditFilter f;
  f.limit = o.limit;
  if (!o.actor.empty()) f.actor = o.actor;
  if (!o.action.empty()) f.action = o.action;
  if (!o.target.empty()) f.target = o.target;
  if (!o.since.empty()) {
    auto t = base::ParseRfc3339Millis(o.since);
    if (!t.ok()) {
      err << "audit list: --since: " << t.status().message() << "\n";
      return 2;
    }
    f.since_ms = *t;
  }
  auto loc = ResolveState(o.where, "audit list", err);
  if (!loc) return 2;
  auto audit = app::OpenExistingAudit(*loc);
  if (!audit.ok()) {
    err << "audit list: " << audit.status().message() << "\n";
    return 2;
  }
  auto entries = (*audit)->List(f);
  if (!entries.ok()) {
    err << "audit list: " << entries.status().message() << "\n";
    return 2;
  }
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *entries) arr.push_back(nlohmann::json::parse(actions::AuditEntryJson(e)));
    out << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (entries->empty()) {
    out << "no audit entries in " << loc->DescribeDb() << "\n";
    return 0;
  }
  // Columns as wide as their widest cell, two spaces apart; the detail (free text) last.
  std::vector<std::array<std::string, 7>> rows{
      {"AT", "ACTOR", "VIA", "ACTION", "TARGET", "OUTCOME", "DETAIL"}};
  for (const auto& e : *entries) {
    rows.push_back({base::FormatRfc3339Millis(e.at_ms),
                    e.role.empty() ? e.actor : e.actor + " (" + e.role + ")", e.via, e.action,
                    e.target, e.outcome, e.detail});
  }
  std::array<size_t, 7> width{};
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i + 1 < r.size(); ++i)
      line += r[i] + std::string(width[i] - r[i].size() + 2, ' ');
    line += r.back();
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  }
  return 0;
}

}  // namespace

void AddAuditCommands(CLI::App& app, Runner* run) {
  auto* audit = app.add_subcommand(
      "audit", "Who changed what and when: escalations, approvals, silences, rules (list)");
  audit->require_subcommand(1);
  auto list = std::make_shared<ListOptions>();
  auto* l = audit->add_subcommand("list", "Audit entries, newest first");
  l->add_option("--actor", list->actor, "Only this person or token name");
  l->add_option("--action", list->action,
                "Only this action (escalation.ack, ...), or a prefix ending in '.' (escalation.)");
  l->add_option("--target", list->target, "Only this target (escalation/12, run/7, ...)");
  l->add_option("--since", list->since, "Only entries at or after this time (RFC 3339)");
  l->add_option("--limit", list->limit, "At most this many entries (default 100)")
      ->check(CLI::Range(1, 1000000));
  AddStateOptions(l, &list->where, true);
  l->add_flag("--json", list->json, "Machine-readable output");
  l->callback([run, list] { *run = [list] { return RunList(*list, std::cout, std::cerr); }; });
}

}  // namespace reflex::cli
