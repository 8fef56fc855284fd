// reflex store migrate | status: the schema versions of the durable stores (journal,
// escalations, notice outbox, silences, audit log; on PostgreSQL the rule history too) in the
// database `storage.store` names — the SQLite state file, or the PostgreSQL database the
// replicas share (actions/store_schema.h).
//
//   reflex store migrate [--json]   + state options   apply what the database lacks
//   reflex store status  [--json]   + state options   show the versions, change nothing
//
// `reflex run` applies the same migrations when it starts; `migrate` does it ahead of a
// rolling upgrade, once, so replicas of the new version start without waiting on each other.
// Exit codes: 0 ok (status: every store at this binary's version); 1 status: a store is
// behind (run `reflex store migrate`); 2 usage, I/O, an unreachable database or a database
// newer than this binary.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "modules.h"
#include "reflex/actions/store_schema.h"
#include "state_options.h"

namespace reflex::cli {
namespace {

struct StoreOptions {
  app::StateFlags where;
  bool json = false;
};

void Print(const std::vector<actions::StoreSchemaVersion>& versions, bool migrated, bool json,
           std::ostream& out) {
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& v : versions) {
      nlohmann::json j = {{"component", v.component}, {"version", v.after}, {"known", v.known}};
      if (migrated) j["before"] = v.before;
      arr.push_back(std::move(j));
    }
    out << arr.dump(2) << "\n";
    return;
  }
  for (const auto& v : versions) {
    std::string line =
        v.component + std::string(16 - std::min<size_t>(15, v.component.size()), ' ');
    if (migrated) {
      line += v.before == v.after
                  ? "version " + std::to_string(v.after) + " (up to date)"
                  : "version " + std::to_string(v.before) + " -> " + std::to_string(v.after);
    } else {
      line += "version " + std::to_string(v.after) +
              (v.after == v.known  ? " (up to date)"
               : v.after < v.known ? " (this reflex knows " + std::to_string(v.known) +
                                         ": run `reflex store migrate`)"
                                   : " (newer than this reflex, which knows " +
                                         std::to_string(v.known) + ": upgrade reflex)");
    }
    out << line << "\n";
  }
}

int Run(const StoreOptions& o, bool migrate, std::ostream& out, std::ostream& err) {
  const std::string command = migrate ? "store migrate" : "store status";
  auto loc = ResolveState(o.where, command, err);
  if (!loc) return 2;
  auto versions =
      migrate ? actions::MigrateStores(loc->storage.store, loc->db_path, loc->storage.durability)
              : actions::StoreVersions(loc->storage.store, loc->db_path);
  if (!versions.ok()) {
    err << command << ": " << versions.status().message() << "\n";
    return 2;
  }
  if (!o.json) {
    out << (loc->storage.store.kind == base::StoreKind::kPostgresql
                ? std::string("PostgreSQL (storage.store)")
                : loc->DescribeDb())
        << "\n";
  }
  Print(*versions, migrate, o.json, out);
  if (migrate) return 0;
  for (const auto& v : *versions) {
    if (v.after > v.known) return 2;
  }
  for (const auto& v : *versions) {
    if (v.after < v.known) return 1;
  }
  return 0;
}

}  // namespace

void AddStoreCommands(CLI::App& app, Runner* run) {
  auto* store = app.add_subcommand(
      "store", "Schema versions of the durable stores in the state database (migrate, status)");
  store->require_subcommand(1);
  auto migrate = std::make_shared<StoreOptions>();
  auto* m = store->add_subcommand(
      "migrate", "Apply the schema versions the database lacks (as `reflex run` does at start)");
  AddStateOptions(m, &migrate->where, true);
  m->add_flag("--json", migrate->json, "Machine-readable output");
  m->callback(
      [run, migrate] { *run = [migrate] { return Run(*migrate, true, std::cout, std::cerr); }; });
  auto status = std::make_shared<StoreOptions>();
  auto* s = store->add_subcommand("status", "Show each store's schema version; change nothing");
  AddStateOptions(s, &status->where, true);
  s->add_flag("--json", status->json, "Machine-readable output");
  s->callback(
      [run, status] { *run = [status] { return Run(*status, false, std::cout, std::cerr); }; });
}

}  // namespace reflex::cli
