// Test cases of multi-event patterns: timed event sequences and the outcomes they must give,
// run by `reflex test` and by every reload (a failing case refuses the rule set, like a
// table's). `patterns/<name>.cases.jsonl`, one case per line:
//
//   {"name":"three OOM kills in a minute",
//    "events":[{"at":"0s","event":{"id":"o1","labels":{"alertname":"OOMKill","instance":"h"}}},
//              {"at":"20s","event":{...}}, {"at":"40s","event":{...}}],
//    "until":"15m",
//    "expect":[{"pattern":"oom-storm","outcome":"matched","members":["o1","o2","o3"]}],
//    "expect_verdicts":{"o1":"pending"}}
//
// `at`: when the event comes, from the case's start (a duration; events may come out of
// order, which is how late events are tested). The clock of the case is the latest time
// seen, as in `reflex replay`: before each event the timers due by then fire. `until`
// (optional): the clock runs on to this time after the last event, so windows close and
// absences fire. `expect`: every outcome, in the order they came: pattern name, outcome
// (matched, absent, timed_out, evicted) and, optionally, the member ids. `expect_verdicts`
// (optional): the verdict of given events (pending, known, unknown, suppressed).
//
// Thread-safety: pure functions; the results are plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/engine/correlation.h"
#include "reflex/engine/matcher.h"
#include "reflex/rules/diagnostics.h"

namespace reflex::rules {

struct PatternCase {
  std::string name;
  std::string file;
  int line = 0;
  std::vector<std::pair<int64_t, std::string>> events;  // (at, event JSON)
  std::optional<int64_t> until_ms;
  struct Expect {
    std::string pattern;
    engine::PatternOutcome outcome = engine::PatternOutcome::kMatched;
    std::optional<std::vector<std::string>> members;
  };
  std::vector<Expect> expect;
  std::map<std::string, engine::Verdict> expect_verdicts;
};

// Whether `path` names a pattern cases file (patterns/*.cases.jsonl).
bool IsPatternCasesFile(std::string_view path);

std::vector<PatternCase> ReadPatternCases(std::string_view text, const std::string& file,
                                          Diagnostics* diags);

struct PatternCaseOutcome {
  const PatternCase* test = nullptr;
  bool passed = false;
  std::string detail;  // why it failed: "outcome 1: expected oom-storm matched, got none"
};

// Runs each case on a fresh pattern state of `rules` (its tables decide each event first).
std::vector<PatternCaseOutcome> RunPatternCases(const engine::CompiledRuleSet& rules,
                                                const std::vector<PatternCase>& cases);

}  // namespace reflex::rules
