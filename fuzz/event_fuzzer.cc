// Fuzz target: reflex::engine::EventParser (event JSON) and the helpers around it.
// Invariants: a parsed event has an id and its raw bytes; label and value names are unique
// and no more than the caps (EventLimits) allow; every label, the message and the decision
// JSON of a small rule set escape to valid JSON that reads back; RFC 3339: whatever
// base::ParseRfc3339Millis accepts (from the input, and from the event's own time) formats and
// parses back to the same millisecond within years 0-9999; FieldPath::Parse of its own canonical
// text is stable.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "fuzz_check.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/engine/decision.h"
#include "reflex/engine/event.h"
#include "reflex/engine/pipeline.h"

using namespace reflex::engine;
namespace base = reflex::base;

namespace {

// 0000-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z
constexpr int64_t kMinMs = -62167219200000;
constexpr int64_t kMaxMs = 253402300799999;

void CheckRfc3339RoundTrip(int64_t ms) {
  if (ms < kMinMs || ms > kMaxMs) return;
  const std::string text = base::FormatRfc3339Millis(ms);
  auto back = base::ParseRfc3339Millis(text);
  REFLEX_FUZZ_CHECK(back.ok(), text.c_str());
  REFLEX_FUZZ_CHECK(*back == ms, text.c_str());
}

void CheckJsonString(std::string_view s) {
  std::string lit;
  base::AppendJsonString(s, &lit);
  auto j = nlohmann::json::parse(lit, nullptr, false);
  REFLEX_FUZZ_CHECK(!j.is_discarded() && j.is_string(),
                    "base::AppendJsonString output is not JSON");
  if (base::IsValidUtf8(s)) {
    REFLEX_FUZZ_CHECK(j.get<std::string>() == s, "base::AppendJsonString does not round-trip");
  }
}

std::shared_ptr<const CompiledRuleSet> Rules() {
  // alertname = x -> page(host={{labels.instance}}); message contains "disk" -> ignore.
  std::vector<TableSpec> tables(1);
  TableSpec& t = tables[0];
  t.name = "fuzz";
  t.hit_policy = HitPolicy::kCollect;
  t.columns.push_back({*FieldPath::Parse("alertname"), {}});
  t.columns.push_back({*FieldPath::Parse("message"), {}});
  t.columns.push_back({*FieldPath::Parse("payload.a[0]"), {}});
  RowSpec r1;
  r1.id = "r1";
  r1.conditions = {Condition::Equals("x"), Condition::Any(), Condition::Any()};
  r1.condition_where.resize(3);
  ActionSpec page{"page", {}};
  page.params.emplace_back("host", *Template::Parse("{{labels.instance}}/{{payload.a[0]}}"));
  r1.actions.push_back(std::move(page));
  RowSpec r2;
  r2.id = "r2";
  r2.conditions = {Condition::Any(), Condition::Contains({"disk"}), Condition::Exists()};
  r2.condition_where.resize(3);
  r2.actions.push_back(ActionSpec{"ignore", {}});
  t.rows = {r1, r2};
  auto rs = CompiledRuleSet::Create(std::move(tables), {}, "fuzz");
  REFLEX_FUZZ_CHECK(rs.ok(), rs.status().ToString().c_str());
  return *rs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > reflex::fuzz::kMaxInput) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  static const std::shared_ptr<const CompiledRuleSet> rules = Rules();
  static Pipeline pipeline(rules);

  // The input as a timestamp and as a field path.
  if (auto ms = base::ParseRfc3339Millis(text); ms.ok()) CheckRfc3339RoundTrip(*ms);
  if (auto p = FieldPath::Parse(text); p.ok()) {
    auto again = FieldPath::Parse(p->text());
    REFLEX_FUZZ_CHECK(again.ok() && again->text() == p->text(), p->text().c_str());
  }
  CheckJsonString(text);

  std::string decision;
  Status s = pipeline.Process(text, 1795600800000, &decision);
  if (!s.ok()) {
    REFLEX_FUZZ_CHECK(!s.message().empty(), "error without a reason");
    REFLEX_FUZZ_CHECK(decision.empty(), "a failed event appended a decision");
    return 0;
  }
  const Event& ev = pipeline.event();
  REFLEX_FUZZ_CHECK(!ev.id.empty(), "event without an id");
  REFLEX_FUZZ_CHECK(!ev.raw.empty() && text.find(ev.raw) == 0, "raw is not the input");
  std::set<std::string> names;
  for (const auto& [k, v] : ev.labels) {
    REFLEX_FUZZ_CHECK(names.insert(k).second, "duplicate label name");
    CheckJsonString(k);
    CheckJsonString(v);
  }
  std::set<std::string> value_names;
  for (const auto& kv : ev.values) {
    REFLEX_FUZZ_CHECK(value_names.insert(kv.first).second, "duplicate value name");
  }
  const EventLimits caps;  // the pipeline's (default) caps
  REFLEX_FUZZ_CHECK(ev.labels.size() <= caps.max_labels, "more labels than the cap");
  REFLEX_FUZZ_CHECK(ev.values.size() <= caps.max_values, "more values than the cap");
  CheckJsonString(ev.message);
  CheckRfc3339RoundTrip(ev.time_ms);
  auto j = nlohmann::json::parse(decision, nullptr, false);
  REFLEX_FUZZ_CHECK(!j.is_discarded() && j.is_object(), decision.c_str());
  REFLEX_FUZZ_CHECK(j.contains("verdict"), decision.c_str());
  return 0;
}
