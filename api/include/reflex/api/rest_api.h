// RestApi: the REST API under /api/v1 (docs/api.md), what the console and scripts use to see
// what Reflex escalated and to act on it. JSON in and out; described by the OpenAPI 3.0
// document it serves at GET /api/v1/openapi.json.
//
//   GET  /api/v1/whoami                       the caller's name and role
//   GET  /api/v1/escalations                  ?state=open|acknowledged|resolved|all (open)
//                                             &kind= &fingerprint= &q= (text in the shape)
//                                             &since= &until= (RFC 3339, last seen)
//                                             &limit= (1..500, 50) &cursor= (next_cursor)
//   GET  /api/v1/escalations/{id}             with samples, history, root cause, symptoms
//   POST /api/v1/escalations/{id}/ack         {"note": "..."}               operator
//   POST /api/v1/escalations/{id}/resolve     {"note": "..."} (required)    operator
//   GET  /api/v1/escalations/{id}/teach       a draft row from its sample (rules/teach.h)
//   POST /api/v1/escalations/{id}/teach/check {"table", "cells": [...]}: what saving would do
//   POST /api/v1/escalations/{id}/teach       the same (+ "note"): save, reload, resolve admin
//   GET  /api/v1/approvals                    runs awaiting approval, oldest deadline first
//   GET  /api/v1/approvals/{id}               the run, in full
//   POST /api/v1/approvals/{id}/approve       {"reason": "..."}             operator
//   POST /api/v1/approvals/{id}/reject        {"reason": "..."} (required)  operator
//   GET  /api/v1/audit                        ?actor= &action= &target= &since= &limit=
//                                             &cursor=
//   GET  /api/v1/decisions                    the last decisions, newest first: ?verdict=
//                                             &table= &row= &limit= &cursor=
//   POST /api/v1/explain                      an event: how the live rules decide it
//   GET  /api/v1/rules                        the live tables, rows and row hit counts
//   GET  /api/v1/rules/history                the rule sets that went live
//   POST /api/v1/rules/validate?file=x.csv    `reflex check` with the posted table file
//   POST /api/v1/rules/reload                 load the rules directory again        admin
//   POST /api/v1/rules/rollback               {"version": "v-..."}                  admin
//   GET  /api/v1/silences                     ?state=pending|active|expired
//   POST /api/v1/silences                     Alertmanager's PostableSilence        operator
//   DELETE /api/v1/silences/{id}              expire it                             operator
//
// Auth: `Authorization: Bearer <token>`, one of HttpConfig::api_tokens (compared in
// constant time); the token's role decides: viewer reads, operator also changes escalations
// and approvals, admin also reloads and rolls back rules. 401 without a known token (the OpenAPI
// document needs none), 403 when the role is too low. Every change, and every change denied to a
// known caller, is written to the audit log (actions/audit.h) with the caller's name, the
// target's state before and after, and the outcome.
//
// Answers: 200 with JSON; lists are {"items": [...], "next_cursor": "..." or null}. Errors
// are {"error": "..."}: 400 for a bad parameter or body (not JSON, not an object, a missing
// or wrong-typed field), 404 for an unknown id or route, 405 for a method a route does not
// take, 409 for a change the target's state does not allow, 503 when the store fails.
//
// Thread-safety: Handle may be called from any number of threads at once (the stores are
// thread-safe; the API's only state of its own is the lock that serialises teach saves).
//
//   api::RestApi rest({.tokens = http.api_tokens, .journal = journal.get(),
//                      .escalations = escalations.get(), .audit = audit.get()});
//   routes.api = &rest;   // connectors::HttpRoutes
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "reflex/actions/audit.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/executor.h"
#include "reflex/actions/journal.h"
#include "reflex/connectors/config.h"
#include "reflex/connectors/http_server.h"
#include "reflex/connectors/metrics.h"
#include "reflex/connectors/recent_decisions.h"
#include "reflex/connectors/rule_history.h"
#include "reflex/connectors/rule_store.h"
#include "reflex/engine/clock.h"

namespace reflex::api {

struct RestApiOptions {
  std::vector<connectors::ApiToken> tokens{};
  // The stores; each must outlive the API. A null store makes its routes answer 503.
  actions::Journal* journal = nullptr;
  actions::EscalationStore* escalations = nullptr;
  actions::AuditLog* audit = nullptr;
  // When set, approvals and rejections go through the running executor (an approved run is
  // queued at once, a rejection is notified); else they are written to the journal, where a
  // running engine's poll picks them up.
  actions::Executor* executor = nullptr;
  // The live rule set, its reload and history, and the metrics holding its row hit counts;
  // null ones make the /rules and /explain routes answer 503.
  connectors::RuleStore* rules = nullptr;
  const connectors::RuleHistory* history = nullptr;
  connectors::Metrics* metrics = nullptr;
  // The silences (the same ones /api/v2/silences serves); null makes /silences answer 503.
  connectors::SilenceApi* silences = nullptr;
  // The last decisions and each row's last hit (GET /decisions, GET /rules); null makes
  // /decisions answer 503 and rules show no last hit.
  const connectors::RecentDecisions* recent = nullptr;
  // Time of audit entries, approvals and rejections. Default (null): the system clock.
  const engine::Clock* clock = nullptr;
  // Told when an audit entry could not be written (the change itself was made and is
  // answered as such); e.g. the run's log. Called on the request's thread.
  std::function<void(const engine::Status&)> on_audit_error{};
};

// The OpenAPI 3.0 document of the API (JSON).
const std::string& OpenApiDocument();

class RestApi final : public connectors::ApiHandler {
 public:
  explicit RestApi(RestApiOptions options);
  connectors::ApiResponse Handle(const connectors::ApiRequest& request) override;

  struct Call;  // one request being served (src/api_internal.h)

 private:
  connectors::ApiResponse Route(Call& call);
  connectors::ApiResponse Escalations(Call& call);
  connectors::ApiResponse Escalation(Call& call, int64_t id, const std::string& verb);
  connectors::ApiResponse Approvals(Call& call);
  connectors::ApiResponse Approval(Call& call, int64_t id, const std::string& verb);
  connectors::ApiResponse Audit(Call& call);
  connectors::ApiResponse Explain(Call& call);
  connectors::ApiResponse Decisions(Call& call);
  connectors::ApiResponse Rules(Call& call);
  connectors::ApiResponse RuleHistory(Call& call);
  connectors::ApiResponse RulesChange(Call& call, const std::string& verb);
  connectors::ApiResponse Silences(Call& call);
  connectors::ApiResponse SilenceExpire(Call& call, const std::string& id);
  // teach_api.cc: GET .../teach, POST .../teach/check, POST .../teach; POST /rules/validate.
  connectors::ApiResponse Teach(Call& call, int64_t id, const std::string& verb);
  connectors::ApiResponse Validate(Call& call);
  // Writes the audit entry of a change (outcome from the answer's status).
  void Record(const Call& call, const std::string& action, const std::string& target,
              const connectors::ApiResponse& answer, const std::string& detail,
              const std::string& before, const std::string& after);
  int64_t Now() const;

  RestApiOptions options_;
  engine::SystemClock system_clock_;
  // Held while a taught row is checked, written and reloaded, so two saves do not append to
  // the same table from the same old text.
  std::mutex teach_mu_;
};

}  // namespace reflex::api
