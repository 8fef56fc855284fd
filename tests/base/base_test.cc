// reflex::base: strings, redaction, time text, retry policy, enum name tables, diagnostics, locks.
#include <gmock/gmock.h>
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "enum_names_test_util.h"
#include "reflex/base/diagnostic.h"
#include "reflex/base/durability.h"
#include "reflex/base/enum_names.h"
#include "reflex/base/hash.h"
#include "reflex/base/redact.h"
#include "reflex/base/retry.h"
#include "reflex/base/status.h"
#include "reflex/base/strings.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::base {
namespace {

using ::testing::HasSubstr;

// A message on one line: blank runs become one space, none at the ends; cut with "...".
TEST(StringsTest, OneLine) {
  EXPECT_EQ(OneLine("ERROR:  relation \"x\"\n\tdoes not exist\n", 500),
            "ERROR: relation \"x\" does not exist");
  EXPECT_EQ(OneLine("  SELECT *\r\n  FROM t  ", 80), "SELECT * FROM t");
  EXPECT_EQ(OneLine("abcdef", 3), "abc...");
  EXPECT_EQ(OneLine("abc", 3), "abc") << "nothing cut: no dots";
  EXPECT_EQ(OneLine("ab cd", 3), "ab...");
  EXPECT_EQ(OneLine("ab", 3), "ab");
  EXPECT_EQ(OneLine(" \t\n", 10), "");
}

TEST(StringsTest, TrimSplitJoinLower) {
  EXPECT_EQ(Trim("  30s \r\n"), "30s");
  EXPECT_EQ(Trim("\t\t"), "");
  EXPECT_EQ(Trim("a b"), "a b");
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string_view>{"a", "", "b"}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string_view>{""}));
  EXPECT_EQ(Join(std::vector<std::string>{"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_EQ(Join(std::vector<std::string>{}, ", "), "");
  EXPECT_EQ(AsciiLower("DiskFULL-\xc3\x89"), "diskfull-\xc3\x89");
}

TEST(RedactTest, UrlKeepsWhereButNotCredentials) {
  EXPECT_EQ(RedactUrl("https://user:pass@hooks.example:8443/a/b?token=x&y=2#frag"),
            "https://***@hooks.example:8443/a/b?***");
  EXPECT_EQ(RedactUrl("http://127.0.0.1:9/hook"), "http://127.0.0.1:9/hook");
  EXPECT_EQ(RedactUrl("http://h/p?"), "http://h/p?***");
  EXPECT_EQ(RedactUrl("http://h?k=v"), "http://h?***");
  EXPECT_EQ(RedactUrl("http://a@b@h/p"), "http://***@h/p");
  EXPECT_EQ(RedactUrl("not a url?token=x"), "not a url?token=x");
  EXPECT_EQ(RedactUrl(""), "");
}

TEST(RedactTest, UrlSecretsAreTheUserinfoAndQueryRawAndDecoded) {
  EXPECT_THAT(
      UrlSecrets("https://bob:s%40cret@h/p?token=abc&x"),
      ::testing::UnorderedElementsAre("bob:s%40cret", "bob:s@cret", "Ym9iOnNAY3JldA==", "bob",
                                      "s%40cret", "s@cret", "token=abc&x", "abc", "x"));
  EXPECT_THAT(UrlSecrets("http://ab@h"), ::testing::UnorderedElementsAre("ab", "YWI="));
  EXPECT_THAT(UrlSecrets("http://a@h"), ::testing::UnorderedElementsAre("a", "YQ=="));
  EXPECT_TRUE(UrlSecrets("https://h/p").empty());
}

TEST(RedactTest, SecretsInFreeText) {
  const std::string url = "https://bob:hunter22@hooks.example/services/T0?token=sekrit99";
  const std::string text = "POST " + url + ": Failed to connect; key=sekrit99 auth Bearer tok-123";
  SecretList secrets = UrlSecrets(url);
  for (auto& s : HeaderSecrets("Bearer tok-123")) secrets.push_back(s);
  const std::string r = RedactSecrets(text, secrets);
  EXPECT_EQ(r,
            "POST https://***@hooks.example/services/T0?*** Failed to connect; key=*** auth ***");
  for (const char* leak : {"bob", "hunter22", "sekrit99", "tok-123"}) {
    EXPECT_EQ(r.find(leak), std::string::npos) << leak;
  }
  // URLs nobody registered are still cut; quoted URLs end at the quote.
  EXPECT_EQ(RedactSecrets(R"({"u":"http://a:b@h/x?q=1","n":1} see ftp://h/y)"),
            R"({"u":"http://***@h/x?***","n":1} see ftp://h/y)");
  // Short secrets are not replaced as bare text.
  EXPECT_EQ(RedactSecrets("a cat", {"a"}), "a cat");
  EXPECT_EQ(RedactSecrets("://x and 1://y"), "://x and 1://y");
}

TEST(RedactTest, SecretHeaders) {
  for (const char* h : {"Authorization", "proxy-authorization", "Cookie", "X-Auth-Token",
                        "X-API-Key", "X-Hub-Signature", "X-Secret"}) {
    EXPECT_TRUE(IsSecretHeader(h)) << h;
  }
  for (const char* h : {"Content-Type", "Idempotency-Key", "Accept"}) {
    EXPECT_FALSE(IsSecretHeader(h)) << h;
  }
  EXPECT_THAT(HeaderSecrets(" Bearer abc "), ::testing::ElementsAre("Bearer abc", "abc"));
  EXPECT_THAT(HeaderSecrets("abc"), ::testing::ElementsAre("abc"));
}

TEST(StringsTest, ParseInt64IsStrict) {
  EXPECT_EQ(*ParseInt64("8080"), 8080);
  EXPECT_EQ(*ParseInt64("-12"), -12);
  EXPECT_EQ(*ParseInt64("9223372036854775807"), INT64_MAX);
  for (const char* bad :
       {"", " 1", "1 ", "+1", "0x10", "1.5", "80a", "-", "99999999999999999999"}) {
    EXPECT_FALSE(ParseInt64(bad).ok()) << bad;
  }
  EXPECT_THAT(ParseInt64("99999999999999999999").status().message(), HasSubstr("out of range"));
}

TEST(StringsTest, EditDistanceWithLimit) {
  EXPECT_EQ(EditDistance("severity", "severity"), 0u);
  EXPECT_EQ(EditDistance("severty", "severity"), 1u);
  EXPECT_EQ(EditDistance("sevrity", "severity", 2), 1u);
  EXPECT_EQ(EditDistance("instance", "job", 2), 3u);  // gave up: limit + 1
  EXPECT_EQ(EditDistance("", "ab"), 2u);
}

TEST(TimeTest, Durations) {
  EXPECT_EQ(*ParseDurationMs("500ms"), 500);
  EXPECT_EQ(*ParseDurationMs("30s"), 30000);
  EXPECT_EQ(*ParseDurationMs("10m"), 600000);
  EXPECT_EQ(*ParseDurationMs("1h"), 3600000);
  EXPECT_EQ(*ParseDurationMs("2d"), 172800000);
  EXPECT_EQ(*ParseDurationMs("1.5s"), 1500);
  EXPECT_EQ(*ParseDurationMs("45"), 45000);
  EXPECT_EQ(*ParseDurationMs(" 45s\n"), 45000);
  EXPECT_FALSE(ParseDurationMs("").ok());
  EXPECT_FALSE(ParseDurationMs("fast").ok());
  EXPECT_FALSE(ParseDurationMs("10y").ok());
  EXPECT_FALSE(ParseDurationMs("1e300s").ok());
}

TEST(TimeTest, Rfc3339RoundTrip) {
  auto t = ParseRfc3339Millis("2026-11-24T10:00:00.250+01:00");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(FormatRfc3339Millis(*t), "2026-11-24T09:00:00.250Z");
  EXPECT_FALSE(ParseRfc3339Millis("2026-11-24 10:00").ok());
}

TEST(HashTest, Fnv1a64IsStableAndChains) {
  EXPECT_EQ(Fnv1a64(""), kFnv1a64Seed);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);  // the published FNV-1a test vector
  EXPECT_NE(Fnv1a64("b", Fnv1a64("a")), Fnv1a64("a", Fnv1a64("b")));
}

TEST(Utf8Test, CutNeverSplitsACharacter) {
  const std::string s = "ab\xc3\xa9";  // "abé": é is two bytes
  EXPECT_EQ(CutUtf8(s, 3), "ab");
  EXPECT_EQ(CutUtf8(s, 4), s);
  EXPECT_TRUE(IsValidUtf8(std::string(CutUtf8(s, 3))));
  EXPECT_EQ(FirstInvalidUtf8("ok\xff"), 2u);
  std::string out;
  AppendJsonString("q\"\xff", &out);
  EXPECT_EQ(out, "\"q\\\"\\ufffd\"");
}

TEST(RetryPolicyTest, ExponentialCappedAndJittered) {
  RetryPolicy p{.max_attempts = 5, .base_ms = 100, .max_ms = 350, .jitter = false};
  std::mt19937_64 rng(7);
  EXPECT_EQ(p.DelayMs(1, rng), 100);
  EXPECT_EQ(p.DelayMs(2, rng), 200);
  EXPECT_EQ(p.DelayMs(3, rng), 350);  // capped
  EXPECT_EQ(p.DelayMs(30, rng), 350);
  p.jitter = true;
  bool below = false;
  for (int i = 0; i < 200; ++i) {
    const int64_t d = p.DelayMs(2, rng);
    ASSERT_GE(d, 0);
    ASSERT_LE(d, 200);
    below = below || d < 200;
  }
  EXPECT_TRUE(below) << "full jitter draws from [0, ceiling]";
}

TEST(RetryPolicyTest, WhichHttpAnswersAreRetried) {
  for (long s : {408L, 429L, 500L, 502L, 503L, 599L}) EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  for (long s : {200L, 301L, 400L, 401L, 403L, 404L, 422L, 600L}) {
    EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
  }
}

enum class Fruit { kApple, kPear, kPlum };
constexpr EnumNames<Fruit, 3> kFruitNames{
    {{{Fruit::kApple, "apple"}, {Fruit::kPear, "pear"}, {Fruit::kPlum, "plum"}}}};

TEST(EnumNamesTest, NameParseAndList) {
  static_assert(kFruitNames.Name(Fruit::kPear) == "pear");
  EXPECT_EQ(kFruitNames.Parse("plum"), Fruit::kPlum);
  EXPECT_EQ(kFruitNames.Parse("Plum"), std::nullopt);
  EXPECT_EQ(kFruitNames.List(), "apple, pear, plum");
  EXPECT_EQ(kFruitNames.List(" | "), "apple | pear | plum");
  EXPECT_EQ(kFruitNames.Name(static_cast<Fruit>(9)), "?");
}

TEST(EnumNamesTest, EnumeratorsAreFoundByTheCompilerNotTheTable) {
  static_assert(enum_test::IsEnumerator<Fruit::kPlum>());
  static_assert(!enum_test::IsEnumerator<static_cast<Fruit>(3)>());
  EXPECT_EQ(enum_test::Enumerators<Fruit>(),
            (std::vector<Fruit>{Fruit::kApple, Fruit::kPear, Fruit::kPlum}));
  enum_test::ExpectNamesEveryEnumerator(kFruitNames);

  // A table that misses an enumerator fails the check.
  constexpr EnumNames<Fruit, 2> kShort{{{{Fruit::kApple, "apple"}, {Fruit::kPear, "pear"}}}};
  ::testing::TestPartResultArray failures;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
    enum_test::ExpectNamesEveryEnumerator(kShort);
  }
  ASSERT_GT(failures.size(), 0);
  EXPECT_THAT(failures.GetTestPartResult(0).message(), HasSubstr("3 enumerators, the table 2"));
}

TEST(EnumNamesTest, EveryStatusCodeHasAName) {
  enum_test::ExpectNamesEveryEnumerator(kStatusCodeNames);
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  EXPECT_EQ(InvalidArgument("bad port").ToString(), "INVALID_ARGUMENT: bad port");
  EXPECT_EQ(FailedPrecondition("locked").ToString(), "FAILED_PRECONDITION: locked");
  EXPECT_EQ(Unavailable("down").ToString(), "UNAVAILABLE: down");
}

TEST(DiagnosticTest, FormatsKeysAndCells) {
  Diagnostic key{Severity::kError, "reflex.yaml", 12, 5, "expected a string", "kafka.group_id"};
  EXPECT_EQ(key.ToString(), "reflex.yaml:12:5: kafka.group_id: expected a string");
  key.severity = Severity::kWarning;
  EXPECT_EQ(key.ToString(), "reflex.yaml:12:5: warning: kafka.group_id: expected a string");
  Diagnostic cell{Severity::kError, "tables/disk.csv", 7, 3, "unknown operator 'frob'", ""};
  EXPECT_EQ(cell.ToString(), "tables/disk.csv:7:3: error: unknown operator 'frob' (cell C7)");
  Diagnostic whole{Severity::kError, "actions.yaml", 0, 0, "cannot open", ""};
  EXPECT_EQ(whole.ToString(), "actions.yaml: error: cannot open");
}

TEST(DiagnosticTest, ToStatusListsEveryErrorInFileOrder) {
  Diagnostics d;
  EXPECT_TRUE(d.ToStatus().ok());
  d.Error("r.yaml", 0, 0, "http.listen", "expected host:port");
  d.Error("r.yaml", 9, 1, "bogus", "unknown key");
  d.Error("r.yaml", 2, 3, "kafka.x", "unknown key");
  d.Warning("r.yaml", 1, 1, "just so you know");
  EXPECT_EQ(d.error_count(), 3u);
  EXPECT_EQ(d.warning_count(), 1u);
  Status s = d.ToStatus();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "r.yaml:1:1: warning: just so you know\n"
            "r.yaml:2:3: kafka.x: unknown key\n"
            "r.yaml:9:1: bogus: unknown key\n"
            "r.yaml: http.listen: expected host:port");
}

TEST(DiagnosticTest, CheckUtf8PointsAtTheBadByte) {
  Diagnostics d;
  EXPECT_TRUE(CheckUtf8("fine", "f.yaml", &d));
  EXPECT_FALSE(CheckUtf8("a: 1\nb: \xc3\xa9\xff", "f.yaml", &d));
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].ToString(), "f.yaml:2:5: error: invalid UTF-8 (byte 0xff)");
}

TEST(MutexTest, GuardsACounterAcrossThreads) {
  struct Counter {
    void Add() {
      MutexLock l(mu);
      ++n;
    }
    Mutex mu;
    int n GUARDED_BY(mu) = 0;
  } c;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&c] {
      for (int i = 0; i < 1000; ++i) c.Add();
    });
  }
  for (auto& t : ts) t.join();
  MutexLock l(c.mu);
  EXPECT_EQ(c.n, 4000);
}

TEST(DurabilityTest, NamesPragmasAndSync) {
  enum_test::ExpectNamesEveryEnumerator(kDurabilityNames);
  EXPECT_STREQ(SqliteSynchronousPragma(Durability::kNormal), "PRAGMA synchronous=NORMAL");
  EXPECT_STREQ(SqliteSynchronousPragma(Durability::kFsync), "PRAGMA synchronous=FULL");
  const std::string dir = ::testing::TempDir();
  EXPECT_TRUE(SyncPath(dir).ok());  // a directory
  const std::string missing = dir + "/reflex-no-such-file";
  Status s = SyncPath(missing);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(missing), std::string::npos);
}

}  // namespace
}  // namespace reflex::base
