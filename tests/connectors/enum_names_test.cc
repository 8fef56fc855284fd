// The connectors' enum <-> name tables: every enumerator has a row whose name parses back to
// it, and the name and parse functions answer from the tables.
#include <gtest/gtest.h>

#include "../base/enum_names_test_util.h"
#include "reflex/connectors/log.h"
#include "reflex/connectors/mapping.h"
#include "reflex/connectors/rule_store.h"

namespace reflex::connectors {
namespace {

using enum_test::Enumerators;
using enum_test::ExpectNamesEveryEnumerator;

TEST(ConnectorsEnumNamesTest, EveryLogLevelHasAName) {
  ExpectNamesEveryEnumerator(kLogLevelNames);
  for (LogLevel l : Enumerators<LogLevel>()) {
    EXPECT_EQ(LogLevelName(l), kLogLevelNames.Name(l));
    auto parsed = ParseLogLevel(LogLevelName(l));
    ASSERT_TRUE(parsed.ok()) << LogLevelName(l);
    EXPECT_EQ(*parsed, l);
  }
  auto bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown log level 'loud' (expected debug, info, warn or error)");
}

TEST(ConnectorsEnumNamesTest, EveryReloadOutcomeHasAName) {
  ExpectNamesEveryEnumerator(kReloadOutcomeNames);
  for (ReloadResult::Outcome o : Enumerators<ReloadResult::Outcome>()) {
    EXPECT_EQ(OutcomeName(o), kReloadOutcomeNames.Name(o));
  }
  EXPECT_EQ(kReloadOutcomeNames.List(), "swapped, unchanged, refused");
}

TEST(ConnectorsEnumNamesTest, EveryMappingKindHasAName) {
  ExpectNamesEveryEnumerator(kMappingKindNames);
  for (MappingKind k : Enumerators<MappingKind>()) {
    EXPECT_EQ(MappingKindName(k), kMappingKindNames.Name(k));
  }
}

}  // namespace
}  // namespace reflex::connectors
