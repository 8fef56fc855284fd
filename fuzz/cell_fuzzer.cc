// Fuzz target: reflex::rules::ParseCondition (the condition-cell language) and SplitArgs.
// Invariants: an error has a message and an offset within the cell (0 = whole cell, else
// 1..size+1); a parsed condition evaluates without crashing on text, numbers, a timestamp
// and a missing field, is deterministic, and a negated function form (`not f(..)`) is the
// exact complement of `f(..)` on present values; numeric ranges are never empty or NaN.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "reflex/engine/condition.h"
#include "reflex/rules/cell.h"

using reflex::engine::Condition;
using reflex::engine::FieldValue;
using reflex::engine::Op;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // cells are short; long ones only slow regex compilation
  const std::string_view cell = reflex::fuzz::AsText(data, size);
  const int tz = size > 0 ? (data[0] % 3 == 0 ? 0 : data[0] % 3 == 1 ? 330 : -300) : 0;
  const reflex::rules::CellResult r = reflex::rules::ParseCondition(cell, tz);
  if (!r.ok) {
    REFLEX_FUZZ_CHECK(!r.error.message.empty(), "error without a message");
    REFLEX_FUZZ_CHECK(r.error.offset >= 0 && r.error.offset <= static_cast<int>(size) + 1,
                      r.error.message.c_str());
  } else {
    const Condition& c = r.condition;
    if (c.op() == Op::kLess) {
      REFLEX_FUZZ_CHECK(!std::isnan(c.range().lo) && !std::isnan(c.range().hi), "NaN bound");
      REFLEX_FUZZ_CHECK(c.range().lo <= c.range().hi, "empty range accepted");
    }
    if (c.op() == Op::kEq) REFLEX_FUZZ_CHECK(c.strings().size() == 1, "= has one value");
    const FieldValue probes[] = {
        FieldValue(),
        FieldValue::Text(cell),
        FieldValue::Text(""),
        FieldValue::Text("critical"),
        FieldValue::Text("10.1.2.3"),
        FieldValue::Text("2001:db8::1"),
        FieldValue::Number(90),
        FieldValue::Number(-1.5e300),
        FieldValue::Number(1795600800000.0),  // a timestamp, ms
        FieldValue::Number(std::nan("")),
    };
    for (const FieldValue& v : probes) {
      const bool a = c.Evaluate(v);
      REFLEX_FUZZ_CHECK(a == c.Evaluate(v), "Evaluate is not deterministic");
    }
    REFLEX_FUZZ_CHECK(!c.Describe().empty(), "empty description");
    // `not f(...)` must be the complement of `f(...)` for present values.
    const std::string_view trimmed =
        cell.substr(std::min(cell.find_first_not_of(" \t"), cell.size()));
    if (c.op() != Op::kAny && trimmed.substr(0, 4) != "not " && trimmed.substr(0, 4) != "NOT " &&
        trimmed.find('(') != std::string_view::npos && trimmed.back() == ')' &&
        (trimmed[0] >= 'a' && trimmed[0] <= 'z')) {
      const reflex::rules::CellResult n =
          reflex::rules::ParseCondition("not " + std::string(cell), tz);
      if (n.ok && c.op() != Op::kExists && c.op() != Op::kMissing) {
        for (size_t i = 1; i < sizeof(probes) / sizeof(probes[0]); ++i) {
          REFLEX_FUZZ_CHECK(n.condition.Evaluate(probes[i]) != c.Evaluate(probes[i]),
                            "`not f()` is not the complement of f()");
        }
      }
    }
  }
  std::vector<std::string> args;
  std::string err;
  if (!reflex::rules::SplitArgs(cell, &args, &err)) {
    REFLEX_FUZZ_CHECK(!err.empty(), "SplitArgs failed without a reason");
  }
  return 0;
}
