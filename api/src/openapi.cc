// The OpenAPI 3.0 document of /api/v1 (rest_api.h), served at GET /api/v1/openapi.json.
// tests/api checks that every route the API answers is described here and the reverse.
#include <string>

#include "reflex/api/rest_api.h"

namespace reflex::api {

const std::string& OpenApiDocument() {
  static const std::string doc = R"json({
  "openapi": "3.0.3",
  "info": {
    "title": "Reflex REST API",
    "version": "1",
    "description": "What Reflex escalated and why, and the changes on-call staff make: acknowledging and resolving escalations, approving and rejecting action runs, explaining events, browsing, reloading and rolling back the rules. Every change is written to the audit log. See docs/api.md."
  },
  "servers": [{"url": "/api/v1"}],
  "security": [{"bearer": []}],
  "components": {
    "securitySchemes": {
      "bearer": {"type": "http", "scheme": "bearer", "description": "A token of http.api_tokens; its role (viewer, operator, admin) decides what it may do."}
    },
    "parameters": {
      "id": {"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}},
      "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
      "cursor": {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": {"type": "string"}},
      "since": {"name": "since", "in": "query", "description": "RFC 3339", "schema": {"type": "string", "format": "date-time"}}
    },
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
      "Note": {"type": "object", "additionalProperties": false, "properties": {"note": {"type": "string"}}},
      "Reason": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string"}}},
      "Diagnostic": {"type": "object", "properties": {"severity": {"type": "string", "enum": ["error", "warning"]}, "file": {"type": "string"}, "line": {"type": "integer"}, "column": {"type": "integer"}, "message": {"type": "string"}, "text": {"type": "string", "description": "file:line:col: error: message"}}},
      "TeachRow": {"type": "object", "required": ["table", "cells"], "additionalProperties": false, "properties": {"table": {"type": "string"}, "cells": {"type": "array", "items": {"type": "string"}, "description": "one cell per column of the table's header row, as the draft lists them"}, "note": {"type": "string", "description": "save only: the escalation's resolution note"}}},
      "TeachDraft": {"type": "object", "properties": {"escalation": {"type": "integer"}, "table": {"type": "string"}, "file": {"type": "string"}, "nearest_row": {"type": "string"}, "tables": {"type": "array", "items": {"type": "string"}}, "columns": {"type": "array", "items": {"type": "object", "properties": {"header": {"type": "string"}, "kind": {"type": "string", "enum": ["id", "condition", "action", "param", "priority", "runbook", "description", "none"]}, "nearest": {"type": "string"}, "observed": {"type": "string", "nullable": true}, "prefilled": {"type": "boolean"}}}}, "cells": {"type": "array", "items": {"type": "string"}}, "catalog": {"type": "object"}, "samples": {"type": "integer"}}},
      "TeachCheck": {"type": "object", "properties": {"ok": {"type": "boolean"}, "problems": {"type": "array", "items": {"type": "string"}}, "notes": {"type": "array", "items": {"type": "string"}, "description": "earlier samples of the group the row does not decide (not blocking)"}, "table": {"type": "string"}, "row": {"type": "string"}, "file": {"type": "string"}, "line": {"type": "integer"}, "csv_line": {"type": "string"}, "cases_file": {"type": "string"}, "version": {"type": "string"}, "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}}, "samples": {"type": "array", "items": {"type": "object"}}, "cases": {"type": "object", "properties": {"passed": {"type": "integer"}, "failed": {"type": "integer"}, "failures": {"type": "array", "items": {"type": "string"}}}}}},
      "Escalation": {"type": "object", "description": "An escalation group: id, fingerprint, kind, shape, count, first_seen, last_seen, state, state_by, state_at, state_note, reopen_count, symptoms, root_cause, action, table, row, reason; samples and history when shown alone.", "properties": {"id": {"type": "integer"}, "fingerprint": {"type": "string"}, "kind": {"type": "string", "enum": ["unknown_event", "action_failed", "approval_expired", "escalate_action"]}, "state": {"type": "string", "enum": ["open", "acknowledged", "resolved"]}, "count": {"type": "integer"}, "symptoms": {"type": "integer"}, "root_cause": {"type": "string"}, "samples": {"type": "array", "items": {"type": "object"}}, "history": {"type": "array", "items": {"type": "object"}}}},
      "ActionRun": {"type": "object", "description": "An action run of the journal.", "properties": {"id": {"type": "integer"}, "state": {"type": "string"}, "action": {"type": "string"}, "table": {"type": "string"}, "row": {"type": "string"}, "event_id": {"type": "string"}, "approval_deadline": {"type": "string"}, "decided_by": {"type": "string"}}},
      "AuditEntry": {"type": "object", "properties": {"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"}, "role": {"type": "string"}, "via": {"type": "string", "enum": ["api", "cli"]}, "action": {"type": "string"}, "target": {"type": "string"}, "outcome": {"type": "string", "enum": ["ok", "denied", "refused"]}, "detail": {"type": "string"}, "before": {}, "after": {}}},
      "EscalationPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Escalation"}}, "next_cursor": {"type": "string", "nullable": true}}},
      "ActionRunPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/ActionRun"}}, "next_cursor": {"type": "string", "nullable": true}}},
      "Explanation": {"type": "object", "description": "How the live rules decide an event, as `reflex explain --json` prints it: event_id, verdict, ruleset, labels, values, tables[] with selected, decided, matching_rows and near_misses (the rows that could have decided and the cells that failed).", "properties": {"event_id": {"type": "string"}, "verdict": {"type": "string"}, "ruleset": {"type": "string"}, "tables": {"type": "array", "items": {"type": "object"}}}},
      "RuleSet": {"type": "object", "properties": {"version": {"type": "string"}, "rules_dir": {"type": "string"}, "tables": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "file": {"type": "string"}, "hit_policy": {"type": "string"}, "description": {"type": "string"}, "columns": {"type": "array", "items": {"type": "string"}}, "rows": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "line": {"type": "integer"}, "actions": {"type": "array", "items": {"type": "string"}}, "description": {"type": "string"}, "runbook": {"type": "string"}, "hits": {"type": "integer", "nullable": true, "description": "selections since the process started (reflex_rule_hits_total)"}}}}}}}}},
      "Reload": {"type": "object", "properties": {"outcome": {"type": "string", "enum": ["swapped", "unchanged", "refused"]}, "old_version": {"type": "string"}, "new_version": {"type": "string"}, "tables": {"type": "integer"}, "rows": {"type": "integer"}, "warnings": {"type": "integer"}, "diagnostics": {"type": "array", "items": {"type": "string"}}, "validation": {"type": "string"}}},
      "RulesChange": {"type": "object", "properties": {"reload": {"$ref": "#/components/schemas/Reload"}, "restored": {"type": "string"}, "added": {"type": "array", "items": {"type": "string"}}, "changed": {"type": "array", "items": {"type": "string"}}, "removed": {"type": "array", "items": {"type": "string"}}, "unchanged": {"type": "integer"}}},
      "Silence": {"type": "object", "description": "Alertmanager's GettableSilence: id, status.state (pending, active, expired), updatedAt, matchers, startsAt, endsAt, createdBy, comment."},
      "PostableSilence": {"type": "object", "required": ["matchers", "startsAt", "endsAt", "comment"], "description": "Alertmanager's PostableSilence; createdBy is set to the token's name.", "properties": {"matchers": {"type": "array", "items": {"type": "object", "required": ["name", "value", "isRegex"], "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "isRegex": {"type": "boolean"}, "isEqual": {"type": "boolean", "default": true}}}}, "startsAt": {"type": "string", "format": "date-time"}, "endsAt": {"type": "string", "format": "date-time"}, "createdBy": {"type": "string"}, "comment": {"type": "string"}}},
      "AuditPage": {"type": "object", "required": ["items", "next_cursor"], "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}}, "next_cursor": {"type": "string", "nullable": true}}}
    },
    "responses": {
      "BadRequest": {"description": "a bad parameter or body", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Unauthorized": {"description": "no known bearer token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Forbidden": {"description": "the token's role may not do this (audited as denied)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "NotFound": {"description": "no such id", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
      "Conflict": {"description": "the target's state does not allow the change", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "paths": {
    "/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.0"}}}},
    "/whoami": {"get": {"summary": "The caller's name and role", "responses": {"200": {"description": "name and role", "content": {"application/json": {"schema": {"type": "object", "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": ["viewer", "operator", "admin"]}}}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/escalations": {"get": {"summary": "Escalation groups, most recently seen first", "parameters": [
        {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["open", "acknowledged", "resolved", "all"], "default": "open"}},
        {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["unknown_event", "action_failed", "approval_expired", "escalate_action"]}},
        {"name": "fingerprint", "in": "query", "description": "one shape's group", "schema": {"type": "string"}},
        {"name": "q", "in": "query", "description": "text in the group's shape values", "schema": {"type": "string"}},
        {"$ref": "#/components/parameters/since"},
        {"name": "until", "in": "query", "description": "RFC 3339; last seen before", "schema": {"type": "string", "format": "date-time"}},
        {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}],
      "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EscalationPage"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/escalations/{id}": {"get": {"summary": "One group with its sample events, history, root cause and symptoms", "parameters": [{"$ref": "#/components/parameters/id"}],
      "responses": {"200": {"description": "the group", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Escalation"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
    "/escalations/{id}/ack": {"post": {"summary": "open -> acknowledged (operator)", "parameters": [{"$ref": "#/components/parameters/id"}],
      "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}}},
      "responses": {"200": {"description": "the group after", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Escalation"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
    "/escalations/{id}/resolve": {"post": {"summary": "open | acknowledged -> resolved, with a note (operator)", "parameters": [{"$ref": "#/components/parameters/id"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Note"}], "required": ["note"]}}}},
      "responses": {"200": {"description": "the group after", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Escalation"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
    "/escalations/{id}/teach": {"get": {"summary": "A draft decision-table row for the escalation's sample event: the CSV table whose rows came nearest, its header, the proposed cells (conditions the nearest rows use filled with the event's exact values; action, parameters and runbook from the nearest row) and the action catalog", "parameters": [{"$ref": "#/components/parameters/id"}, {"name": "table", "in": "query", "description": "teach into this CSV table instead", "schema": {"type": "string"}}],
      "responses": {"200": {"description": "the draft", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TeachDraft"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}},
      "post": {"summary": "Save the row: checked again, appended to the table with a test case from the sample event beside it, the rule set reloaded and the escalation resolved with a link to the row (admin)", "parameters": [{"$ref": "#/components/parameters/id"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TeachRow"}}}},
      "responses": {"200": {"description": "saved and live", "content": {"application/json": {"schema": {"type": "object", "properties": {"table": {"type": "string"}, "row": {"type": "string"}, "file": {"type": "string"}, "line": {"type": "integer"}, "cases_file": {"type": "string"}, "version": {"type": "string"}, "previous_version": {"type": "string"}, "resolved": {"type": "boolean"}, "escalation": {"$ref": "#/components/schemas/Escalation"}}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"description": "not saved: the check failed (body has error and check) or the set did not go live; no file changed"}}}},
    "/escalations/{id}/teach/check": {"post": {"summary": "What saving the row would do, without writing: reflex check on the directory with the row (errors, and the shadowing and overlap warnings about it), reflex test with the new case, and each sample event decided again", "parameters": [{"$ref": "#/components/parameters/id"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TeachRow"}}}},
      "responses": {"200": {"description": "the check (ok false lists the problems)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TeachCheck"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
    "/approvals": {"get": {"summary": "Action runs awaiting approval, the nearest deadline first",
      "responses": {"200": {"description": "every such run", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRunPage"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/approvals/{id}": {"get": {"summary": "One action run, in full", "parameters": [{"$ref": "#/components/parameters/id"}],
      "responses": {"200": {"description": "the run", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRun"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
    "/approvals/{id}/approve": {"post": {"summary": "awaiting_approval -> pending: it runs next (operator)", "parameters": [{"$ref": "#/components/parameters/id"}],
      "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Reason"}}}},
      "responses": {"200": {"description": "the run after", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRun"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
    "/approvals/{id}/reject": {"post": {"summary": "awaiting_approval -> rejected, with a reason (operator)", "parameters": [{"$ref": "#/components/parameters/id"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"allOf": [{"$ref": "#/components/schemas/Reason"}], "required": ["reason"]}}}},
      "responses": {"200": {"description": "the run after", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ActionRun"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}},
    "/audit": {"get": {"summary": "The audit log, newest first", "parameters": [
        {"name": "actor", "in": "query", "schema": {"type": "string"}},
        {"name": "action", "in": "query", "description": "exact, or a prefix ending in '.' (escalation.)", "schema": {"type": "string"}},
        {"name": "target", "in": "query", "description": "e.g. escalation/12, run/7", "schema": {"type": "string"}},
        {"$ref": "#/components/parameters/since"}, {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}],
      "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuditPage"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/silences": {"get": {"summary": "Silences, as Alertmanager shows them", "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "enum": ["pending", "active", "expired"]}}],
      "responses": {"200": {"description": "every silence kept", "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Silence"}}, "next_cursor": {"type": "string", "nullable": true}}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}},
      "post": {"summary": "Add a silence (operator)", "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PostableSilence"}}}},
      "responses": {"200": {"description": "its id", "content": {"application/json": {"schema": {"type": "object", "properties": {"silenceID": {"type": "string"}}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}}}},
    "/silences/{id}": {"delete": {"summary": "Expire a silence now (operator)", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "expired"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}}}},
    "/decisions": {"get": {"summary": "The last decisions of this process (http.recent_decisions of them are kept in memory), newest first", "parameters": [
        {"name": "verdict", "in": "query", "schema": {"type": "string", "enum": ["known", "suppressed", "unknown", "pending"]}},
        {"name": "table", "in": "query", "description": "decided by a row of this table", "schema": {"type": "string"}},
        {"name": "row", "in": "query", "description": "decided by this row (of `table` when given)", "schema": {"type": "string"}},
        {"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/cursor"}],
      "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}, "event_id": {"type": "string"}, "source": {"type": "string"}, "verdict": {"type": "string"}, "ruleset": {"type": "string"}, "rows": {"type": "array", "items": {"type": "object", "properties": {"table": {"type": "string"}, "row": {"type": "string"}}}}, "muted": {"type": "string"}}}}, "capacity": {"type": "integer"}, "next_cursor": {"type": "string", "nullable": true}}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/explain": {"post": {"summary": "How the live rules decide the event in the body (nothing is executed or recorded)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "description": "an event (docs/events.md)"}}}},
      "responses": {"200": {"description": "the explanation", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Explanation"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/rules": {"get": {"summary": "The live rule set: tables, rows and row hit counts",
      "responses": {"200": {"description": "the set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RuleSet"}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/rules/history": {"get": {"summary": "The rule sets that went live, the current one first",
      "responses": {"200": {"description": "every kept version", "content": {"application/json": {"schema": {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}, "next_cursor": {"type": "string", "nullable": true}}}}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/rules/validate": {"post": {"summary": "reflex check on the rules directory with the posted file in tables/ (added, or in place of the one of that name); nothing is written", "parameters": [{"name": "file", "in": "query", "required": true, "description": "its name in tables/: disk.csv, noise.yaml, ops.xlsx", "schema": {"type": "string"}}],
      "requestBody": {"required": true, "content": {"text/csv": {"schema": {"type": "string"}}, "application/yaml": {"schema": {"type": "string"}}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}},
      "responses": {"200": {"description": "the check", "content": {"application/json": {"schema": {"type": "object", "properties": {"ok": {"type": "boolean"}, "errors": {"type": "integer"}, "file": {"type": "string"}, "version": {"type": "string"}, "tables": {"type": "integer"}, "diagnostics": {"type": "array", "items": {"$ref": "#/components/schemas/Diagnostic"}}}}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}}}},
    "/rules/reload": {"post": {"summary": "Load the rules directory again; it goes live when it loads, compiles and passes its test cases (admin)",
      "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Note"}}}},
      "responses": {"200": {"description": "swapped or unchanged", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RulesChange"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "409": {"description": "refused: the running set stays; body has error and reload with the diagnostics"}}}},
    "/rules/rollback": {"post": {"summary": "Write a recorded version back into the rules directory and reload it (admin)",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["version"], "additionalProperties": false, "properties": {"version": {"type": "string"}, "note": {"type": "string"}}}}}},
      "responses": {"200": {"description": "restored and reloaded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RulesChange"}}}}, "400": {"$ref": "#/components/responses/BadRequest"}, "401": {"$ref": "#/components/responses/Unauthorized"}, "403": {"$ref": "#/components/responses/Forbidden"}, "404": {"$ref": "#/components/responses/NotFound"}, "409": {"$ref": "#/components/responses/Conflict"}}}}
  }
})json";
  return doc;
}

}  // namespace reflex::api
