#include "reflex/api/rest_api.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "api_internal.h"
#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "reflex/engine/explain.h"
#include "reflex/engine/silence.h"

namespace reflex::api {

const std::string& OpenApiDocument();

RestApi::RestApi(RestApiOptions options) : options_(std::move(options)) {}

int64_t RestApi::Now() const {
  return options_.clock != nullptr ? options_.clock->NowMillis() : system_clock_.NowMillis();
}

ApiResponse RestApi::Handle(const ApiRequest& req) {
  if (req.path == "/api/v1/openapi.json") {
    if (req.method != "GET") return Error(405, "use GET", "/api/v1/openapi.json");
    return Answer(200, OpenApiDocument(), "/api/v1/openapi.json");
  }
  Call call{req};
  // The token: compared with every configured one in constant time (no early exit), so the
  // answer's timing does not tell how much of a guess was right.
  constexpr std::string_view kBearer = "Bearer ";
  if (req.authorization.size() > kBearer.size() &&
      std::equal(kBearer.begin(), kBearer.end(), req.authorization.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    const std::string_view given = std::string_view(req.authorization).substr(kBearer.size());
    for (const ApiToken& t : options_.tokens) {
      if (t.token.size() == given.size() &&
          CRYPTO_memcmp(t.token.data(), given.data(), given.size()) == 0) {
        call.who = &t;
      }
    }
  }
  if (call.who == nullptr) {
    ApiResponse r = Error(401,
                          req.authorization.empty()
                              ? "this API needs Authorization: Bearer <token> (http.api_tokens)"
                              : "unknown token",
                          "");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"reflex\"");
    return r;
  }
  ApiResponse r = Route(call);
  if (r.route.empty()) r.route = "/api/v1/{unknown}";
  return r;
}

ApiResponse RestApi::Route(Call& call) {
  std::vector<std::string> parts;
  for (std::string_view p : base::Split(std::string_view(call.req.path).substr(7), '/')) {
    if (!p.empty()) parts.emplace_back(p);
  }
  const std::string& m = call.req.method;
  auto only = [&](const char* method, const char* route) -> std::optional<ApiResponse> {
    if (m == method) return std::nullopt;
    ApiResponse r = Error(405, "use " + std::string(method), route);
    r.headers.emplace_back("Allow", method);
    return r;
  };
  if (parts.size() == 1 && parts[0] == "whoami") {
    if (auto r = only("GET", "/api/v1/whoami")) return *r;
    nlohmann::json j;
    j["name"] = call.who->name;
    j["role"] = connectors::kApiRoleNames.Name(call.who->role);
    return Answer(200, Dump(j), "/api/v1/whoami");
  }
  if (!parts.empty() && parts[0] == "escalations") {
    if (parts.size() == 1) {
      if (auto r = only("GET", "/api/v1/escalations")) return *r;
      return Escalations(call);
    }
    auto id = ParseId(parts[1]);
    if (!id) return Error(404, "no escalation '" + parts[1] + "'", "/api/v1/escalations/{id}");
    if (parts.size() == 2) {
      if (auto r = only("GET", "/api/v1/escalations/{id}")) return *r;
      return Escalation(call, *id, "");
    }
    if (parts.size() == 3 && parts[2] == "teach") {
      if (m != "GET" && m != "POST") {
        ApiResponse r = Error(405, "use GET or POST", "/api/v1/escalations/{id}/teach");
        r.headers.emplace_back("Allow", "GET, POST");
        return r;
      }
      return Teach(call, *id, m == "GET" ? "draft" : "save");
    }
    if (parts.size() == 4 && parts[2] == "teach" && parts[3] == "check") {
      if (auto r = only("POST", "/api/v1/escalations/{id}/teach/check")) return *r;
      return Teach(call, *id, "check");
    }
    if (parts.size() == 3 && (parts[2] == "ack" || parts[2] == "resolve")) {
      const std::string route = "/api/v1/escalations/{id}/" + parts[2];
      if (auto r = only("POST", route.c_str())) return *r;
      return Escalation(call, *id, parts[2]);
    }
  }
  if (!parts.empty() && parts[0] == "approvals") {
    if (parts.size() == 1) {
      if (auto r = only("GET", "/api/v1/approvals")) return *r;
      return Approvals(call);
    }
    auto id = ParseId(parts[1]);
    if (!id) return Error(404, "no action run '" + parts[1] + "'", "/api/v1/approvals/{id}");
    if (parts.size() == 2) {
      if (auto r = only("GET", "/api/v1/approvals/{id}")) return *r;
      return Approval(call, *id, "");
    }
    if (parts.size() == 3 && (parts[2] == "approve" || parts[2] == "reject")) {
      const std::string route = "/api/v1/approvals/{id}/" + parts[2];
      if (auto r = only("POST", route.c_str())) return *r;
      return Approval(call, *id, parts[2]);
    }
  }
  if (parts.size() == 1 && parts[0] == "audit") {
    if (auto r = only("GET", "/api/v1/audit")) return *r;
    return Audit(call);
  }
  if (!parts.empty() && parts[0] == "silences") {
    if (parts.size() == 1) {
      if (m != "GET" && m != "POST") {
        ApiResponse r = Error(405, "use GET or POST", "/api/v1/silences");
        r.headers.emplace_back("Allow", "GET, POST");
        return r;
      }
      return Silences(call);
    }
    if (parts.size() == 2) {
      if (auto r = only("DELETE", "/api/v1/silences/{id}")) return *r;
      return SilenceExpire(call, parts[1]);
    }
  }
  if (parts.size() == 1 && parts[0] == "decisions") {
    if (auto r = only("GET", "/api/v1/decisions")) return *r;
    return Decisions(call);
  }
  if (parts.size() == 1 && parts[0] == "explain") {
    if (auto r = only("POST", "/api/v1/explain")) return *r;
    return Explain(call);
  }
  if (!parts.empty() && parts[0] == "rules") {
    if (parts.size() == 1) {
      if (auto r = only("GET", "/api/v1/rules")) return *r;
      return Rules(call);
    }
    if (parts.size() == 2 && parts[1] == "history") {
      if (auto r = only("GET", "/api/v1/rules/history")) return *r;
      return RuleHistory(call);
    }
    if (parts.size() == 2 && parts[1] == "validate") {
      if (auto r = only("POST", "/api/v1/rules/validate")) return *r;
      return Validate(call);
    }
    if (parts.size() == 2 && (parts[1] == "reload" || parts[1] == "rollback")) {
      const std::string route = "/api/v1/rules/" + parts[1];
      if (auto r = only("POST", route.c_str())) return *r;
      return RulesChange(call, parts[1]);
    }
  }
  return Error(404, "no such endpoint: " + m + " " + call.req.path, "");
}

ApiResponse RestApi::Escalations(Call& call) {
  const std::string route = "/api/v1/escalations";
  if (options_.escalations == nullptr) return Error(503, "no escalation store", route);
  actions::EscalationFilter f;
  f.limit = kDefaultLimit;
  const std::string state = call.Has("state") ? call.Param("state") : "open";
  if (state != "all") {
    auto s = actions::ParseEscalationState(state);
    if (!s.ok()) return Error(400, "state: " + s.status().message(), route);
    f.state = *s;
  }
  if (call.Has("kind")) {
    auto k = actions::ParseEscalationKind(call.Param("kind"));
    if (!k.ok()) return Error(400, "kind: " + k.status().message(), route);
    f.kind = *k;
  }
  f.fingerprint = call.Param("fingerprint");
  f.shape_contains = call.Param("q");
  if (auto e = ReadLimit(call.Param("limit"), &f.limit)) return Error(400, *e, route);
  if (auto e = ReadTime("since", call.Param("since"), &f.seen_since_ms)) {
    return Error(400, *e, route);
  }
  if (auto e = ReadTime("until", call.Param("until"), &f.seen_until_ms)) {
    return Error(400, *e, route);
  }
  if (const std::string c = call.Param("cursor"); !c.empty()) {
    // "<last seen ms>.<id>" of the last group of the previous page.
    const size_t dot = c.find('.');
    auto seen = dot == std::string::npos ? std::nullopt : ParseId(c.substr(0, dot));
    auto id = dot == std::string::npos ? std::nullopt : ParseId(c.substr(dot + 1));
    if (!seen || !id) return Error(400, "cursor: not one this API gave ('" + c + "')", route);
    f.after = std::make_pair(*seen, *id);
  }
  const size_t want = f.limit;
  f.limit = want + 1;  // one more tells whether there is a next page
  auto groups = options_.escalations->List(f);
  if (!groups.ok()) return Failed(groups.status(), route);
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < groups->size() && i < want; ++i) {
    if (i > 0) body += ',';
    body += actions::EscalationGroupJson((*groups)[i]);
  }
  body += "],\"next_cursor\":";
  if (groups->size() > want) {
    const auto& last = (*groups)[want - 1];
    body += "\"" + std::to_string(last.last_seen_ms) + "." + std::to_string(last.id) + "\"";
  } else {
    body += "null";
  }
  body += '}';
  return Answer(200, std::move(body), route);
}

ApiResponse RestApi::Escalation(Call& call, int64_t id, const std::string& verb) {
  const std::string route = "/api/v1/escalations/{id}" + (verb.empty() ? "" : "/" + verb);
  if (options_.escalations == nullptr) return Error(503, "no escalation store", route);
  auto group = options_.escalations->Get(id);
  if (verb.empty()) {
    if (!group.ok()) return Failed(group.status(), route);
    return Answer(200, actions::EscalationGroupJson(*group), route);
  }
  const std::string action = "escalation." + verb;
  const std::string target = "escalation/" + std::to_string(id);
  Body body = ReadBody(call.req.body, {"note"},
                       verb == "resolve" ? std::initializer_list<const char*>{"note"}
                                         : std::initializer_list<const char*>{});
  ApiResponse r;
  std::string before, after;
  if (!RoleAllows(call.who->role, ApiRole::kOperator)) {
    r = Forbidden(call, verb + " escalations", ApiRole::kOperator, route);
  } else if (!body.error.empty()) {
    r = Error(400, body.error, route);
  } else if (!group.ok()) {
    r = Failed(group.status(), route);
  } else {
    before = actions::EscalationStateJson(*group);
    const std::string note = body.Text("note");
    Status s = verb == "ack" ? options_.escalations->Ack(id, call.who->name, note)
                             : options_.escalations->Resolve(id, call.who->name, note);
    auto now = options_.escalations->Get(id);
    if (!s.ok()) {
      r = Failed(s, route);
    } else if (!now.ok()) {
      r = Failed(now.status(), route);
    } else {
      after = actions::EscalationStateJson(*now);
      r = Answer(200, actions::EscalationGroupJson(*now), route);
    }
  }
  if (r.status != 404) Record(call, action, target, r, body.Text("note"), before, after);
  return r;
}

ApiResponse RestApi::Approvals(Call& /*call*/) {
  const std::string route = "/api/v1/approvals";
  if (options_.journal == nullptr) return Error(503, "no action journal", route);
  auto runs = options_.journal->List(actions::RunState::kAwaitingApproval);
  if (!runs.ok()) return Failed(runs.status(), route);
  std::sort(runs->begin(), runs->end(), [](const auto& a, const auto& b) {
    return std::tie(a.approval_deadline_ms, a.id) < std::tie(b.approval_deadline_ms, b.id);
  });
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < runs->size(); ++i) {
    if (i > 0) body += ',';
    body += actions::ActionRunJson((*runs)[i], true);
  }
  body += "],\"next_cursor\":null}";
  return Answer(200, std::move(body), route);
}

ApiResponse RestApi::Approval(Call& call, int64_t id, const std::string& verb) {
  const std::string route = "/api/v1/approvals/{id}" + (verb.empty() ? "" : "/" + verb);
  if (options_.journal == nullptr) return Error(503, "no action journal", route);
  auto run = options_.journal->Get(id);
  if (verb.empty()) {
    if (!run.ok()) return Failed(run.status(), route);
    return Answer(200, actions::ActionRunJson(*run, true), route);
  }
  const std::string action = "approval." + verb;
  const std::string target = "run/" + std::to_string(id);
  Body body = ReadBody(call.req.body, {"reason"},
                       verb == "reject" ? std::initializer_list<const char*>{"reason"}
                                        : std::initializer_list<const char*>{});
  ApiResponse r;
  std::string before, after;
  if (!RoleAllows(call.who->role, ApiRole::kOperator)) {
    r = Forbidden(call, verb + " action runs", ApiRole::kOperator, route);
  } else if (!body.error.empty()) {
    r = Error(400, body.error, route);
  } else if (!run.ok()) {
    r = Failed(run.status(), route);
  } else {
    before = actions::ActionRunStateJson(*run);
    Status s;
    if (options_.executor != nullptr) {
      s = verb == "approve" ? options_.executor->Approve(id, call.who->name)
                            : options_.executor->Reject(id, call.who->name, body.Text("reason"));
    } else {
      s = verb == "approve"
              ? options_.journal->Approve(id, call.who->name, Now())
              : options_.journal->Reject(id, call.who->name, body.Text("reason"), Now());
    }
    auto now = options_.journal->Get(id);
    if (!s.ok()) {
      r = Failed(s, route);
    } else if (!now.ok()) {
      r = Failed(now.status(), route);
    } else {
      after = actions::ActionRunStateJson(*now);
      r = Answer(200, actions::ActionRunJson(*now, true), route);
    }
  }
  if (r.status != 404) Record(call, action, target, r, body.Text("reason"), before, after);
  return r;
}

ApiResponse RestApi::Audit(Call& call) {
  const std::string route = "/api/v1/audit";
  if (options_.audit == nullptr) return Error(503, "no audit log", route);
  actions::AuditFilter f;
  f.limit = kDefaultLimit;
  if (call.Has("actor")) f.actor = call.Param("actor");
  if (call.Has("action")) f.action = call.Param("action");
  if (call.Has("target")) f.target = call.Param("target");
  if (auto e = ReadLimit(call.Param("limit"), &f.limit)) return Error(400, *e, route);
  if (auto e = ReadTime("since", call.Param("since"), &f.since_ms)) return Error(400, *e, route);
  if (const std::string c = call.Param("cursor"); !c.empty()) {
    auto id = ParseId(c);
    if (!id) return Error(400, "cursor: not one this API gave ('" + c + "')", route);
    f.before_id = *id;
  }
  const size_t want = f.limit;
  f.limit = want + 1;
  auto entries = options_.audit->List(f);
  if (!entries.ok()) return Failed(entries.status(), route);
  std::string body = "{\"items\":[";
  for (size_t i = 0; i < entries->size() && i < want; ++i) {
    if (i > 0) body += ',';
    body += actions::AuditEntryJson((*entries)[i]);
  }
  body += "],\"next_cursor\":";
  body += entries->size() > want ? "\"" + std::to_string((*entries)[want - 1].id) + "\""
                                 : std::string("null");
  body += '}';
  return Answer(200, std::move(body), route);
}

ApiResponse RestApi::Explain(Call& call) {
  const std::string route = "/api/v1/explain";
  if (options_.rules == nullptr) return Error(503, "no live rule set", route);
  auto e = engine::ExplainEventText(*options_.rules->Current(), call.req.body, Now());
  if (!e.ok()) return Error(400, e.status().message(), route);
  return Answer(200, Dump(engine::ExplanationToJson(*e)), route);
}

ApiResponse RestApi::Decisions(Call& call) {
  const std::string route = "/api/v1/decisions";
  if (options_.recent == nullptr) return Error(503, "recent decisions are not kept", route);
  connectors::DecisionFilter f;
  f.limit = kDefaultLimit;
  if (const std::string v = call.Param("verdict"); !v.empty()) {
    auto parsed = engine::kVerdictNames.Parse(v);
    if (!parsed) {
      return Error(400, "verdict: expected known, suppressed, unknown or pending, got '" + v + "'",
                   route);
    }
    f.verdict = *parsed;
  }
  f.table = call.Param("table");
  f.row = call.Param("row");
  if (auto e = ReadLimit(call.Param("limit"), &f.limit)) return Error(400, *e, route);
  if (const std::string c = call.Param("cursor"); !c.empty()) {
    // "<at ms>.<seq>" of the last decision of the previous page.
    const size_t dot = c.find('.');
    auto at = dot == std::string::npos ? std::nullopt : ParseId(c.substr(0, dot));
    auto seq = dot == std::string::npos ? std::nullopt : ParseId(c.substr(dot + 1));
    if (!at || !seq) return Error(400, "cursor: not one this API gave ('" + c + "')", route);
    f.before = std::make_pair(*at, *seq);
  }
  const size_t want = f.limit;
  f.limit = want + 1;
  const std::vector<connectors::RecentDecision> list = options_.recent->List(f);
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = 0; i < list.size() && i < want; ++i) {
    const connectors::RecentDecision& d = list[i];
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& [table, row] : d.rows) rows.push_back({{"table", table}, {"row", row}});
    nlohmann::json j{{"at", base::FormatRfc3339Millis(d.at_ms)},
                     {"event_id", d.event_id},
                     {"source", d.source},
                     {"verdict", engine::VerdictName(d.verdict)},
                     {"ruleset", d.ruleset},
                     {"rows", std::move(rows)}};
    if (!d.muted.empty()) j["muted"] = d.muted;
    items.push_back(std::move(j));
  }
  nlohmann::json body;
  body["items"] = std::move(items);
  body["capacity"] = options_.recent->capacity();
  if (list.size() > want) {
    const connectors::RecentDecision& last = list[want - 1];
    body["next_cursor"] = std::to_string(last.at_ms) + "." + std::to_string(last.seq);
  } else {
    body["next_cursor"] = nullptr;
  }
  return Answer(200, Dump(body), route);
}

ApiResponse RestApi::Rules(Call& /*call*/) {
  const std::string route = "/api/v1/rules";
  if (options_.rules == nullptr) return Error(503, "no live rule set", route);
  std::shared_ptr<const engine::CompiledRuleSet> set = options_.rules->Current();
  std::shared_ptr<const connectors::RuleMetrics> hits =
      options_.metrics != nullptr ? options_.metrics->ForRules(*set) : nullptr;
  const std::vector<std::vector<int64_t>> last_hits = options_.recent != nullptr
                                                          ? options_.recent->LastHits(*set)
                                                          : std::vector<std::vector<int64_t>>{};
  nlohmann::json j;
  j["version"] = set->version();
  j["rules_dir"] = options_.rules->rules_dir();
  nlohmann::json tables = nlohmann::json::array();
  for (size_t t = 0; t < set->tables().size(); ++t) {
    const engine::TableSpec& table = set->tables()[t];
    nlohmann::json tj;
    tj["name"] = table.name;
    tj["file"] = table.file;
    tj["hit_policy"] = engine::HitPolicyName(table.hit_policy);
    tj["description"] = table.description;
    nlohmann::json columns = nlohmann::json::array();
    for (const engine::ColumnSpec& c : table.columns) columns.push_back(c.field.text());
    tj["columns"] = std::move(columns);
    nlohmann::json rows = nlohmann::json::array();
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const engine::RowSpec& row = table.rows[r];
      nlohmann::json rj;
      rj["id"] = row.id;
      rj["line"] = row.where.line;
      nlohmann::json actions = nlohmann::json::array();
      for (const engine::ActionSpec& a : row.actions) actions.push_back(a.name);
      rj["actions"] = std::move(actions);
      rj["description"] = row.description;
      rj["runbook"] = row.runbook;
      prometheus::Counter* c =
          hits ? hits->RowCounter(static_cast<uint32_t>(t), static_cast<uint32_t>(r)) : nullptr;
      rj["hits"] = c != nullptr ? nlohmann::json(static_cast<uint64_t>(c->Value()))
                                : nlohmann::json(nullptr);
      const int64_t last = last_hits.empty() ? 0 : last_hits[t][r];
      rj["last_hit"] =
          last > 0 ? nlohmann::json(base::FormatRfc3339Millis(last)) : nlohmann::json(nullptr);
      rows.push_back(std::move(rj));
    }
    tj["rows"] = std::move(rows);
    tables.push_back(std::move(tj));
  }
  j["tables"] = std::move(tables);
  return Answer(200, Dump(j), route);
}

namespace {
nlohmann::json ReloadJson(const connectors::ReloadResult& r) {
  nlohmann::json j;
  j["outcome"] = connectors::OutcomeName(r.outcome);
  j["old_version"] = r.old_version;
  j["new_version"] = r.new_version;
  j["tables"] = r.tables;
  j["rows"] = r.rows;
  j["warnings"] = r.warnings;
  j["diagnostics"] = r.diagnostics;
  if (!r.validation.ok()) j["validation"] = r.validation.message();
  return j;
}
}  // namespace

ApiResponse RestApi::RuleHistory(Call& /*call*/) {
  const std::string route = "/api/v1/rules/history";
  if (options_.history == nullptr) return Error(503, "no rule history", route);
  auto entries = options_.history->List();
  if (!entries.ok()) return Failed(entries.status(), route);
  nlohmann::json items = nlohmann::json::array();
  for (const connectors::HistoryEntry& e : *entries) {
    nlohmann::json j;
    j["version"] = e.version;
    j["current"] = e.current;
    j["activated_at_ms"] = e.activated_at_ms;
    j["first_activated_at_ms"] = e.first_activated_at_ms;
    j["activations"] = e.activations;
    j["trigger"] = e.trigger;
    j["previous"] = e.previous;
    j["tables"] = e.tables;
    j["rows"] = e.rows;
    j["replica"] = e.replica;
    nlohmann::json files = nlohmann::json::array();
    for (const connectors::HistoryFile& f : e.files) {
      files.push_back({{"path", f.path}, {"size", f.size}});
    }
    j["files"] = std::move(files);
    items.push_back(std::move(j));
  }
  nlohmann::json body;
  body["items"] = std::move(items);
  body["next_cursor"] = nullptr;
  return Answer(200, Dump(body), route);
}

ApiResponse RestApi::RulesChange(Call& call, const std::string& verb) {
  const std::string route = "/api/v1/rules/" + verb;
  if (options_.rules == nullptr || (verb == "rollback" && options_.history == nullptr)) {
    return Error(503, "no live rule set or rule history", route);
  }
  Body body = verb == "rollback" ? ReadBody(call.req.body, {"version", "note"}, {"version"})
                                 : ReadBody(call.req.body, {"note"}, {});
  const std::string before_version = options_.rules->version();
  ApiResponse r;
  std::string target = "rules/" + before_version;
  std::string after;
  if (!RoleAllows(call.who->role, ApiRole::kAdmin)) {
    r = Forbidden(call, verb + " rules", ApiRole::kAdmin, route);
  } else if (!body.error.empty()) {
    r = Error(400, body.error, route);
  } else {
    nlohmann::json j;
    bool refused = false;
    if (verb == "rollback") {
      target = "rules/" + body.Text("version");
      auto report = options_.history->Rollback(body.Text("version"), options_.rules->rules_dir());
      if (!report.ok()) {
        r = Failed(report.status(), route);
        refused = true;
      } else {
        j["restored"] = report->version;
        j["added"] = report->added;
        j["changed"] = report->changed;
        j["removed"] = report->removed;
        j["unchanged"] = report->unchanged;
      }
    }
    if (!refused) {
      const connectors::ReloadResult result = options_.rules->Reload("api-" + verb);
      j["reload"] = ReloadJson(result);
      if (verb == "reload") target = "rules/" + result.new_version;
      after = Dump(nlohmann::json{{"version", options_.rules->version()}});
      r = result.ok()
              ? Answer(200, Dump(j), route)
              : Error(409,
                      "the rules directory did not go live (" +
                          std::to_string(result.diagnostics.size()) + " error(s)" +
                          (result.validation.ok() ? "" : ": " + result.validation.message()) +
                          "); the running set stays",
                      route);
      if (!result.ok()) {
        nlohmann::json e = nlohmann::json::parse(r.body);
        e["reload"] = ReloadJson(result);
        r.body = Dump(e);
      }
    }
  }
  Record(call, "rules." + verb, target, r, body.Text("note"),
         Dump(nlohmann::json{{"version", before_version}}), after);
  return r;
}

ApiResponse RestApi::Silences(Call& call) {
  const std::string route = "/api/v1/silences";
  if (options_.silences == nullptr) return Error(503, "no silence store", route);
  if (call.req.method == "GET") {
    std::optional<engine::SilenceState> state;
    if (const std::string st = call.Param("state"); !st.empty()) {
      auto parsed = engine::kSilenceStateNames.Parse(st);
      if (!parsed) {
        return Error(400, "state: expected pending, active or expired, got '" + st + "'", route);
      }
      state = *parsed;
    }
    auto all = options_.silences->List();
    if (!all.ok()) return Failed(all.status(), route);
    const int64_t now = options_.silences->NowMillis();
    std::string body = "{\"items\":[";
    bool first = true;
    for (const engine::Silence& silence : *all) {
      if (state && engine::StateAt(silence, now) != *state) continue;
      if (!first) body += ',';
      first = false;
      body += engine::SilenceJson(silence, now);
    }
    body += "],\"next_cursor\":null}";
    return Answer(200, std::move(body), route);
  }
  ApiResponse r;
  std::string target = "silence/", after;
  auto silence = engine::ParseSilenceJson(call.req.body);
  const std::string comment = silence.ok() ? silence->comment : "";
  if (!RoleAllows(call.who->role, ApiRole::kOperator)) {
    r = Forbidden(call, "add silences", ApiRole::kOperator, route);
  } else if (!silence.ok()) {
    r = Error(400, silence.status().message(), route);
  } else {
    // The caller is who created it, whatever the body says (the audit log names the token).
    silence->created_by = call.who->name;
    engine::Silence added = *silence;
    auto id = options_.silences->Add(std::move(*silence));
    if (!id.ok()) {
      r = Failed(id.status(), route);
    } else {
      added.id = *id;
      target += *id;
      after = engine::SilenceJson(added, options_.silences->NowMillis());
      r = Answer(200, Dump(nlohmann::json{{"silenceID", *id}}), route);
    }
  }
  Record(call, "silence.add", target, r, comment, "", after);
  return r;
}

ApiResponse RestApi::SilenceExpire(Call& call, const std::string& id) {
  const std::string route = "/api/v1/silences/{id}";
  if (options_.silences == nullptr) return Error(503, "no silence store", route);
  auto all = options_.silences->List();
  if (!all.ok()) return Failed(all.status(), route);
  auto it =
      std::find_if(all->begin(), all->end(), [&](const engine::Silence& s) { return s.id == id; });
  if (it == all->end()) return Error(404, "no silence '" + id + "'", route);
  const int64_t now = options_.silences->NowMillis();
  const std::string before = engine::SilenceJson(*it, now);
  ApiResponse r;
  std::string after;
  if (!RoleAllows(call.who->role, ApiRole::kOperator)) {
    r = Forbidden(call, "expire silences", ApiRole::kOperator, route);
  } else if (Status s = options_.silences->Expire(id); !s.ok()) {
    r = Failed(s, route);
  } else {
    auto now_all = options_.silences->List();
    if (now_all.ok()) {
      for (const engine::Silence& expired : *now_all) {
        if (expired.id == id) after = engine::SilenceJson(expired, options_.silences->NowMillis());
      }
    }
    r = Answer(200, "{}", route);
  }
  Record(call, "silence.expire", "silence/" + id, r, "", before, after);
  return r;
}

void RestApi::Record(const Call& call, const std::string& action, const std::string& target,
                     const ApiResponse& answer, const std::string& detail,
                     const std::string& before, const std::string& after) {
  if (options_.audit == nullptr) return;
  actions::AuditEntry e;
  e.at_ms = Now();
  e.actor = call.who->name;
  e.role = connectors::kApiRoleNames.Name(call.who->role);
  e.via = "api";
  e.action = action;
  e.target = target;
  e.before = before;
  e.after = after;
  e.detail = detail;
  if (answer.status < 300) {
    e.outcome = "ok";
  } else if (answer.status == 403) {
    e.outcome = "denied";
  } else {
    e.outcome = "refused";
    auto j = nlohmann::json::parse(answer.body, nullptr, false);
    const std::string why = j.is_object() ? j.value("error", "") : "";
    e.detail = detail.empty() ? why : detail + " (" + why + ")";
  }
  if (auto id = options_.audit->Record(e); !id.ok() && options_.on_audit_error) {
    options_.on_audit_error(id.status());
  }
}

}  // namespace reflex::api
