// Logger: every line is one JSON object with ts, level, msg first and the typed fields
// after; the level filter; escaping of hostile text; whole lines under concurrent writers;
// FILE* and stream sinks.
#include "reflex/connectors/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

namespace reflex::connectors {
namespace {

using nlohmann::json;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

TEST(LoggerTest, WritesOneJsonObjectPerLineWithTypedFields) {
  std::ostringstream out;
  engine::ManualClock clock(1795514400000);  // 2026-11-24T10:00:00Z
  Logger log(out, LogLevel::kInfo, &clock);
  const std::string v = "v-0123456789abcdef";
  log.Info("rules reloaded", {{"version", v},
                              {"trigger", "sighup"},
                              {"tables", 6},
                              {"rows", uint64_t{18446744073709551615ULL}},
                              {"seconds", 0.25},
                              {"ok", true},
                              {"delta", -3}});
  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(out.str().back(), '\n');
  EXPECT_EQ(lines[0].rfind(
                R"({"ts":"2026-11-24T10:00:00.000Z","level":"info","msg":"rules reloaded",)", 0),
            0u)
      << lines[0];
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["version"], v);
  EXPECT_EQ(j["trigger"], "sighup");
  EXPECT_TRUE(j["tables"].is_number_integer());
  EXPECT_EQ(j["tables"], 6);
  EXPECT_EQ(j["rows"].get<uint64_t>(), 18446744073709551615ULL);
  EXPECT_TRUE(j["seconds"].is_number_float());
  EXPECT_DOUBLE_EQ(j["seconds"].get<double>(), 0.25);
  EXPECT_TRUE(j["ok"].is_boolean());
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["delta"], -3);
}

TEST(LoggerTest, LevelFilter) {
  std::ostringstream out;
  engine::ManualClock clock(0);
  Logger log(out, LogLevel::kWarn, &clock);
  log.Debug("d");
  log.Info("i");
  log.Warn("w");
  log.Error("e");
  auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["level"], "warn");
  EXPECT_EQ(json::parse(lines[1])["level"], "error");
  EXPECT_FALSE(log.Enabled(LogLevel::kInfo));
  log.set_level(LogLevel::kDebug);
  EXPECT_TRUE(log.Enabled(LogLevel::kDebug));
  log.Debug("d2");
  lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(json::parse(lines[2])["level"], "debug");
  EXPECT_EQ(json::parse(lines[2])["msg"], "d2");
}

TEST(LoggerTest, HostileTextStaysOneValidLine) {
  std::ostringstream out;
  Logger log(out);
  const std::string bad_utf8 = "caf\xc3 \xff end";
  log.Error("line1\nline2 \"quoted\" \\ \t\x01",
            {{"path", bad_utf8}, {"msg", "shadow"}, {"nan", std::nan("")}});
  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 1u);
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["msg"], "line1\nline2 \"quoted\" \\ \t\x01");
  EXPECT_THAT(j["path"].get<std::string>(), ::testing::HasSubstr("\xEF\xBF\xBD"));  // U+FFFD
  EXPECT_EQ(j["field.msg"], "shadow");  // a field cannot hide the message
  EXPECT_EQ(j["nan"], "NaN");
}

TEST(LoggerTest, ConcurrentWritersNeverInterleave) {
  std::ostringstream out;
  Logger log(out, LogLevel::kDebug);
  constexpr int kThreads = 8, kLines = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < kLines; ++i) {
        log.Info("event decided", {{"thread", t}, {"i", i}, {"pad", std::string(200, 'x')}});
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const auto& l : lines) {
    json j = json::parse(l, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << l;
    const int t = j["thread"];
    EXPECT_EQ(j["i"], next[static_cast<size_t>(t)]++);  // each thread's lines in order
  }
}

TEST(LoggerTest, WritesToAFile) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    Logger log(f, LogLevel::kInfo);
    log.Warn("broker down", {{"attempt", 3}});
  }
  std::rewind(f);
  char buf[512] = {};
  const size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  const std::string text(buf, n);
  ASSERT_EQ(Lines(text).size(), 1u);
  json j = json::parse(text);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "broker down");
  EXPECT_EQ(j["attempt"], 3);
  EXPECT_THAT(j["ts"].get<std::string>(),
              ::testing::MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z"));
}

TEST(LoggerTest, ParsesLevelNames) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  auto bad = ParseLogLevel("loud");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), ::testing::HasSubstr("loud"));
  EXPECT_EQ(LogLevelName(LogLevel::kWarn), "warn");
}

}  // namespace
}  // namespace reflex::connectors
