// The engine's enum <-> name tables: every enumerator has a row whose name parses back to it,
// and the name functions answer from the tables.
#include <gtest/gtest.h>

#include "../base/enum_names_test_util.h"
#include "reflex/engine/condition.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/rule_model.h"

namespace reflex::engine {
namespace {

using enum_test::Enumerators;
using enum_test::ExpectNamesEveryEnumerator;

TEST(EngineEnumNamesTest, EveryVerdictHasAName) {
  ExpectNamesEveryEnumerator(kVerdictNames);
  for (Verdict v : Enumerators<Verdict>()) {
    EXPECT_EQ(VerdictName(v), kVerdictNames.Name(v));
  }
  EXPECT_EQ(kVerdictNames.List(), "known, suppressed, unknown, pending");
}

TEST(EngineEnumNamesTest, EveryHitPolicyHasAName) {
  ExpectNamesEveryEnumerator(kHitPolicyNames);
  for (HitPolicy p : Enumerators<HitPolicy>()) {
    EXPECT_EQ(HitPolicyName(p), kHitPolicyNames.Name(p));
  }
  EXPECT_EQ(kHitPolicyNames.List(), "first, unique, collect, priority");
}

TEST(EngineEnumNamesTest, EveryOperatorHasAName) {
  ExpectNamesEveryEnumerator(kOpNames);
  for (Op op : Enumerators<Op>()) {
    EXPECT_EQ(OpName(op), kOpNames.Name(op));
  }
  EXPECT_EQ(kOpNames.Parse("range"), Op::kLess);
  EXPECT_EQ(kOpNames.Parse("time"), Op::kTimeOfDay);
}

}  // namespace
}  // namespace reflex::engine
