#include "reflex/engine/labeling.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "test_util.h"

namespace reflex::engine {
namespace {

using testing::ParseEvent;
using testing::Path;

ExtractRule Extract(std::string name, std::string from, std::string pattern,
                    bool overwrite = false) {
  ExtractRule r;
  r.name = std::move(name);
  r.from = Path(from);
  r.pattern = std::move(pattern);
  r.overwrite = overwrite;
  return r;
}

std::unique_ptr<Labeler> Make(LabelingSpec spec) {
  auto l = Labeler::Create(std::move(spec));
  EXPECT_TRUE(l.ok()) << l.status().ToString();
  return l.ok() ? std::move(*l) : nullptr;
}

std::string LabelOr(const Event& ev, std::string_view key, std::string_view def = "<none>") {
  const std::string* l = ev.Label(key);
  return l ? *l : std::string(def);
}

TEST(LabelerTest, EmptySpecDoesNothing) {
  auto l = Make({});
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(l->empty());
  Event ev = ParseEvent(R"({"message":"x","labels":{"a":"b"}})");
  l->Apply(&ev);
  EXPECT_EQ(ev.labels.size(), 1u);
  EXPECT_TRUE(l->OutputLabels().empty());
}

TEST(LabelerTest, ExtractsNamedGroupsFromTheMessage) {
  LabelingSpec spec;
  spec.extract.push_back(
      Extract("mount", "message", R"(on (?P<mountpoint>/\S*) at (?P<pct>\d+)%)"));
  auto l = Make(std::move(spec));
  ASSERT_NE(l, nullptr);
  EXPECT_FALSE(l->empty());
  Event ev = ParseEvent(R"({"message":"disk full on /var/log at 97% now"})");
  l->Apply(&ev);
  EXPECT_EQ(LabelOr(ev, "mountpoint"), "/var/log");
  EXPECT_EQ(LabelOr(ev, "pct"), "97");
  EXPECT_EQ(l->OutputLabels(), (std::vector<std::string>{"mountpoint", "pct"}));

  Event no = ParseEvent(R"({"message":"all good"})");
  l->Apply(&no);
  EXPECT_TRUE(no.labels.empty());
}

TEST(LabelerTest, ExtractsFromAPayloadFieldAndALabel) {
  LabelingSpec spec;
  spec.extract.push_back(
      Extract("pod", "payload.k8s.pod", R"(^(?P<deployment>[a-z-]+)-[0-9a-f]+-\w+$)"));
  spec.extract.push_back(Extract("host", "labels.instance", R"(^(?P<host>[^:]+):(?P<port>\d+))"));
  auto l = Make(std::move(spec));
  ASSERT_NE(l, nullptr);
  Event ev = ParseEvent(
      R"({"labels":{"instance":"web1:9100"},"payload":{"k8s":{"pod":"api-server-5f7d8-x2x9z"}}})");
  l->Apply(&ev);
  EXPECT_EQ(LabelOr(ev, "deployment"), "api-server");
  EXPECT_EQ(LabelOr(ev, "host"), "web1");
  EXPECT_EQ(LabelOr(ev, "port"), "9100");
  // A missing source field is skipped.
  Event none = ParseEvent(R"({"message":"api-server-5f7d8-x2x9z"})");
  l->Apply(&none);
  EXPECT_TRUE(none.labels.empty());
}

TEST(LabelerTest, UnmatchedOptionalGroupAddsNothing) {
  LabelingSpec spec;
  spec.extract.push_back(
      Extract("opt", "message", R"(code=(?P<code>\d+)(?: user=(?P<user>\w+))?)"));
  auto l = Make(std::move(spec));
  Event ev = ParseEvent(R"({"message":"code=500"})");
  l->Apply(&ev);
  EXPECT_EQ(LabelOr(ev, "code"), "500");
  EXPECT_EQ(ev.Label("user"), nullptr);
}

TEST(LabelerTest, WhenConditionsGateTheRule) {
  LabelingSpec spec;
  ExtractRule r = Extract("nginx-status", "message", R"(status (?P<status>\d{3}))");
  r.when.emplace_back(Path("labels.service"), Condition::Equals("nginx"));
  r.when.emplace_back(Path("values.severity"), testing::Ge(2));
  spec.extract.push_back(std::move(r));
  auto l = Make(std::move(spec));

  Event yes = ParseEvent(R"({"message":"status 502","labels":{"service":"nginx"},
      "values":{"severity":3}})");
  l->Apply(&yes);
  EXPECT_EQ(LabelOr(yes, "status"), "502");

  Event wrong_service = ParseEvent(R"({"message":"status 502","labels":{"service":"apache"},
      "values":{"severity":3}})");
  l->Apply(&wrong_service);
  EXPECT_EQ(wrong_service.Label("status"), nullptr);

  Event low = ParseEvent(R"({"message":"status 502","labels":{"service":"nginx"},
      "values":{"severity":1}})");
  l->Apply(&low);
  EXPECT_EQ(low.Label("status"), nullptr);

  Event missing = ParseEvent(R"({"message":"status 502"})");
  l->Apply(&missing);
  EXPECT_EQ(missing.Label("status"), nullptr);
}

TEST(LabelerTest, OverwriteOrKeepExistingLabels) {
  LabelingSpec keep;
  keep.extract.push_back(Extract("k", "message", R"(env=(?P<env>\w+))", /*overwrite=*/false));
  LabelingSpec replace;
  replace.extract.push_back(Extract("r", "message", R"(env=(?P<env>\w+))", /*overwrite=*/true));
  auto lk = Make(std::move(keep));
  auto lr = Make(std::move(replace));
  Event a = ParseEvent(R"({"message":"env=prod","labels":{"env":"staging"}})");
  Event b = a;
  lk->Apply(&a);
  lr->Apply(&b);
  EXPECT_EQ(LabelOr(a, "env"), "staging");
  EXPECT_EQ(LabelOr(b, "env"), "prod");
  EXPECT_EQ(b.labels.size(), 1u);
}

TEST(LabelerTest, LaterRulesSeeEarlierExtractions) {
  LabelingSpec spec;
  spec.extract.push_back(Extract("first", "message", R"(host=(?P<host>\S+))"));
  spec.extract.push_back(Extract("second", "labels.host", R"(^(?P<dc>[a-z]+)\d)"));
  auto l = Make(std::move(spec));
  Event ev = ParseEvent(R"({"message":"host=fra7.example"})");
  l->Apply(&ev);
  EXPECT_EQ(LabelOr(ev, "host"), "fra7.example");
  EXPECT_EQ(LabelOr(ev, "dc"), "fra");
}

LookupTable Inventory(bool overwrite = false) {
  LookupTable lt;
  lt.name = "inventory";
  lt.key = Path("labels.instance");
  lt.columns = {"team", "env", "service"};
  lt.rows["web1"] = {"web", "prod", "nginx"};
  lt.rows["db1"] = {"dba", "", "postgres"};  // empty cell: no label
  lt.rows["42"] = {"numbers", "test", "n"};
  lt.overwrite = overwrite;
  return lt;
}

TEST(LabelerTest, LookupEnrichment) {
  LabelingSpec spec;
  spec.lookups.push_back(Inventory());
  auto l = Make(std::move(spec));
  Event web = ParseEvent(R"({"labels":{"instance":"web1","env":"canary"}})");
  l->Apply(&web);
  EXPECT_EQ(LabelOr(web, "team"), "web");
  EXPECT_EQ(LabelOr(web, "env"), "canary");  // kept: overwrite is off
  EXPECT_EQ(LabelOr(web, "service"), "nginx");

  Event db = ParseEvent(R"({"labels":{"instance":"db1"}})");
  l->Apply(&db);
  EXPECT_EQ(LabelOr(db, "team"), "dba");
  EXPECT_EQ(db.Label("env"), nullptr);
  EXPECT_EQ(l->OutputLabels(), (std::vector<std::string>{"env", "service", "team"}));

  Event unknown = ParseEvent(R"({"labels":{"instance":"cache9"}})");
  l->Apply(&unknown);
  EXPECT_EQ(unknown.labels.size(), 1u);
  Event missing = ParseEvent(R"({"labels":{}})");
  l->Apply(&missing);
  EXPECT_TRUE(missing.labels.empty());
}

TEST(LabelerTest, LookupOverwriteAndNumericKeys) {
  LabelingSpec spec;
  LookupTable lt = Inventory(/*overwrite=*/true);
  lt.key = Path("instance");
  spec.lookups.push_back(std::move(lt));
  auto l = Make(std::move(spec));
  Event web = ParseEvent(R"({"labels":{"instance":"web1","env":"canary"}})");
  l->Apply(&web);
  EXPECT_EQ(LabelOr(web, "env"), "prod");
  // A bare key falls back to the value of that name; numbers are looked up by their text.
  Event num = ParseEvent(R"({"values":{"instance":42}})");
  l->Apply(&num);
  EXPECT_EQ(LabelOr(num, "team"), "numbers");
}

TEST(LabelerTest, LookupKeysOnExtractedLabel) {
  LabelingSpec spec;
  spec.extract.push_back(Extract("inst", "message", R"(instance (?P<instance>\w+))"));
  spec.lookups.push_back(Inventory());
  auto l = Make(std::move(spec));
  Event ev = ParseEvent(R"({"message":"high load on instance web1"})");
  l->Apply(&ev);
  EXPECT_EQ(LabelOr(ev, "instance"), "web1");
  EXPECT_EQ(LabelOr(ev, "team"), "web");
}

TEST(LabelerTest, CreateRejectsBadPatterns) {
  LabelingSpec bad;
  bad.extract.push_back(Extract("broken", "message", "(?P<x>unclosed"));
  auto r = Labeler::Create(std::move(bad));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("extraction rule 'broken': bad pattern"), std::string::npos)
      << r.status().message();

  LabelingSpec unnamed;
  unnamed.extract.push_back(Extract("anon", "message", "(\\d+)"));
  auto u = Labeler::Create(std::move(unnamed));
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("'anon'"), std::string::npos);
  EXPECT_NE(u.status().message().find("no named group"), std::string::npos);
}

TEST(LabelerTest, ManyCaptureGroups) {
  // More than 16 groups takes the heap path for submatches.
  std::string pattern;
  for (int i = 0; i < 20; ++i) pattern += "(?P<g" + std::to_string(i) + ">\\d)";
  LabelingSpec spec;
  spec.extract.push_back(Extract("many", "message", pattern));
  auto l = Make(std::move(spec));
  Event ev = ParseEvent(R"({"message":"x 01234567890123456789 y"})");
  l->Apply(&ev);
  ASSERT_EQ(ev.labels.size(), 20u);
  EXPECT_EQ(LabelOr(ev, "g0"), "0");
  EXPECT_EQ(LabelOr(ev, "g19"), "9");
}

// The same rules run with and without the RE2::Set prefilter (>= 4 rules on one field)
// must label identically: build a large group, then each rule alone, and compare.
TEST(LabelerTest, SetPrefilterGivesTheSameLabelsAsSingleRules) {
  std::vector<ExtractRule> rules = {
      Extract("disk", "message", R"(disk (?P<mount>/\S*) (?P<pct>\d+)%)"),
      Extract("oom", "message", R"((?i)out of memory: killed (?P<proc>\w+))"),
      Extract("http", "message", R"(HTTP (?P<status>[45]\d\d))"),
      Extract("user", "message", R"(user=(?P<user>\w+))"),
      Extract("user2", "message", R"(uid=(?P<user>\d+))"),
      Extract("host", "message", R"(host=(?P<host>[\w.-]+))", /*overwrite=*/true),
      Extract("env", "message", R"(\benv=(?P<env>prod|staging)\b)"),
      Extract("empty", "message", R"((?P<nothing>x*))"),
  };
  rules[3].when.emplace_back(Path("labels.kind"), Condition::Equals("auth"));
  const char* messages[] = {
      "disk /var 93% user=bob host=a.b env=prod",
      "Out Of Memory: killed java",
      "HTTP 503 from upstream uid=1000 user=alice",
      "nothing to see",
      "",
      "host=x host=y env=production",
      "HTTP 200 env=staging disk / 5%",
  };
  const char* label_sets[] = {R"({})", R"({"kind":"auth"})", R"({"kind":"auth","host":"pre"})"};

  LabelingSpec big;
  big.extract = rules;
  auto set_labeler = Make(big);
  ASSERT_NE(set_labeler, nullptr);
  // Reference: the same rules, each on a field path spelled differently is not possible,
  // so run them one labeler at a time, in order (no group reaches the set threshold).
  std::vector<std::unique_ptr<Labeler>> singles;
  for (const auto& r : rules) {
    LabelingSpec one;
    one.extract.push_back(r);
    singles.push_back(Make(std::move(one)));
  }
  for (const char* m : messages) {
    for (const char* ls : label_sets) {
      const std::string json =
          std::string(R"({"message":)") + nlohmann::json(m).dump() + R"(,"labels":)" + ls + "}";
      Event a = ParseEvent(json);
      Event b = a;
      set_labeler->Apply(&a);
      for (const auto& s : singles) s->Apply(&b);
      EXPECT_EQ(a.labels, b.labels) << json;
    }
  }
  // Spot-check actual values so the comparison is not vacuous.
  Event ev = ParseEvent(R"({"message":"disk /var 93% uid=7 host=a.b env=prod",
      "labels":{"kind":"auth"}})");
  set_labeler->Apply(&ev);
  EXPECT_EQ(LabelOr(ev, "mount"), "/var");
  EXPECT_EQ(LabelOr(ev, "pct"), "93");
  EXPECT_EQ(LabelOr(ev, "user"), "7");
  EXPECT_EQ(LabelOr(ev, "host"), "a.b");
  EXPECT_EQ(LabelOr(ev, "env"), "prod");
  EXPECT_EQ(LabelOr(ev, "nothing"), "");
}

}  // namespace
}  // namespace reflex::engine
