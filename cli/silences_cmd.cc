// reflex silences add | list | expire: mute alerts for a time, as amtool does for
// Alertmanager (docs/silences.md).
//
//   reflex silences add <matchers...> [--duration 2h | --end RFC3339] [--start RFC3339]
//                       [--author NAME] --comment TEXT        + state options
//   reflex silences list [--state active|pending|expired|all] [--json]   + state options
//   reflex silences expire <id>...                             + state options
// Matchers as amtool takes them: `alertname=DiskFull 'instance=~"db-.*"'`, or one argument
// `{alertname="DiskFull",instance=~"db-.*"}`; a first argument without an operator is the
// alertname (`reflex silences add DiskFull ...`). The default duration is 1h; the default
// author $USER. State options: --config FILE, --state-dir DIR, --db FILE (state_options.h):
// the database `reflex run` uses, which must exist (these commands never create one).
//
// Exit codes: 0 ok; 1 a silence that is refused (bad matchers, times, no comment), no such
// silence, or one already expired; 2 usage or I/O (including a missing database).
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "modules.h"
#include "reflex/actions/silence_store.h"
#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/silence.h"
#include "state_options.h"

namespace reflex::cli {
namespace {

using engine::Silence;

struct AddOptions {
  app::StateFlags where;
  std::vector<std::string> matchers;
  std::string duration;
  std::string start;
  std::string end;
  std::string author;
  std::string comment;
};

struct ListOptions {
  app::StateFlags where;
  std::string state = "current";
  bool json = false;
};

struct ExpireOptions {
  app::StateFlags where;
  std::vector<std::string> ids;
  std::string by;
};

int ExitFor(const engine::Status& s) {
  switch (s.code()) {
    case engine::StatusCode::kInvalidArgument:
    case engine::StatusCode::kNotFound:
    case engine::StatusCode::kFailedPrecondition:
    case engine::StatusCode::kAlreadyExists:
      return 1;
    default:
      return 2;
  }
}

engine::Result<std::unique_ptr<actions::SilenceStore>> OpenStore(
    const app::StateFlags& flags, app::StateLocation* where = nullptr) {
  auto loc = app::ResolveStateLocation(flags, base::SystemEnv());
  if (!loc.ok()) return loc.status();
  if (where != nullptr) *where = *loc;
  auto store = app::OpenExistingSilences(*loc);
  // No database there is a usage problem (exit 2), not a missing silence.
  if (!store.ok() && store.status().code() == engine::StatusCode::kNotFound) {
    return engine::Unavailable(store.status().message());
  }
  return store;
}

// The matcher arguments as one text; a first argument without an operator is the alertname.
engine::Result<std::vector<engine::LabelMatcher>> ArgMatchers(
    const std::vector<std::string>& args) {
  std::vector<std::string> parts = args;
  if (!parts.empty() && parts[0].find_first_of("=~!{") == std::string::npos) {
    parts[0] = engine::LabelMatcher{"alertname", parts[0], false, true}.ToString();
  }
  auto m = engine::ParseMatchers(base::Join(parts, " "));
  if (!m.ok()) return engine::InvalidArgument("matchers: " + m.status().message());
  return m;
}

int RunAdd(const AddOptions& o, std::ostream& out, std::ostream& err) {
  const int64_t now = engine::SystemClock().NowMillis();
  Silence s;
  auto m = ArgMatchers(o.matchers);
  if (!m.ok()) {
    err << "silences add: " << m.status().message() << "\n";
    return 1;
  }
  s.matchers = std::move(*m);
  s.starts_at_ms = now;
  if (!o.start.empty()) {
    auto t = base::ParseRfc3339Millis(o.start);
    if (!t.ok()) {
      err << "silences add: --start: " << t.status().message() << "\n";
      return 2;
    }
    s.starts_at_ms = *t;
  }
  if (!o.end.empty()) {
    auto t = base::ParseRfc3339Millis(o.end);
    if (!t.ok()) {
      err << "silences add: --end: " << t.status().message() << "\n";
      return 2;
    }
    s.ends_at_ms = *t;
  } else {
    auto d = base::ParseDurationMs(o.duration.empty() ? "1h" : o.duration);
    if (!d.ok() || *d <= 0) {
      err << "silences add: --duration: " << (d.ok() ? "must be positive" : d.status().message())
          << "\n";
      return 2;
    }
    s.ends_at_ms = s.starts_at_ms + *d;
  }
  s.created_by = WhoIs(o.author);
  s.comment = o.comment;
  app::StateLocation where;
  auto store = OpenStore(o.where, &where);
  if (!store.ok()) {
    err << "silences add: " << store.status().message() << "\n";
    return 2;
  }
  const std::string actor = s.created_by, comment = s.comment;
  auto id = (*store)->Add(std::move(s));
  if (!id.ok()) {
    err << "silences add: " << id.status().message() << "\n";
    return ExitFor(id.status());
  }
  auto added = (*store)->Get(*id);
  AuditChange(where,
              {.actor = actor,
               .action = "silence.add",
               .target = "silence/" + *id,
               .detail = comment,
               .after = added.ok() ? engine::SilenceJson(*added, now) : ""},
              err);
  out << *id << "\n";
  return 0;
}

int RunList(const ListOptions& o, std::ostream& out, std::ostream& err) {
  auto store = OpenStore(o.where);
  if (!store.ok()) {
    err << "silences list: " << store.status().message() << "\n";
    return 2;
  }
  auto all = (*store)->List();
  if (!all.ok()) {
    err << "silences list: " << all.status().message() << "\n";
    return 2;
  }
  const int64_t now = engine::SystemClock().NowMillis();
  std::vector<const Silence*> shown;
  for (const auto& s : *all) {
    const std::string_view state = engine::kSilenceStateNames.Name(engine::StateAt(s, now));
    if (o.state == "all" || state == o.state || (o.state == "current" && state != "expired")) {
      shown.push_back(&s);
    }
  }
  if (o.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const Silence* s : shown)
      arr.push_back(nlohmann::json::parse(engine::SilenceJson(*s, now)));
    out << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return 0;
  }
  if (shown.empty()) {
    out << "no " << (o.state == "current" ? "active or pending" : o.state) << " silences\n";
    return 0;
  }
  out << std::left << std::setw(38) << "ID" << std::setw(9) << "STATE" << std::setw(26) << "STARTS"
      << std::setw(26) << "ENDS" << std::setw(12) << "AUTHOR"
      << "MATCHERS / COMMENT\n";
  for (const Silence* s : shown) {
    std::vector<std::string> ms;
    for (const auto& m : s->matchers) ms.push_back(m.ToString());
    out << std::left << std::setw(38) << s->id << std::setw(9)
        << engine::kSilenceStateNames.Name(engine::StateAt(*s, now)) << std::setw(26)
        << base::FormatRfc3339Millis(s->starts_at_ms) << std::setw(26)
        << base::FormatRfc3339Millis(s->ends_at_ms) << std::setw(12) << s->created_by << "{"
        << base::Join(ms, ", ") << "}  " << s->comment << "\n";
  }
  return 0;
}

int RunExpire(const ExpireOptions& o, std::ostream& out, std::ostream& err) {
  app::StateLocation where;
  auto store = OpenStore(o.where, &where);
  if (!store.ok()) {
    err << "silences expire: " << store.status().message() << "\n";
    return 2;
  }
  int rc = 0;
  for (const auto& id : o.ids) {
    auto before = (*store)->Get(id);
    if (engine::Status s = (*store)->Expire(id); !s.ok()) {
      err << "silences expire: " << s.message() << "\n";
      rc = std::max(rc, ExitFor(s));
      continue;
    }
    const int64_t now = engine::SystemClock().NowMillis();
    auto after = (*store)->Get(id);
    AuditChange(where,
                {.actor = WhoIs(o.by),
                 .action = "silence.expire",
                 .target = "silence/" + id,
                 .before = before.ok() ? engine::SilenceJson(*before, now) : "",
                 .after = after.ok() ? engine::SilenceJson(*after, now) : ""},
                err);
    out << "silence " << id << " expired\n";
  }
  return rc;
}

}  // namespace

void AddSilenceCommands(CLI::App& app, Runner* run) {
  auto* sil = app.add_subcommand(
      "silences", "Mute alerts matching label matchers for a time (add, list, expire)");
  sil->require_subcommand(1);

  auto add = std::make_shared<AddOptions>();
  auto* a = sil->add_subcommand("add", "Add a silence; prints its id");
  a->add_option("matchers", add->matchers,
                "Label matchers: alertname=X 'instance=~\"db-.*\"' severity!=info, or "
                "'{...}'; a first word without an operator is the alertname")
      ->required();
  auto* dur = a->add_option("-d,--duration", add->duration, "How long from the start (default 1h)");
  a->add_option("--end", add->end, "End time (RFC 3339)")->excludes(dur);
  a->add_option("--start", add->start, "Start time (RFC 3339; default now)");
  a->add_option("-a,--author", add->author, "Who adds it (default $USER)");
  a->add_option("--comment", add->comment, "Why (required)")->required();
  AddStateOptions(a, &add->where, true);
  a->callback([run, add] { *run = [add] { return RunAdd(*add, std::cout, std::cerr); }; });

  auto list = std::make_shared<ListOptions>();
  auto* l = sil->add_subcommand("list", "List silences (default: active and pending)");
  l->add_option("--state", list->state, "active, pending, expired or all")
      ->check(CLI::IsMember({"active", "pending", "expired", "all", "current"}));
  l->add_flag("--json", list->json, "Alertmanager API v2 form (GettableSilence)");
  AddStateOptions(l, &list->where, true);
  l->callback([run, list] { *run = [list] { return RunList(*list, std::cout, std::cerr); }; });

  auto expire = std::make_shared<ExpireOptions>();
  auto* e = sil->add_subcommand("expire", "End silences now");
  e->add_option("id", expire->ids, "Silence id(s)")->required();
  e->add_option("--by", expire->by, "Who expires them, for the audit log (default $USER)");
  AddStateOptions(e, &expire->where, true);
  e->callback(
      [run, expire] { *run = [expire] { return RunExpire(*expire, std::cout, std::cerr); }; });
}

}  // namespace reflex::cli
