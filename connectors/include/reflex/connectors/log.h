// Structured JSON logs for the run mode: one JSON object per line, e.g.
//
//   {"ts":"2026-11-24T10:00:00.000Z","level":"info","msg":"rules reloaded","version":"v-..."}
//
// `ts`, `level` and `msg` come first; the caller's typed fields (string, integer, double,
// bool) follow in the order given. A field whose name is one of those three is written as
// "field.<name>" so it never hides them. Text is escaped by nlohmann/json; invalid UTF-8 is
// replaced by U+FFFD, so every line parses. Lines below the level filter cost one compare.
//
// Thread-safety: every method may be called from any thread; each line is formatted first
// and then written with a single write under a mutex, so lines never interleave. The sink
// (FILE* or std::ostream) and the clock must outlive the Logger.
//
//   Logger log(stderr, LogLevel::kInfo);
//   log.Info("rules reloaded", {{"version", v}, {"trigger", "sighup"}, {"tables", 6}});
//   log.Warn("reload refused", {{"errors", 2}});
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <iosfwd>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "reflex/base/enum_names.h"
#include "reflex/base/thread_annotations.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/status.h"

namespace reflex::connectors {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
inline constexpr base::EnumNames<LogLevel, 4> kLogLevelNames{{{{LogLevel::kDebug, "debug"},
                                                               {LogLevel::kInfo, "info"},
                                                               {LogLevel::kWarn, "warn"},
                                                               {LogLevel::kError, "error"}}}};

// "debug", "info", "warn", "error".
std::string_view LogLevelName(LogLevel level);
// Accepts the names above (case-insensitive) and "warning"; InvalidArgument otherwise.
engine::Result<LogLevel> ParseLogLevel(std::string_view name);

// One field value: text, a signed or unsigned integer, a double or a bool.
class LogValue {
 public:
  LogValue(const char* s) : v_(std::string(s == nullptr ? "" : s)) {}  // NOLINT
  LogValue(std::string s) : v_(std::move(s)) {}                        // NOLINT
  LogValue(std::string_view s) : v_(std::string(s)) {}                 // NOLINT
  LogValue(bool b) : v_(b) {}                                          // NOLINT
  LogValue(double d) : v_(d) {}                                        // NOLINT
  LogValue(float d) : v_(static_cast<double>(d)) {}                    // NOLINT
  template <std::signed_integral T>
  requires(!std::same_as<T, bool>) LogValue(T i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  template <std::unsigned_integral T>
  requires(!std::same_as<T, bool>) LogValue(T u) : v_(static_cast<uint64_t>(u)) {}  // NOLINT

  using Variant = std::variant<std::string, int64_t, uint64_t, double, bool>;
  const Variant& value() const { return v_; }

 private:
  Variant v_;
};

using LogField = std::pair<std::string_view, LogValue>;
using LogFields = std::initializer_list<LogField>;

class Logger {
 public:
  // Writes to `out` (default stderr). `clock` stamps lines (default: the system clock).
  explicit Logger(std::FILE* out = stderr, LogLevel min_level = LogLevel::kInfo,
                  const engine::Clock* clock = nullptr);
  // Writes to a stream (tests, or a file the caller opened).
  explicit Logger(std::ostream& out, LogLevel min_level = LogLevel::kInfo,
                  const engine::Clock* clock = nullptr);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void set_level(LogLevel level) { min_level_.store(level, std::memory_order_relaxed); }
  LogLevel level() const { return min_level_.load(std::memory_order_relaxed); }
  bool Enabled(LogLevel level) const { return level >= this->level(); }

  void Log(LogLevel level, std::string_view msg, LogFields fields = {});
  // The same with fields built at run time.
  void Log(LogLevel level, std::string_view msg,
           const std::vector<std::pair<std::string, std::string>>& fields);
  // The same with a field list whose length is known only at run time.
  void LogSpan(LogLevel level, std::string_view msg, std::span<const LogField> fields);
  void Debug(std::string_view msg, LogFields fields = {}) { Log(LogLevel::kDebug, msg, fields); }
  void Info(std::string_view msg, LogFields fields = {}) { Log(LogLevel::kInfo, msg, fields); }
  void Warn(std::string_view msg, LogFields fields = {}) { Log(LogLevel::kWarn, msg, fields); }
  void Error(std::string_view msg, LogFields fields = {}) { Log(LogLevel::kError, msg, fields); }

  // The line Log would write (with its trailing newline), for tests and other sinks.
  std::string Format(LogLevel level, std::string_view msg, LogFields fields) const;

 private:
  std::string FormatSpan(LogLevel level, std::string_view msg,
                         std::span<const LogField> fields) const;
  void Write(const std::string& text);

  std::FILE* file_ = nullptr;
  std::ostream* stream_ = nullptr;
  const engine::Clock* clock_;
  std::atomic<LogLevel> min_level_;
  base::Mutex mu_;  // serialises writes to the sink
};

}  // namespace reflex::connectors
