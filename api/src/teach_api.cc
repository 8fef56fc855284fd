// The teach routes (rules/teach.h over HTTP) and POST /api/v1/rules/validate.
//
//   GET  /api/v1/escalations/{id}/teach?table=    a draft row from the escalation's sample
//   POST /api/v1/escalations/{id}/teach/check     {"table", "cells": [...]}: what saving would do
//   POST /api/v1/escalations/{id}/teach           the same body (+ "note"): save, reload,
//                                                 resolve the escalation              admin
//   POST /api/v1/rules/validate?file=disk.csv     a table file as the body: `reflex check` on
//                                                 the rules directory with it
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api_internal.h"
#include "reflex/api/rest_api.h"
#include "reflex/base/durability.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/teach.h"
#include "reflex/rules/test_cases.h"
#include "reflex/rules/xlsx.h"

namespace reflex::api {

namespace {

nlohmann::json DiagnosticJson(const rules::Diagnostic& d) {
  return {{"severity", d.severity == rules::Severity::kError ? "error" : "warning"},
          {"file", d.file},
          {"line", d.line},
          {"column", d.column},
          {"message", d.message},
          {"text", d.ToString()}};
}

// `path` relative to the rules directory when it is inside it.
std::string Relative(const std::string& dir, const std::string& path) {
  const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  return path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : path;
}

std::string_view HeaderKindName(rules::HeaderKind k) {
  switch (k) {
    case rules::HeaderKind::kId:
      return "id";
    case rules::HeaderKind::kCondition:
      return "condition";
    case rules::HeaderKind::kAction:
      return "action";
    case rules::HeaderKind::kParam:
      return "param";
    case rules::HeaderKind::kPriority:
      return "priority";
    case rules::HeaderKind::kRunbook:
      return "runbook";
    case rules::HeaderKind::kDescription:
      return "description";
    case rules::HeaderKind::kNone:
      break;
  }
  return "none";
}

nlohmann::json CheckJson(const rules::TeachCheck& c, const std::string& dir) {
  nlohmann::json j;
  j["ok"] = c.ok;
  j["problems"] = c.problems;
  j["notes"] = c.notes;
  j["table"] = c.table;
  j["row"] = c.row_id;
  j["file"] = Relative(dir, c.table_file);
  j["line"] = c.line;
  j["csv_line"] = c.csv_line;
  j["cases_file"] = Relative(dir, c.cases_file);
  j["version"] = c.version;
  nlohmann::json diags = nlohmann::json::array();
  for (const rules::Diagnostic& d : c.diagnostics) diags.push_back(DiagnosticJson(d));
  j["diagnostics"] = std::move(diags);
  nlohmann::json samples = nlohmann::json::array();
  for (const rules::TeachSample& s : c.samples) {
    nlohmann::json sj{{"event_id", s.event_id},
                      {"verdict", engine::VerdictName(s.verdict)},
                      {"rows", s.rows},
                      {"by_row", s.by_row}};
    if (!s.error.empty()) sj["error"] = s.error;
    samples.push_back(std::move(sj));
  }
  j["samples"] = std::move(samples);
  j["cases"] = {
      {"passed", c.cases_passed}, {"failed", c.cases_failed}, {"failures", c.case_failures}};
  return j;
}

// The body of check and save: {"table": "...", "cells": ["...", ...], "note": "..."}.
struct TeachBody {
  std::string table, note, error;
  std::vector<std::string> cells;
};
TeachBody ReadTeachBody(const std::string& text, bool allow_note) {
  TeachBody b;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    b.error = "the body must be a JSON object";
    return b;
  }
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    const nlohmann::json& v = item.value();
    if (key == "table" || (key == "note" && allow_note)) {
      if (!v.is_string()) {
        b.error = key + ": expected a string";
        return b;
      }
      (key == "table" ? b.table : b.note) = v.get<std::string>();
    } else if (key == "cells") {
      if (!v.is_array()) {
        b.error = "cells: expected an array of strings";
        return b;
      }
      for (const auto& cell : v) {
        if (!cell.is_string()) {
          b.error = "cells: expected an array of strings";
          return b;
        }
        b.cells.push_back(cell.get<std::string>());
      }
    } else {
      b.error = "unknown field '" + key + "'";
      return b;
    }
  }
  if (b.table.empty()) b.error = "table: required";
  return b;
}

}  // namespace

ApiResponse RestApi::Teach(Call& call, int64_t id, const std::string& verb) {
  const std::string route = verb == "draft"   ? "/api/v1/escalations/{id}/teach"
                            : verb == "check" ? "/api/v1/escalations/{id}/teach/check"
                                              : "/api/v1/escalations/{id}/teach";
  if (options_.escalations == nullptr || options_.rules == nullptr) {
    return Error(503, "no escalation store or live rule set", route);
  }
  const std::string dir = options_.rules->rules_dir();
  auto group = options_.escalations->Get(id);
  if (!group.ok()) return Failed(group.status(), route);
  // The samples to teach from: unknown events kept whole.
  std::vector<std::string> samples;
  for (const actions::EscalationSample& s : group->samples) {
    if (!s.truncated) samples.push_back(s.event);
  }
  auto refuse = [&]() -> std::optional<ApiResponse> {
    if (group->kind != actions::EscalationKind::kUnknownEvent) {
      return Error(409,
                   "escalation " + std::to_string(id) + " is " +
                       std::string(actions::kEscalationKindNames.Name(group->kind)) +
                       ": only unknown events are taught",
                   route);
    }
    if (samples.empty()) {
      return Error(409,
                   "escalation " + std::to_string(id) +
                       " keeps no whole sample event (samples cut by "
                       "escalations.max_sample_bytes cannot be taught from)",
                   route);
    }
    return std::nullopt;
  };
  const std::string case_name = "taught from escalation " + std::to_string(id);
  rules::DiskSource disk;

  if (verb == "draft") {
    if (auto r = refuse()) return *r;
    auto d = rules::DraftTeachRow(disk, dir, samples.back(), call.Param("table"),
                                  "taught from escalation " + std::to_string(id), Now());
    if (!d.ok()) return Failed(d.status(), route);
    nlohmann::json j;
    j["escalation"] = id;
    j["table"] = d->table;
    j["file"] = Relative(dir, d->file);
    j["nearest_row"] = d->nearest_row;
    j["tables"] = d->tables;
    nlohmann::json columns = nlohmann::json::array();
    for (const rules::TeachColumn& c : d->columns) {
      nlohmann::json cj{
          {"header", c.header}, {"kind", HeaderKindName(c.kind)}, {"nearest", c.nearest}};
      if (c.kind == rules::HeaderKind::kCondition) {
        cj["observed"] = c.missing ? nlohmann::json(nullptr) : nlohmann::json(c.observed);
        cj["prefilled"] = c.prefilled;
      }
      columns.push_back(std::move(cj));
    }
    j["columns"] = std::move(columns);
    j["cells"] = d->cells;
    nlohmann::json actions = nlohmann::json::array();
    for (const auto& [name, params] : d->catalog) {
      actions.push_back({{"name", name}, {"params", params}});
    }
    for (const char* builtin : {"escalate", "ignore"}) {
      actions.push_back({{"name", builtin}, {"params", nlohmann::json::array()}});
    }
    j["catalog"] = {{"has_catalog", d->has_catalog}, {"actions", std::move(actions)}};
    j["samples"] = samples.size();
    return Answer(200, Dump(j), route);
  }

  TeachBody body = ReadTeachBody(call.req.body, verb == "save");
  const std::string target = "rules/" + body.table + "/";
  if (verb == "check") {
    if (!body.error.empty()) return Error(400, body.error, route);
    if (auto r = refuse()) return *r;
    auto c = rules::CheckTeachRow(disk, dir, body.table, body.cells, samples, case_name, Now());
    if (!c.ok()) return Failed(c.status(), route);
    return Answer(200, Dump(CheckJson(*c, dir)), route);
  }

  // Save: check again under the lock, write both files, reload, resolve the escalation.
  ApiResponse r;
  const std::string before_version = options_.rules->version();
  nlohmann::json before{
      {"version", before_version},
      {"escalation", nlohmann::json::parse(actions::EscalationStateJson(*group), nullptr, false)}};
  std::string after, row_target = target;
  if (!RoleAllows(call.who->role, ApiRole::kAdmin)) {
    r = Forbidden(call, "teach rules", ApiRole::kAdmin, route);
  } else if (!body.error.empty()) {
    r = Error(400, body.error, route);
  } else if (auto refused = refuse()) {
    r = *refused;
  } else {
    std::lock_guard<std::mutex> lock(teach_mu_);
    auto c = rules::CheckTeachRow(disk, dir, body.table, body.cells, samples, case_name, Now());
    if (!c.ok()) {
      r = Failed(c.status(), route);
    } else if (!c->ok) {
      std::string why;
      for (const std::string& p : c->problems) why += (why.empty() ? "" : "; ") + p;
      r = Error(409, "the row is not saved: " + why, route);
      nlohmann::json e = nlohmann::json::parse(r.body);
      e["check"] = CheckJson(*c, dir);
      r.body = Dump(e);
    } else {
      row_target += c->row_id;
      auto old_table = disk.Read(c->table_file);
      auto old_cases = disk.Read(c->cases_file);
      Status w = old_table.ok() ? base::WriteFileAtomic(c->table_file, c->table_text,
                                                        base::Durability::kNormal)
                                : old_table.status();
      if (w.ok()) {
        w = base::WriteFileAtomic(c->cases_file, c->cases_text, base::Durability::kNormal);
      }
      connectors::ReloadResult reload;
      if (w.ok()) reload = options_.rules->Reload("api-teach");
      if (!w.ok() || !reload.ok()) {
        // Put both files back as they were: the running set never changed.
        if (old_table.ok()) {
          (void)base::WriteFileAtomic(c->table_file, *old_table, base::Durability::kNormal);
        }
        if (old_cases.ok()) {
          (void)base::WriteFileAtomic(c->cases_file, *old_cases, base::Durability::kNormal);
        } else {
          std::error_code ec;
          std::filesystem::remove(c->cases_file, ec);
        }
        r = !w.ok() ? Failed(w, route)
                    : Error(409,
                            "the rules directory with the row did not go live; nothing was "
                            "changed: " +
                                (reload.diagnostics.empty() ? reload.validation.message()
                                                            : reload.diagnostics.front()),
                            route);
      } else {
        const std::string where = Relative(dir, c->table_file) + ":" + std::to_string(c->line);
        const std::string note =
            body.note.empty()
                ? "taught row " + c->table + "/" + c->row_id + " (" + where + ", rule set " +
                      reload.new_version + ")"
                : body.note + " (taught row " + c->table + "/" + c->row_id + " at " + where + ")";
        Status resolved = group->state == actions::EscalationState::kResolved
                              ? Status::Ok()
                              : options_.escalations->Resolve(id, call.who->name, note);
        auto now = options_.escalations->Get(id);
        nlohmann::json j;
        j["table"] = c->table;
        j["row"] = c->row_id;
        j["file"] = Relative(dir, c->table_file);
        j["line"] = c->line;
        j["cases_file"] = Relative(dir, c->cases_file);
        j["version"] = options_.rules->version();
        j["previous_version"] = before_version;
        j["resolved"] = resolved.ok();
        if (!resolved.ok()) j["resolve_error"] = resolved.message();
        if (now.ok()) {
          j["escalation"] =
              nlohmann::json::parse(actions::EscalationGroupJson(*now), nullptr, false);
        }
        after = Dump(nlohmann::json{{"version", options_.rules->version()},
                                    {"file", Relative(dir, c->table_file)},
                                    {"line", c->line},
                                    {"row", c->row_id},
                                    {"escalation", id}});
        r = Answer(200, Dump(j), route);
      }
    }
  }
  Record(call, "rules.teach", row_target, r, body.note, Dump(before), after);
  return r;
}

ApiResponse RestApi::Validate(Call& call) {
  const std::string route = "/api/v1/rules/validate";
  if (options_.rules == nullptr) return Error(503, "no live rule set", route);
  const std::string name = call.Param("file");
  const bool table_name = name.ends_with(".csv") || name.ends_with(".yaml") ||
                          name.ends_with(".yml") || rules::IsXlsxFile(name);
  if (name.empty() || name.find('/') != std::string::npos || name[0] == '.' || !table_name) {
    return Error(400,
                 "file: a table file name in tables/ (disk.csv, noise.yaml, ops.xlsx, "
                 "disk.cases.csv), got '" +
                     name + "'",
                 route);
  }
  const std::string dir = options_.rules->rules_dir();
  const std::string path = rules::JoinPath(rules::JoinPath(dir, "tables"), name);
  rules::DiskSource disk;
  rules::OverlaySource over(disk);
  over.Put(path, call.req.body);
  rules::LoadedRules lr = rules::LoadRules(over, dir);
  nlohmann::json j;
  j["file"] = "tables/" + name;
  j["version"] = lr.version;
  nlohmann::json diags = nlohmann::json::array();
  size_t errors = 0;
  for (const rules::Diagnostic& d : lr.diags.Sorted()) {
    // Every error (the file may break another one: a duplicate table name), and the
    // warnings about this file.
    if (d.severity == rules::Severity::kError) ++errors;
    if (d.severity == rules::Severity::kError || d.file.rfind(path, 0) == 0) {
      diags.push_back(DiagnosticJson(d));
    }
  }
  if (errors == 0) {
    rules::Diagnostics compile_diags;
    const size_t tables = lr.tables.size();
    if (rules::Compile(std::move(lr), &compile_diags) == nullptr) {
      for (const rules::Diagnostic& d : compile_diags.items()) {
        ++errors;
        diags.push_back(DiagnosticJson(d));
      }
    }
    j["tables"] = tables;
  }
  j["ok"] = errors == 0;
  j["errors"] = errors;
  j["diagnostics"] = std::move(diags);
  return Answer(200, Dump(j), route);
}

}  // namespace reflex::api
