// W1: the standard workload of PERFORMANCE.md, generated deterministically (fixed seed).
//
// Rows (row i of n): `alertname = Alert{i/4}`, `severity` = {critical, warning, info, page}
// by `i % 4`, `usage >= (7*i) % 100` -> action `job{i % 50}`; hit policy `first`.
// Events: 90 % carry a known alertname (Alert0 .. Alert{n/4-1}), 10 % an unknown one;
// severity uniform; `usage` uniform 0-99; labels also carry `instance` and `job`, and a short
// `message`. Two sizes of event JSON: ~220 bytes (kSmall) and ~500 bytes (kLarge: more
// labels, a longer message).
//
// The same table is available as a TableSpec (for CompiledRuleSet::Create) and as the CSV
// text an operator would save (for the rules reader / loader).
// Thread-safety: pure functions; every call with the same arguments returns the same data.
//
//   w1::Workload w = w1::Make(10'000, 4096, w1::EventSize::kSmall);
//   auto rules = w1::Compile(w1::Table(10'000));
//   for (const Event& ev : w.events) (*rules)->Match(ev, &scratch, &result);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reflex/engine/event.h"
#include "reflex/engine/labeling.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/rule_model.h"

namespace w1 {

inline constexpr uint64_t kSeed = 20261124;

enum class EventSize { kSmall, kLarge };

// The W1 decision table with `rows` rows.
reflex::engine::TableSpec Table(size_t rows);

// The same table as CSV text (property rows, header, one line per row).
std::string TableCsv(size_t rows);

// W1 but with a regex column: row i is `message = /disk .* on host{i}\b/` (a regex cell,
// compiled into the matcher's RE2::Set), plus the severity column of W1.
reflex::engine::TableSpec RegexTable(size_t rows);

// `count` event JSON lines for a table of `rows` W1 rows (alertnames known for 90 %).
std::vector<std::string> EventJson(size_t rows, size_t count, EventSize size,
                                   uint64_t seed = kSeed);

// `count` events parsed from EventJson (with the same arguments).
std::vector<reflex::engine::Event> Events(size_t rows, size_t count, EventSize size,
                                          uint64_t seed = kSeed);

// `patterns` extraction rules on `message`, each `error E{k} in (?P<module>\w+)` style, so
// an RE2::Set pass over the ~200-byte message selects the one that applies.
reflex::engine::LabelingSpec RegexLabeling(size_t patterns);

// Compiles tables (and labeling) into a rule set; aborts with a message on error (a bench
// with a broken workload must not report numbers).
std::shared_ptr<const reflex::engine::CompiledRuleSet> Compile(
    std::vector<reflex::engine::TableSpec> tables, reflex::engine::LabelingSpec labeling = {});

// Average size in bytes of the given lines.
double AverageBytes(const std::vector<std::string>& lines);

}  // namespace w1
