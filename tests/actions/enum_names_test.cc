// The actions' enum <-> name tables: every enumerator has a row whose name parses back to it,
// and the name and parse functions answer from the tables (with their error messages).
#include <gtest/gtest.h>

#include "../base/enum_names_test_util.h"
#include "reflex/actions/catalog.h"
#include "reflex/actions/escalations.h"
#include "reflex/actions/hooks.h"
#include "reflex/actions/journal.h"
#include "reflex/actions/notifier.h"

namespace reflex::actions {
namespace {

using enum_test::Enumerators;
using enum_test::ExpectNamesEveryEnumerator;

TEST(ActionsEnumNamesTest, EveryEscalationKindHasAName) {
  ExpectNamesEveryEnumerator(kEscalationKindNames);
  for (EscalationKind k : Enumerators<EscalationKind>()) {
    EXPECT_EQ(EscalationKindName(k), kEscalationKindNames.Name(k));
    auto parsed = ParseEscalationKind(EscalationKindName(k));
    ASSERT_TRUE(parsed.ok()) << EscalationKindName(k);
    EXPECT_EQ(*parsed, k);
  }
  auto bad = ParseEscalationKind("lost");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown escalation kind 'lost' (expected unknown_event, action_failed, "
            "approval_expired or escalate_action)");
}

TEST(ActionsEnumNamesTest, EveryRunOriginHasAName) {
  ExpectNamesEveryEnumerator(kRunOriginNames);
  for (RunOrigin o : Enumerators<RunOrigin>()) EXPECT_EQ(OriginName(o), kRunOriginNames.Name(o));
}

TEST(ActionsEnumNamesTest, EveryEscalationStateHasAName) {
  ExpectNamesEveryEnumerator(kEscalationStateNames);
  for (EscalationState s : Enumerators<EscalationState>()) {
    EXPECT_EQ(EscalationStateName(s), kEscalationStateNames.Name(s));
    auto parsed = ParseEscalationState(EscalationStateName(s));
    ASSERT_TRUE(parsed.ok()) << EscalationStateName(s);
    EXPECT_EQ(*parsed, s);
  }
  auto bad = ParseEscalationState("closed");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "unknown escalation state 'closed' (expected open, acknowledged or resolved)");
}

TEST(ActionsEnumNamesTest, EveryRecordOutcomeHasAName) {
  ExpectNamesEveryEnumerator(kRecordOutcomeNames);
  for (RecordOutcome o : Enumerators<RecordOutcome>()) {
    EXPECT_EQ(OutcomeName(o), kRecordOutcomeNames.Name(o));
  }
}

TEST(ActionsEnumNamesTest, EveryRunStateHasAName) {
  ExpectNamesEveryEnumerator(kRunStateNames);
  for (RunState s : Enumerators<RunState>()) {
    EXPECT_EQ(StateName(s), kRunStateNames.Name(s));
    EXPECT_EQ(ParseState(StateName(s)), s);
  }
  EXPECT_EQ(ParseState("done"), std::nullopt);
}

TEST(ActionsEnumNamesTest, EveryActionEventHasAName) {
  ExpectNamesEveryEnumerator(kActionEventNames);
  for (ActionEventKind k : Enumerators<ActionEventKind>()) {
    EXPECT_EQ(ActionEventName(k), kActionEventNames.Name(k));
  }
}

TEST(ActionsEnumNamesTest, EveryActionAndNotifierEnumHasAName) {
  ExpectNamesEveryEnumerator(kActionKindNames);
  for (ActionKind k : Enumerators<ActionKind>()) EXPECT_EQ(KindName(k), kActionKindNames.Name(k));
  ExpectNamesEveryEnumerator(kNoticeKindNames);
  for (NoticeKind k : Enumerators<NoticeKind>()) {
    EXPECT_EQ(NoticeKindName(k), kNoticeKindNames.Name(k));
    auto parsed = ParseNoticeKind(NoticeKindName(k));
    ASSERT_TRUE(parsed.ok()) << NoticeKindName(k);
    EXPECT_EQ(*parsed, k);
  }
  ExpectNamesEveryEnumerator(kNotifierKindNames);
  ExpectNamesEveryEnumerator(kPagerDutyActionNames);
}

}  // namespace
}  // namespace reflex::actions
