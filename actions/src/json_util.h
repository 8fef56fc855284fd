// JSON helpers shared inside reflex::actions (decisions, rendered requests, notices).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "reflex/base/time.h"
#include "reflex/engine/event.h"

namespace reflex::actions {

// The member `key` as text: a string as is, "" when absent or null, other values as JSON.
inline std::string JsonString(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// The member `key` as [[name, value]...] string pairs; malformed entries are skipped.
inline std::vector<std::pair<std::string, std::string>> JsonStringPairs(const nlohmann::json& j,
                                                                        const char* key) {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& kv : *it) {
    if (kv.is_array() && kv.size() == 2 && kv[0].is_string() && kv[1].is_string()) {
      out.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
    }
  }
  return out;
}

// An event's fields as JSON, in this order: id, timestamp (RFC 3339 with milliseconds, UTC),
// source, labels, values, message; empty source, labels, values and message are left out.
// What notices show of their event (docs/escalations.md), and what the notice outbox keeps of
// an event whose original bytes are not at hand: engine::EventParser reads it back with the
// same time, which an epoch number could not promise (small numbers read as seconds).
inline nlohmann::ordered_json EventFieldsJson(const engine::Event& ev) {
  nlohmann::ordered_json j;
  j["id"] = ev.id;
  j["timestamp"] = base::FormatRfc3339Millis(ev.time_ms);
  if (!ev.source.empty()) j["source"] = ev.source;
  if (!ev.labels.empty()) {
    nlohmann::ordered_json& l = j["labels"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : ev.labels) l[k] = v;
  }
  if (!ev.values.empty()) {
    nlohmann::ordered_json& l = j["values"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : ev.values) l[k] = v;
  }
  if (!ev.message.empty()) j["message"] = ev.message;
  return j;
}

}  // namespace reflex::actions
