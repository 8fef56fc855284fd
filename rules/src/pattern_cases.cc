#include "reflex/rules/pattern_cases.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "reflex/base/time.h"
#include "reflex/engine/pattern_stage.h"
#include "reflex/engine/pipeline.h"

namespace reflex::rules {

namespace {

// The start of every case: a fixed instant, so the decisions of a case never depend on
// when it runs.
constexpr int64_t kCaseStartMs = 1767225600000;  // 2026-01-01T00:00:00Z

std::string OutcomeText(const std::string& pattern, engine::PatternOutcome outcome,
                        const std::vector<std::string>* members) {
  std::string s = pattern + " " + std::string(engine::kPatternOutcomeNames.Name(outcome));
  if (members != nullptr) {
    s += " [";
    for (size_t i = 0; i < members->size(); ++i) s += (i ? ", " : "") + (*members)[i];
    s += "]";
  }
  return s;
}

}  // namespace

bool IsPatternCasesFile(std::string_view path) {
  return path.ends_with(".cases.jsonl") &&
         (path.starts_with("patterns/") || path.find("/patterns/") != std::string_view::npos);
}

std::vector<PatternCase> ReadPatternCases(std::string_view text, const std::string& file,
                                          Diagnostics* diags) {
  std::vector<PatternCase> out;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      if (end == text.size()) break;
      continue;
    }
    auto err = [&](const std::string& m) { diags->Error(file, line_no, 1, m); };
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) {
      err("a pattern case is a JSON object on one line");
      continue;
    }
    PatternCase c;
    c.file = file;
    c.line = line_no;
    c.name = j.value("name", "line " + std::to_string(line_no));
    bool ok = true;
    for (const auto& [k, v] : j.items()) {
      if (k != "name" && k != "events" && k != "until" && k != "expect" && k != "expect_verdicts") {
        err("case '" + c.name + "': unknown key '" + k +
            "' (name, events, until, expect, expect_verdicts)");
        ok = false;
      }
    }
    auto duration = [&](const nlohmann::json& v,
                        const std::string& what) -> std::optional<int64_t> {
      if (!v.is_string()) {
        err("case '" + c.name + "': " + what + " is a duration such as \"30s\"");
        return std::nullopt;
      }
      auto d = base::ParseDurationMs(v.get<std::string>());
      if (!d.ok()) {
        err("case '" + c.name + "': " + what + ": " + d.status().message());
        return std::nullopt;
      }
      return *d;
    };
    const auto events = j.find("events");
    if (events == j.end() || !events->is_array() || events->empty()) {
      err("case '" + c.name + "': 'events' is a non-empty list of {at, event}");
      continue;
    }
    for (const auto& e : *events) {
      if (!e.is_object() || !e.contains("event") || !e["event"].is_object()) {
        err("case '" + c.name +
            "': each of 'events' is {\"at\": \"<duration>\", \"event\": {...}}");
        ok = false;
        break;
      }
      int64_t at = 0;
      if (e.contains("at")) {
        auto d = duration(e["at"], "'at'");
        if (!d) {
          ok = false;
          break;
        }
        at = *d;
      }
      c.events.emplace_back(at, e["event"].dump());
    }
    if (j.contains("until")) {
      auto d = duration(j["until"], "'until'");
      if (!d) ok = false;
      c.until_ms = d;
    }
    const auto expect = j.find("expect");
    if (expect == j.end() || !expect->is_array()) {
      err("case '" + c.name + "': 'expect' is the list of outcomes, [] for none");
      continue;
    }
    for (const auto& x : *expect) {
      PatternCase::Expect want;
      const auto outcome = x.is_object() && x.contains("outcome") && x["outcome"].is_string()
                               ? engine::kPatternOutcomeNames.Parse(x["outcome"].get<std::string>())
                               : std::nullopt;
      if (!x.is_object() || !x.contains("pattern") || !x["pattern"].is_string() || !outcome) {
        err("case '" + c.name + "': each of 'expect' is {\"pattern\": \"<name>\", \"outcome\": " +
            std::string(engine::kPatternOutcomeNames.List()) + "}");
        ok = false;
        break;
      }
      want.pattern = x["pattern"].get<std::string>();
      want.outcome = *outcome;
      if (x.contains("members")) {
        std::vector<std::string> m;
        for (const auto& id : x["members"]) {
          if (id.is_string()) m.push_back(id.get<std::string>());
        }
        want.members = std::move(m);
      }
      c.expect.push_back(std::move(want));
    }
    if (j.contains("expect_verdicts")) {
      if (!j["expect_verdicts"].is_object()) {
        err("case '" + c.name + "': 'expect_verdicts' maps event ids to verdicts");
        ok = false;
      } else {
        for (const auto& [id, v] : j["expect_verdicts"].items()) {
          const auto verdict =
              v.is_string() ? engine::kVerdictNames.Parse(v.get<std::string>()) : std::nullopt;
          if (!verdict) {
            err("case '" + c.name + "': verdict of '" + id + "' is one of " +
                std::string(engine::kVerdictNames.List()));
            ok = false;
            continue;
          }
          c.expect_verdicts[id] = *verdict;
        }
      }
    }
    if (ok) out.push_back(std::move(c));
  }
  return out;
}

std::vector<PatternCaseOutcome> RunPatternCases(const engine::CompiledRuleSet& rules,
                                                const std::vector<PatternCase>& cases) {
  std::vector<PatternCaseOutcome> out;
  std::shared_ptr<const engine::CompiledRuleSet> shared(&rules, [](const auto*) {});
  for (const PatternCase& c : cases) {
    PatternCaseOutcome& o = out.emplace_back();
    o.test = &c;
    auto stage = engine::PatternStage::Create(shared);
    if (!stage) {
      o.detail = "the rule set has no patterns";
      continue;
    }
    engine::Pipeline pipeline(shared, engine::EventLimits::Unbounded());
    std::vector<engine::PatternDecision> got;
    std::map<std::string, engine::Verdict> verdicts;
    int64_t now = kCaseStartMs;
    std::string error;
    for (const auto& [at, json] : c.events) {
      const int64_t t = kCaseStartMs + at;
      now = std::max(now, t);
      stage->Advance(now, &got);
      if (engine::Status s = pipeline.Process(json, t, nullptr); !s.ok()) {
        error = "event at " + std::to_string(at) + " ms: " + s.message();
        break;
      }
      if (stage->Observe(pipeline.event(), pipeline.result().verdict, t, now, &got)) {
        pipeline.MarkPending();
      }
      verdicts[pipeline.event().id] = pipeline.result().verdict;
    }
    if (!error.empty()) {
      o.detail = error;
      continue;
    }
    if (c.until_ms) stage->Advance(std::max(now, kCaseStartMs + *c.until_ms) + 1, &got);
    std::string why;
    for (size_t i = 0; i < std::max(got.size(), c.expect.size()) && why.empty(); ++i) {
      std::string want = "none", have = "none";
      if (i < c.expect.size()) {
        const auto& e = c.expect[i];
        want = OutcomeText(e.pattern, e.outcome, e.members ? &*e.members : nullptr);
        if (i < got.size()) {
          have = OutcomeText(got[i].name, got[i].outcome, e.members ? &got[i].member_ids : nullptr);
        }
      } else {
        have = OutcomeText(got[i].name, got[i].outcome, nullptr);
      }
      if (want != have) {
        why = "outcome " + std::to_string(i + 1) + ": expected " + want + ", got " + have;
      }
    }
    for (const auto& [id, want] : c.expect_verdicts) {
      if (!why.empty()) break;
      auto it = verdicts.find(id);
      if (it == verdicts.end()) {
        why = "no event '" + id + "' in the case";
      } else if (it->second != want) {
        why = "event '" + id + "': expected " + engine::VerdictName(want) + ", got " +
              engine::VerdictName(it->second);
      }
    }
    o.passed = why.empty();
    o.detail = why;
  }
  return out;
}

}  // namespace reflex::rules
