// Helpers for the executor-side action tests: a temporary directory removed on exit,
// bounded condition waits, decision JSON builders and file line counting.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "temp_dir.h"

namespace reflex::actions::test {

using reflex::test::TempDir;

// Polls `cond` every 10 ms for up to `timeout`; true once it holds.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

struct ActionRef {
  std::string name;
  std::map<std::string, std::string> params;
};

// A decision JSON line as engine/decision.h writes it, with one match.
inline std::string Decision(const std::string& event_id, const std::vector<ActionRef>& actions,
                            const std::string& table = "t", const std::string& row = "r1") {
  nlohmann::json acts = nlohmann::json::array();
  for (const auto& a : actions) acts.push_back({{"name", a.name}, {"params", a.params}});
  nlohmann::json d = {{"event_id", event_id},
                      {"event_time", "2026-11-24T03:00:00.000Z"},
                      {"decided_at", "2026-11-24T03:00:00.000Z"},
                      {"verdict", "known"},
                      {"ruleset", "v-test"},
                      {"matches",
                       {{{"table", table},
                         {"row", row},
                         {"file", "tables/t.csv"},
                         {"line", 3},
                         {"actions", acts}}}}};
  return d.dump();
}

inline std::string EventJson(const std::string& id, const std::string& host = "web-01") {
  nlohmann::json e = {{"id", id},
                      {"timestamp", "2026-11-24T03:00:00Z"},
                      {"labels", {{"alertname", "DiskFull"}, {"instance", host}}},
                      {"message", "disk full"}};
  return e.dump();
}

inline std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace reflex::actions::test
