// Silences and inhibition (silence.h, mute.h): matcher strings and Alertmanager v2 payloads
// accepted and refused as Alertmanager does, silence states, the indexed SilenceSet held
// equal to a plain scan, inhibition semantics, and the decision of a muted event.
#include "reflex/engine/silence.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "reflex/engine/mute.h"
#include "reflex/engine/pipeline.h"
#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::Action;
using testing::AddRow;
using testing::MakeTable;
using testing::ParseEvent;

constexpr int64_t kT0 = 1764000000000;  // 2025-11-24T16:00:00Z
constexpr int64_t kHour = 3600 * 1000;

LabelMatcher M(std::string name, std::string value, bool is_regex = false, bool is_equal = true) {
  return LabelMatcher{std::move(name), std::move(value), is_regex, is_equal};
}

std::vector<LabelMatcher> Parse(std::string_view text) {
  auto r = ParseMatchers(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : std::vector<LabelMatcher>{};
}

std::string ParseError(std::string_view text) {
  auto r = ParseMatchers(text);
  EXPECT_FALSE(r.ok()) << text << " was accepted";
  return r.ok() ? "" : r.status().message();
}

Silence MakeSilence(std::string id, std::vector<LabelMatcher> m, int64_t start = kT0,
                    int64_t end = kT0 + kHour) {
  Silence s;
  s.id = std::move(id);
  s.matchers = std::move(m);
  s.starts_at_ms = start;
  s.ends_at_ms = end;
  s.created_by = "alice";
  s.comment = "maintenance";
  return s;
}

// ---- matcher strings ----------------------------------------------------------------------

TEST(MatcherParseTest, AcceptsWhatAmtoolAccepts) {
  EXPECT_EQ(Parse(R"(alertname="X")"), (std::vector{M("alertname", "X")}));
  EXPECT_EQ(Parse(R"(instance=~"db-.*")"), (std::vector{M("instance", "db-.*", true)}));
  EXPECT_EQ(Parse("severity!=info"), (std::vector{M("severity", "info", false, false)}));
  EXPECT_EQ(Parse(R"(job!~"a|b")"), (std::vector{M("job", "a|b", true, false)}));
  EXPECT_EQ(Parse("job!~a|b"), (std::vector{M("job", "a|b", true, false)}));
  const std::vector<LabelMatcher> two = {M("alertname", "DiskFull"), M("instance", "db-.*", true)};
  EXPECT_EQ(Parse(R"({alertname="DiskFull", instance=~"db-.*"})"), two);
  EXPECT_EQ(Parse(R"(alertname="DiskFull",instance=~"db-.*")"), two);
  EXPECT_EQ(Parse("alertname=DiskFull instance=~db-.*"), two);
  EXPECT_EQ(Parse(" { alertname = DiskFull , instance =~ \"db-.*\" , } "), two);
  EXPECT_EQ(Parse(R"(msg="say \"hi\"\\now")"), (std::vector{M("msg", "say \"hi\"\\now")}));
  EXPECT_EQ(Parse(R"(a="x,y} z")"), (std::vector{M("a", "x,y} z")}));
  EXPECT_EQ(Parse(R"(a="")"), (std::vector{M("a", "")}));
  EXPECT_EQ(Parse("a="), (std::vector{M("a", "")}));
  EXPECT_TRUE(Parse("").empty());
  EXPECT_TRUE(Parse("{}").empty());
  EXPECT_EQ(Parse("a=1\tb=2\n"), (std::vector{M("a", "1"), M("b", "2")}));
}

TEST(MatcherParseTest, RefusesBadTextWithItsColumn) {
  EXPECT_EQ(ParseError("alertname"),
            "column 10: expected an operator (=, !=, =~, !~) after label name \"alertname\", "
            "found the end of the text");
  EXPECT_EQ(ParseError("severity<3"),
            "column 9: expected an operator (=, !=, =~, !~) after label name \"severity\", "
            "found '<'");
  EXPECT_EQ(ParseError("1abc=x"),
            "column 1: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), found '1'");
  EXPECT_EQ(ParseError(R"({a="b")"), "column 7: missing '}' to close the '{' at column 1");
  EXPECT_EQ(ParseError(R"(a="b)"), "column 3: unterminated quoted value (no closing '\"')");
  EXPECT_EQ(ParseError(R"(a="b"c="d")"),
            "column 6: expected ',' or a blank between matchers, found 'c'");
  EXPECT_EQ(ParseError("a=b}"), "column 4: expected ',' or a blank between matchers, found '}'");
  EXPECT_EQ(ParseError("{a=b}}"), "column 6: unexpected '}' after '}'");
  EXPECT_EQ(ParseError(R"(a=x"y")"),
            "column 4: unexpected '\"' inside the bare value of \"a\" (quote the whole value)");
  EXPECT_NE(ParseError(R"(a="\d")").find("column 4: invalid escape '\\d'"), std::string::npos);
  EXPECT_NE(ParseError("a=b,,c=d").find("column 5: expected a label name"), std::string::npos);
  EXPECT_NE(ParseError("a-b=c").find("column 2: expected an operator"), std::string::npos);
}

TEST(MatcherParseTest, ToStringParsesBack) {
  for (const auto& m : {M("a", "x\"y\\z\n"), M("b", "a|b", true, false), M("c", "", false, false),
                        M("d", "db-.*", true)}) {
    EXPECT_EQ(Parse(m.ToString()), std::vector{m}) << m.ToString();
  }
}

// ---- matching ----------------------------------------------------------------------------

bool Matches(const LabelMatcher& spec, const Event& ev) {
  auto m = CompiledMatcher::Create(spec);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() && m->Matches(ev);
}

TEST(LabelMatcherTest, RegexIsFullyAnchoredAndAbsentLabelsAreEmpty) {
  const Event ev = ParseEvent(R"({"labels":{"instance":"db-1","alertname":"DiskFull"}})");
  EXPECT_TRUE(Matches(M("instance", "db-.*", true), ev));
  EXPECT_FALSE(Matches(M("instance", "db", true), ev));      // not a substring search
  EXPECT_FALSE(Matches(M("instance", "b-1", true), ev));     // anchored at the start
  EXPECT_TRUE(Matches(M("instance", "db|db-1", true), ev));  // the alternation is grouped
  EXPECT_FALSE(Matches(M("instance", "db-.*", true, false), ev));
  // A label the event does not carry is "".
  EXPECT_TRUE(Matches(M("team", ""), ev));
  EXPECT_TRUE(Matches(M("team", "web", false, false), ev));
  EXPECT_TRUE(Matches(M("team", ".*", true), ev));
  EXPECT_FALSE(Matches(M("team", ".+", true), ev));
  EXPECT_FALSE(Matches(M("team", "web"), ev));
}

TEST(LabelMatcherTest, InvalidMatchersAreRefused) {
  EXPECT_NE(CompiledMatcher::Create(M("a-b", "x")).status().message().find("invalid label name"),
            std::string::npos);
  EXPECT_NE(CompiledMatcher::Create(M("a", "(", true))
                .status()
                .message()
                .find("invalid regular expression"),
            std::string::npos);
  EXPECT_NE(CompiledMatcher::Create(M("a", "\xff")).status().message().find("UTF-8"),
            std::string::npos);
}

// ---- silences ----------------------------------------------------------------------------

TEST(SilenceTest, ValidatesAsAlertmanager) {
  EXPECT_TRUE(ValidateSilence(MakeSilence("s", {M("alertname", "X")})).ok());
  EXPECT_EQ(ValidateSilence(MakeSilence("s", {})).message(), "at least one matcher required");
  EXPECT_EQ(ValidateSilence(MakeSilence("s", {M("a", ".*", true), M("b", "")})).message(),
            "at least one matcher must not match the empty string");
  EXPECT_EQ(ValidateSilence(MakeSilence("s", {M("a", "x", false, false)})).message(),
            "at least one matcher must not match the empty string");
  EXPECT_TRUE(ValidateSilence(MakeSilence("s", {M("a", ".*", true), M("b", ".+", true)})).ok());
  EXPECT_NE(ValidateSilence(MakeSilence("s", {M("a", "(", true)})).message().find("matcher 1"),
            std::string::npos);
  EXPECT_EQ(ValidateSilence(MakeSilence("s", {M("a", "x")}, kT0, kT0 - 1)).message(),
            "end time must not be before start time");
  Silence no_author = MakeSilence("s", {M("a", "x")});
  no_author.created_by = " ";
  EXPECT_EQ(ValidateSilence(no_author).message(), "createdBy is required");
  Silence no_comment = MakeSilence("s", {M("a", "x")});
  no_comment.comment.clear();
  EXPECT_EQ(ValidateSilence(no_comment).message(), "comment is required");
  // A new silence: start before end, end not in the past.
  EXPECT_EQ(ValidateNewSilence(MakeSilence("s", {M("a", "x")}, kT0, kT0), kT0).message(),
            "start time must be before end time");
  EXPECT_EQ(ValidateNewSilence(MakeSilence("s", {M("a", "x")}), kT0 + 2 * kHour).message(),
            "end time can't be in the past");
  EXPECT_TRUE(ValidateNewSilence(MakeSilence("s", {M("a", "x")}), kT0 + 1).ok());
}

TEST(SilenceTest, StatesFollowTheClock) {
  const Silence s = MakeSilence("s", {M("a", "x")}, kT0, kT0 + kHour);
  EXPECT_EQ(StateAt(s, kT0 - 1), SilenceState::kPending);
  EXPECT_EQ(StateAt(s, kT0), SilenceState::kActive);
  EXPECT_EQ(StateAt(s, kT0 + kHour - 1), SilenceState::kActive);
  EXPECT_EQ(StateAt(s, kT0 + kHour), SilenceState::kExpired);
}

TEST(SilenceJsonTest, AcceptsAlertmanagerV2Body) {
  // What amtool and the Alertmanager UI send (isEqual optional, extra keys ignored).
  auto s = ParseSilenceJson(R"({
    "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true},
                 {"name": "instance", "value": "db-.*", "isRegex": true}],
    "startsAt": "2025-11-24T16:00:00.000Z", "endsAt": "2025-11-24T18:00:00Z",
    "createdBy": "alice", "comment": "disk swap", "status": {"state": "active"}})");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->matchers,
            (std::vector{M("alertname", "DiskFull"), M("instance", "db-.*", true, true)}));
  EXPECT_EQ(s->starts_at_ms, kT0);
  EXPECT_EQ(s->ends_at_ms, kT0 + 2 * kHour);
  EXPECT_EQ(s->created_by, "alice");
  EXPECT_TRUE(s->id.empty());
  EXPECT_TRUE(ValidateNewSilence(*s, kT0).ok());
  // Round trip through the GettableSilence form.
  auto back = ParseSilenceJson(SilenceJson(*s, kT0));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->matchers, s->matchers);
  EXPECT_EQ(nlohmann::json::parse(SilenceJson(*s, kT0))["status"]["state"], "active");
}

// Alertmanager's GET filter: each filter matcher must name a label the silence has a
// matcher for and match that matcher's value.
TEST(SilenceTest, FilterMatchesTheSilencesOwnMatcherValues) {
  Silence s;
  s.matchers = {{"alertname", "DiskFull"}, {"instance", "db-.*", true, true}};
  auto filter = [](const std::string& text) {
    auto m = ParseMatchers(text);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    auto c = CompileMatchers(*m);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return *c;
  };
  EXPECT_TRUE(SilenceMatchesFilter(s, {}));
  EXPECT_TRUE(SilenceMatchesFilter(s, filter(R"(alertname="DiskFull")")));
  EXPECT_TRUE(SilenceMatchesFilter(s, filter(R"(alertname=~"Disk.*", instance="db-.*")")));
  EXPECT_FALSE(SilenceMatchesFilter(s, filter(R"(alertname="CpuHigh")")));
  EXPECT_FALSE(SilenceMatchesFilter(s, filter(R"(severity="critical")")))
      << "a label the silence has no matcher for";
  EXPECT_FALSE(SilenceMatchesFilter(s, filter(R"(alertname!="DiskFull")")));
}

TEST(SilenceJsonTest, RefusesBadBodiesWithTheReason) {
  const std::string ok_times =
      R"("startsAt":"2025-11-24T16:00:00Z","endsAt":"2025-11-24T18:00:00Z")";
  auto error = [](const std::string& body) {
    auto s = ParseSilenceJson(body);
    EXPECT_FALSE(s.ok()) << body;
    return s.ok() ? std::string() : s.status().message();
  };
  EXPECT_EQ(error("{"), "body is not valid JSON");
  EXPECT_EQ(error("[]"), "body must be a JSON object (a PostableSilence)");
  EXPECT_EQ(error("{" + ok_times + R"(,"createdBy":"a","comment":"c"})"), "matchers is required");
  EXPECT_EQ(error("{" + ok_times + R"(,"comment":"c","matchers":[]})"), "createdBy is required");
  EXPECT_EQ(error("{" + ok_times +
                  R"(,"createdBy":"a","comment":"c","matchers":[{"name":"a","value":"b"}]})"),
            "matchers[0].isRegex is required");
  EXPECT_EQ(error("{" + ok_times +
                  R"(,"createdBy":"a","comment":"c","matchers":[{"name":"a","value":1,)"
                  R"("isRegex":false}]})"),
            "matchers[0].value must be a string");
  EXPECT_NE(error(R"({"startsAt":"yesterday","endsAt":"2025-11-24T18:00:00Z","createdBy":"a",)"
                  R"("comment":"c","matchers":[]})")
                .find("startsAt: "),
            std::string::npos);
}

// ---- SilenceSet --------------------------------------------------------------------------

TEST(SilenceSetTest, FindsTheActiveSilenceThatMatches) {
  auto set = SilenceSet::Create({
      MakeSilence("b-disk", {M("alertname", "DiskFull"), M("instance", "db-.*", true)}),
      MakeSilence("a-later", {M("alertname", "DiskFull")}, kT0 + kHour, kT0 + 2 * kHour),
      MakeSilence("c-any-web", {M("instance", "web-.*", true)}),
      MakeSilence("d-expired", {M("alertname", "CPU")}, kT0 - 2 * kHour, kT0 - kHour),
  });
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  const Event db = ParseEvent(R"({"labels":{"alertname":"DiskFull","instance":"db-1"}})");
  const Event web = ParseEvent(R"({"labels":{"alertname":"DiskFull","instance":"web-1"}})");
  const Event cpu = ParseEvent(R"({"labels":{"alertname":"CPU","instance":"app-1"}})");
  ASSERT_NE((*set)->Silencing(db, kT0), nullptr);
  EXPECT_EQ((*set)->Silencing(db, kT0)->id, "b-disk");
  EXPECT_EQ((*set)->Silencing(web, kT0)->id, "c-any-web");
  EXPECT_EQ((*set)->Silencing(cpu, kT0), nullptr);  // its silence expired
  EXPECT_EQ((*set)->Silencing(cpu, kT0 - kHour - 1)->id, "d-expired");
  // Once pending "a-later" is active it wins (smallest id).
  EXPECT_EQ((*set)->Silencing(db, kT0 + kHour)->id, "a-later");
  EXPECT_EQ((*set)->Silencing(db, kT0 + 2 * kHour), nullptr);
}

// The index gives what a plain scan over every silence gives.
TEST(SilenceSetTest, IndexEqualsAPlainScan) {
  std::mt19937 rng(7);
  const std::vector<std::string> names = {"alertname", "instance", "severity", "team"};
  const std::vector<std::string> values = {"a", "b", "c", ""};
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  std::vector<Silence> silences;
  for (int i = 0; i < 200; ++i) {
    std::vector<LabelMatcher> ms;
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) {
      const int kind = static_cast<int>(rng() % 4);
      ms.push_back(kind < 2 ? M(pick(names), pick(values), false, kind == 0)
                            : M(pick(names), pick(values) + "|" + pick(values), true, kind == 2));
    }
    const int64_t start = kT0 + static_cast<int64_t>(rng() % 3) * kHour;
    silences.push_back(MakeSilence("s" + std::to_string(1000 + i), ms, start, start + kHour));
  }
  auto set = SilenceSet::Create(silences);
  ASSERT_TRUE(set.ok());
  std::vector<std::vector<CompiledMatcher>> compiled;
  for (const auto& s : silences) compiled.push_back(*CompileMatchers(s.matchers));
  for (int i = 0; i < 500; ++i) {
    std::string json = R"({"labels":{)";
    bool first = true;
    for (const auto& n : names) {
      if (rng() % 3 == 0) continue;
      json += (first ? "\"" : ",\"") + n + "\":\"" + pick(values) + "\"";
      first = false;
    }
    json += "}}";
    const Event ev = ParseEvent(json);
    const int64_t now = kT0 + static_cast<int64_t>(rng() % 4) * kHour;
    const Silence* want = nullptr;
    for (size_t k = 0; k < silences.size(); ++k) {
      if (StateAt(silences[k], now) == SilenceState::kActive && MatchesAll(compiled[k], ev) &&
          (want == nullptr || silences[k].id < want->id)) {
        want = &silences[k];
      }
    }
    const Silence* got = (*set)->Silencing(ev, now);
    ASSERT_EQ(got == nullptr, want == nullptr) << json;
    if (got != nullptr) {
      EXPECT_EQ(got->id, want->id) << json;
    }
  }
}

// ---- inhibition --------------------------------------------------------------------------

std::vector<CompiledInhibitRule> NodeDownRule() {
  InhibitRule r;
  r.name = "node-down-mutes-warnings";
  r.source_matchers = {M("alertname", "NodeDown")};
  r.target_matchers = {M("severity", "warning")};
  r.equal = {"instance"};
  auto c = CompileInhibitRule(r);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return {*c};
}

Event Alert(const std::string& id, const std::string& name, const std::string& instance,
            const std::string& severity, const std::string& status = "firing") {
  return ParseEvent(R"({"id":")" + id + R"(","labels":{"alertname":")" + name +
                    R"(","instance":")" + instance + R"(","severity":")" + severity +
                    R"(","status":")" + status + R"("}})");
}

TEST(InhibitorTest, AFiringSourceMutesTargetsWithEqualLabels) {
  const auto rules = NodeDownRule();
  Inhibitor inh;
  MuteInfo out;
  EXPECT_FALSE(inh.Observe(rules, Alert("d1", "DiskFull", "web1", "warning"), kT0, &out));
  EXPECT_FALSE(inh.Observe(rules, Alert("n1", "NodeDown", "web1", "critical"), kT0, &out));
  ASSERT_TRUE(inh.Observe(rules, Alert("d2", "DiskFull", "web1", "warning"), kT0 + 1, &out));
  EXPECT_EQ(out.kind, MuteInfo::Kind::kInhibition);
  EXPECT_EQ(out.inhibit_rule, "node-down-mutes-warnings");
  EXPECT_EQ(out.source_event_id, "n1");
  // Another instance, or a target that does not match, is not inhibited.
  EXPECT_FALSE(inh.Observe(rules, Alert("d3", "DiskFull", "web2", "warning"), kT0 + 1, &out));
  EXPECT_FALSE(inh.Observe(rules, Alert("d4", "DiskFull", "web1", "critical"), kT0 + 1, &out));
  // The source resolves: nothing is inhibited any more.
  EXPECT_FALSE(
      inh.Observe(rules, Alert("n1r", "NodeDown", "web1", "critical", "resolved"), kT0 + 2, &out));
  EXPECT_FALSE(inh.Observe(rules, Alert("d5", "DiskFull", "web1", "warning"), kT0 + 3, &out));
  EXPECT_EQ(inh.tracked(), 0u);
}

TEST(InhibitorTest, ASourceIsForgottenAfterItsTtl) {
  const auto rules = NodeDownRule();
  Inhibitor inh({.source_ttl_ms = kHour, .max_sources = 10});
  MuteInfo out;
  EXPECT_FALSE(inh.Observe(rules, Alert("n1", "NodeDown", "web1", "critical"), kT0, &out));
  EXPECT_TRUE(
      inh.Observe(rules, Alert("d1", "DiskFull", "web1", "warning"), kT0 + kHour - 1, &out));
  EXPECT_FALSE(inh.Observe(rules, Alert("d2", "DiskFull", "web1", "warning"), kT0 + kHour, &out));
  EXPECT_EQ(inh.tracked(), 0u);
}

TEST(InhibitorTest, AnEventMatchingSourceAndTargetDoesNotInhibitItself) {
  InhibitRule r;
  r.name = "critical-mutes-warning";
  r.source_matchers = {M("severity", "critical|warning", true)};
  r.target_matchers = {M("severity", "warning")};
  r.equal = {"instance"};
  const std::vector<CompiledInhibitRule> rules = {*CompileInhibitRule(r)};
  Inhibitor inh;
  MuteInfo out;
  EXPECT_FALSE(inh.Observe(rules, Alert("w1", "Load", "web1", "warning"), kT0, &out));
  EXPECT_FALSE(inh.Observe(rules, Alert("w1b", "Load", "web1", "warning"), kT0 + 1, &out));
  // Another alert that is a source inhibits it.
  EXPECT_FALSE(inh.Observe(rules, Alert("c1", "Down", "web1", "critical"), kT0 + 2, &out));
  EXPECT_TRUE(inh.Observe(rules, Alert("w1c", "Load", "web1", "warning"), kT0 + 3, &out));
  EXPECT_EQ(out.source_event_id, "c1");
}

TEST(InhibitorTest, TrackedSourcesAreBoundedOldestEvictedAndCounted) {
  const auto rules = NodeDownRule();
  Inhibitor inh({.source_ttl_ms = kHour, .max_sources = 3});
  MuteInfo out;
  for (int i = 0; i < 5; ++i) {
    (void)inh.Observe(
        rules, Alert("n" + std::to_string(i), "NodeDown", "h" + std::to_string(i), "critical"),
        kT0 + i, &out);
  }
  EXPECT_EQ(inh.tracked(), 3u);
  EXPECT_EQ(inh.evicted(), 2);
  EXPECT_FALSE(inh.Observe(rules, Alert("d0", "DiskFull", "h0", "warning"), kT0 + 9, &out));
  EXPECT_TRUE(inh.Observe(rules, Alert("d4", "DiskFull", "h4", "warning"), kT0 + 9, &out));
}

TEST(InhibitRuleTest, RefusesRulesThatWouldMuteEverything) {
  InhibitRule r;
  r.name = "r";
  r.source_matchers = {M("alertname", "A")};
  EXPECT_NE(CompileInhibitRule(r).status().message().find("target_matchers is empty"),
            std::string::npos);
  r.target_matchers = {M("a", "(", true)};
  EXPECT_NE(CompileInhibitRule(r).status().message().find("target_matchers: matcher 1"),
            std::string::npos);
  r.target_matchers = {M("a", "b")};
  r.equal = {"in-stance"};
  EXPECT_NE(CompileInhibitRule(r).status().message().find("equal: invalid label name"),
            std::string::npos);
}

// ---- the decision of a muted event ----------------------------------------------------------

std::shared_ptr<const CompiledRuleSet> DiskRules(std::vector<InhibitRule> inhibit = {}) {
  TableSpec disk = MakeTable("disk", {"alertname"});
  AddRow(&disk, "disk-full", {Condition::Equals("DiskFull")}, {Action("cleanup")});
  auto rs = CompiledRuleSet::Create({disk}, {}, "v1", nullptr, std::move(inhibit));
  EXPECT_TRUE(rs.ok()) << rs.status().ToString();
  return *rs;
}

TEST(MuterTest, ASilencedEventIsSuppressedWithTheSilenceIdAndRunsNothing) {
  Muter muter;
  muter.SetSilences(*SilenceSet::Create({MakeSilence("sil-1", {M("instance", "db-.*", true)})}));
  Pipeline p(DiskRules());
  p.SetMuter(&muter);
  std::string out;
  ASSERT_TRUE(
      p.Process(R"({"id":"e1","labels":{"alertname":"DiskFull","instance":"db-1"}})", kT0, &out)
          .ok());
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["verdict"], "suppressed");
  EXPECT_EQ(j["muted_by"], nlohmann::json({{"silence", "sil-1"}}));
  ASSERT_EQ(j["matches"].size(), 1u);
  EXPECT_EQ(j["matches"][0]["not_run"], std::string(kNotRunSilenced));
  // An unknown event is muted too (it is not escalated).
  out.clear();
  ASSERT_TRUE(
      p.Process(R"({"id":"e2","labels":{"alertname":"Other","instance":"db-2"}})", kT0, &out).ok());
  EXPECT_EQ(nlohmann::json::parse(out)["verdict"], "suppressed");
  // After the silence ends the same event is known again.
  out.clear();
  ASSERT_TRUE(p.Process(R"({"id":"e3","labels":{"alertname":"DiskFull","instance":"db-1"}})",
                        kT0 + kHour, &out)
                  .ok());
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["verdict"], "known");
  EXPECT_FALSE(j.contains("muted_by"));
  EXPECT_FALSE(j["matches"][0].contains("not_run"));
}

// Root cause: web-1 -> app-1 -> db-1. While db-1 has an open incident, events from the
// nodes that depend on it are symptoms: suppressed, their actions not run, linked to db-1
// with the path and the count; db-1's resolved event closes the incident; so does the
// window; an `ignore` row opens nothing; an event without a node is never a symptom.
TEST(MuterTest, EventsOfDependentNodesAreSymptomsOfTheOpenRootIncident) {
  auto node = [](const char* id) {
    TopologyNodeSpec n;
    n.id = id;
    return n;
  };
  auto edge = [](const char* from, const char* to) { return TopologyEdgeSpec{from, to, {}, {}}; };
  base::Diagnostics d;
  auto topo = Topology::Build({node("web-1"), node("app-1"), node("db-1"), node("other")},
                              {edge("web-1", "app-1"), edge("app-1", "db-1")}, &d);
  ASSERT_NE(topo, nullptr);
  TableSpec disk = MakeTable("disk", {"alertname"});
  AddRow(&disk, "disk-full", {Condition::Equals("DiskFull")}, {Action("cleanup")});
  AddRow(&disk, "noise", {Condition::Equals("Noise")}, {Action("ignore")});
  auto rs = CompiledRuleSet::Create({disk}, {}, "v1", topo);
  ASSERT_TRUE(rs.ok()) << rs.status().ToString();
  Muter muter({}, RootCauseOptions{.window_ms = kHour, .max_incidents = 100});
  Pipeline p(*rs);
  p.SetMuter(&muter);
  auto decide = [&](const std::string& id, const std::string& alert, const std::string& inst,
                    int64_t t, const std::string& status = "firing") {
    std::string out;
    EXPECT_TRUE(p.Process(R"({"id":")" + id + R"(","labels":{"alertname":")" + alert +
                              R"(","instance":")" + inst + R"(","status":")" + status + R"("}})",
                          t, &out)
                    .ok());
    return nlohmann::json::parse(out);
  };
  // An ignored event at db-1 opens nothing.
  EXPECT_EQ(decide("n1", "Noise", "db-1", kT0)["verdict"], "suppressed");
  EXPECT_EQ(decide("w0", "DiskFull", "web-1", kT0)["verdict"], "known");
  EXPECT_EQ(muter.open_incidents(), 1u);  // web-1's own
  // The root: db-1 fails (unknown: nobody knows the alert; it is escalated).
  EXPECT_EQ(decide("r1", "DbDown", "db-1", kT0 + 1)["verdict"], "unknown");
  nlohmann::json s1 = decide("s1", "DiskFull", "web-1", kT0 + 2);
  EXPECT_EQ(s1["verdict"], "suppressed");
  EXPECT_EQ(s1["muted_by"],
            nlohmann::json({{"root_cause", "db-1"},
                            {"root_event", "r1"},  // whose escalation counts the symptoms
                            {"path", {"web-1", "app-1", "db-1"}},
                            {"symptoms", 1}}));
  EXPECT_EQ(s1["matches"][0]["not_run"], std::string(kNotRunSymptom));
  nlohmann::json s2 = decide("s2", "AppSlow", "app-1", kT0 + 3);
  EXPECT_EQ(s2["verdict"], "suppressed");
  EXPECT_EQ(s2["muted_by"]["symptoms"], 2);
  // Other nodes, and events without a node, are decided as usual.
  EXPECT_EQ(decide("o1", "DiskFull", "other", kT0 + 4)["verdict"], "known");
  EXPECT_EQ(decide("o2", "DiskFull", "not-in-cmdb", kT0 + 4)["verdict"], "known");
  // db-1 recovers: its resolved event closes the incident; web-1 is itself again.
  decide("r1", "DbDown", "db-1", kT0 + 5, "resolved");
  EXPECT_EQ(decide("w1", "DiskFull", "web-1", kT0 + 6)["verdict"], "known");
  // A new root incident closes by itself after the window.
  decide("r2", "DbDown", "db-1", kT0 + 10);
  EXPECT_EQ(decide("s3", "DiskFull", "app-1", kT0 + 11)["verdict"], "suppressed");
  // An hour after its last event the root's incident is closed (a symptom opens none).
  EXPECT_EQ(decide("w2", "DiskFull", "web-1", kT0 + 12 + kHour)["verdict"], "known");
}

// Deduplication: repeats of one alert within the window are duplicates of the first
// (suppressed, counted, actions not run); a resolved event ends the window; after the window
// the next one is decided again; the identity is the whole label text (no collisions of
// "ab"="c" with "a"="bc"), with the source; at max_keys the oldest is evicted.
TEST(MuterTest, RepeatsWithinTheDedupWindowAreDuplicatesOfTheFirst) {
  Muter muter({}, {}, DedupOptions{.window_ms = 60000, .max_keys = 3});
  Pipeline p(DiskRules());
  p.SetMuter(&muter);
  auto decide = [&](const std::string& id, const std::string& labels, int64_t t,
                    const std::string& source = "") {
    std::string out;
    EXPECT_TRUE(p.Process(R"({"id":")" + id + R"(",)" +
                              (source.empty() ? "" : R"("source":")" + source + R"(",)") +
                              R"("labels":{)" + labels + "}}",
                          t, &out)
                    .ok());
    return nlohmann::json::parse(out);
  };
  const std::string disk = R"("alertname":"DiskFull","instance":"db-1")";
  EXPECT_EQ(decide("e1", disk, kT0)["verdict"], "known");
  nlohmann::json e2 = decide("e2", R"("instance":"db-1","alertname":"DiskFull")", kT0 + 1000);
  EXPECT_EQ(e2["verdict"], "suppressed");
  EXPECT_EQ(e2["muted_by"], nlohmann::json({{"duplicate_of", "e1"}, {"duplicates", 1}}));
  EXPECT_EQ(e2["matches"][0]["not_run"], std::string(kNotRunDuplicate));
  EXPECT_EQ(decide("e3", disk, kT0 + 2000)["muted_by"]["duplicates"], 2);
  EXPECT_EQ(muter.deduper().duplicates(), 2);
  // Another source with the same labels is another alert.
  EXPECT_EQ(decide("x1", disk, kT0 + 2500, "nagios")["verdict"], "known");
  // The resolution is decided (never a duplicate) and ends the window.
  EXPECT_FALSE(decide("r1", disk + R"(,"status":"resolved")", kT0 + 3000).contains("muted_by"));
  EXPECT_EQ(decide("e4", disk, kT0 + 4000)["verdict"], "known");
  EXPECT_EQ(decide("e5", disk, kT0 + 5000)["muted_by"]["duplicate_of"], "e4");
  // After the window the next one is decided again and opens a new window.
  EXPECT_EQ(decide("e6", disk, kT0 + 4000 + 60000)["verdict"], "known");
  EXPECT_EQ(decide("e7", disk, kT0 + 4000 + 60001)["muted_by"]["duplicate_of"], "e6");
  // Label boundaries are part of the identity.
  EXPECT_EQ(decide("b1", R"("ab":"c")", kT0)["verdict"], "unknown");
  EXPECT_EQ(decide("b2", R"("a":"bc")", kT0)["verdict"], "unknown");
  EXPECT_EQ(muter.deduper().tracked(), 3u);  // bounded: x1's window was evicted
  EXPECT_EQ(muter.deduper().evicted(), 1);
  EXPECT_EQ(decide("x2", disk, kT0 + 6000, "nagios")["verdict"], "known");
}

// The changes a changelog keeps: an opened window (with its identity, first id and time), a
// closed one (resolved), nothing for a duplicate or for a resolution with no window; Restore puts a
// window back in another muter, unless it has ended or the identity has one already.
TEST(MuterTest, DedupWindowsAreReportedAndRestored) {
  Deduper a(DedupOptions{.window_ms = 60000});
  auto ev = [](const std::string& id, const std::string& status) {
    Event e;
    e.id = id;
    e.labels = {{"alertname", "DiskFull"}, {"status", status}};
    return e;
  };
  MuteInfo info;
  DedupChange change;
  EXPECT_FALSE(a.Observe(ev("e1", "firing"), kT0, &info, &change));
  ASSERT_EQ(change.kind, DedupChange::Kind::kOpened);
  EXPECT_EQ(change.window.first_id, "e1");
  EXPECT_EQ(change.window.opened_ms, kT0);
  const std::string identity = change.key;
  EXPECT_FALSE(identity.empty());
  EXPECT_TRUE(a.Observe(ev("e2", "firing"), kT0 + 1, &info, &change));
  EXPECT_EQ(change.kind, DedupChange::Kind::kNone);

  Deduper b(DedupOptions{.window_ms = 60000});
  EXPECT_FALSE(b.Restore(identity, {"e1", kT0, 1}, kT0 + 60000)) << "ended by now";
  EXPECT_TRUE(b.Restore(identity, {"e1", kT0, 1}, kT0 + 10));
  EXPECT_FALSE(b.Restore(identity, {"other", kT0, 0}, kT0 + 10)) << "one window an identity";
  MuteInfo dup;
  EXPECT_TRUE(b.Observe(ev("e3", "firing"), kT0 + 20, &dup, &change));
  EXPECT_EQ(dup.duplicate_of, "e1");
  EXPECT_EQ(dup.duplicates, 2u);
  EXPECT_FALSE(b.Observe(ev("r1", "resolved"), kT0 + 30, &dup, &change));
  EXPECT_EQ(change.kind, DedupChange::Kind::kClosed);
  EXPECT_EQ(change.key, identity);
  EXPECT_FALSE(b.Observe(ev("r2", "resolved"), kT0 + 40, &dup, &change));
  EXPECT_EQ(change.kind, DedupChange::Kind::kNone) << "no window left: nothing to tombstone";
  Deduper off;
  EXPECT_FALSE(off.Restore(identity, {"e1", kT0, 0}, kT0)) << "dedup off keeps nothing";
}

TEST(MuterTest, AnInhibitedEventNamesTheRuleAndTheSourceEvent) {
  InhibitRule r;
  r.name = "node-down";
  r.source_matchers = {M("alertname", "NodeDown")};
  r.target_matchers = {M("alertname", "DiskFull")};
  r.equal = {"instance"};
  Muter muter;
  Pipeline p(DiskRules({r}));
  p.SetMuter(&muter);
  std::string out;
  ASSERT_TRUE(
      p.Process(R"({"id":"n1","labels":{"alertname":"NodeDown","instance":"db-1"}})", kT0, &out)
          .ok());
  EXPECT_EQ(nlohmann::json::parse(out)["verdict"], "unknown");
  out.clear();
  ASSERT_TRUE(
      p.Process(R"({"id":"d1","labels":{"alertname":"DiskFull","instance":"db-1"}})", kT0, &out)
          .ok());
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["verdict"], "suppressed");
  EXPECT_EQ(j["muted_by"], nlohmann::json({{"inhibit_rule", "node-down"}, {"source_event", "n1"}}));
  EXPECT_EQ(j["matches"][0]["not_run"], std::string(kNotRunInhibited));
}

// With changes tracked, a muter reports the inhibition sources it tracks (refreshed at most
// once a quarter TTL) and forgets, and the dedup windows it opens; another muter that
// restores them inhibits and deduplicates as the first would have. Expired sources and
// unreadable records are not restored.
TEST(MuterTest, TrackedChangesRestoreInhibitionSourcesAndDedupWindowsElsewhere) {
  InhibitRule r;
  r.name = "node-down";
  r.source_matchers = {M("alertname", "NodeDown")};
  r.target_matchers = {M("alertname", "DiskFull")};
  r.equal = {"instance"};
  auto rules = DiskRules({r});
  const InhibitorOptions ttl{.source_ttl_ms = 4000};
  Muter first(ttl, {}, DedupOptions{.window_ms = 60000});
  first.TrackChanges(true);
  Pipeline p(rules);
  p.SetMuter(&first);
  std::vector<MuteStateChange> log;
  auto feed = [&](Pipeline& pipe, const std::string& json, int64_t t) {
    std::string out;
    EXPECT_TRUE(pipe.Process(json, t, &out).ok());
    for (const auto& c : pipe.result().state_changes) log.push_back(c);
    return nlohmann::json::parse(out);
  };
  const std::string node = R"({"id":"n1","labels":{"alertname":"NodeDown","instance":"db-1"}})";
  feed(p, node, kT0);
  ASSERT_EQ(log.size(), 2u);  // the source tracked, the dedup window opened
  EXPECT_EQ(log[0].store, MuteStateChange::Store::kInhibit);
  EXPECT_EQ(log[1].store, MuteStateChange::Store::kDedup);
  log.clear();
  feed(p, R"({"id":"n2","labels":{"alertname":"NodeDown","instance":"db-1"}})", kT0 + 500);
  EXPECT_TRUE(log.empty()) << "a refresh within a quarter TTL, and a duplicate: nothing to write";
  feed(p, R"({"id":"n3","labels":{"alertname":"NodeDown","instance":"db-1"}})", kT0 + 1000);
  ASSERT_EQ(log.size(), 1u) << "a quarter TTL later the refresh is written";
  EXPECT_NE(log[0].value.find("\"seen_ms\":" + std::to_string(kT0 + 1000)), std::string::npos)
      << log[0].value;

  Muter second(ttl, {}, DedupOptions{.window_ms = 60000});
  const MuteStateChange& source = log[0];
  EXPECT_EQ(second.Restore(source.store, source.key, source.value, kT0 + 5000),
            RestoreOutcome::kSkipped)
      << "expired";
  EXPECT_EQ(second.Restore(source.store, source.key + "x", source.value, kT0 + 1100),
            RestoreOutcome::kUnreadable);
  EXPECT_EQ(second.Restore(source.store, source.key, "{not json", kT0 + 1100),
            RestoreOutcome::kUnreadable);
  EXPECT_EQ(second.Restore(source.store, source.key, source.value, kT0 + 1100),
            RestoreOutcome::kRestored);
  second.FinishRestore();
  EXPECT_EQ(second.inhibitor().tracked(), 1u);
  Pipeline q(rules);
  q.SetMuter(&second);
  auto j =
      feed(q, R"({"id":"d1","labels":{"alertname":"DiskFull","instance":"db-1"}})", kT0 + 1200);
  EXPECT_EQ(j["muted_by"], nlohmann::json({{"inhibit_rule", "node-down"}, {"source_event", "n3"}}));
  // The source's resolution is a tombstone; the muter that restored it forgets it.
  log.clear();
  feed(p, R"({"id":"n4","labels":{"alertname":"NodeDown","instance":"db-1","status":"resolved"}})",
       kT0 + 1300);
  bool tombstone = false;
  for (const auto& c : log) {
    if (c.store == MuteStateChange::Store::kInhibit && c.key == source.key && c.value.empty()) {
      tombstone = true;
    }
  }
  EXPECT_TRUE(tombstone);
  // Untracked, a muter reports nothing.
  Muter quiet;
  Pipeline u(rules);
  u.SetMuter(&quiet);
  log.clear();
  feed(u, node, kT0);
  EXPECT_TRUE(log.empty());
}

}  // namespace
}  // namespace reflex::engine
