// JSON helpers shared inside reflex::actions (decisions, rendered requests).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace reflex::actions
