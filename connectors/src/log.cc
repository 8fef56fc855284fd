#include "reflex/connectors/log.h"

#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <ostream>

#include "reflex/base/time.h"
#include "reflex/engine/event.h"

namespace reflex::connectors {

namespace {

const engine::SystemClock kSystemClock;

}  // namespace

std::string_view LogLevelName(LogLevel level) { return kLogLevelNames.Name(level); }

engine::Result<LogLevel> ParseLogLevel(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto level = kLogLevelNames.Parse(lower)) return *level;
  if (lower == "warning") return LogLevel::kWarn;
  return engine::InvalidArgument("unknown log level '" + std::string(name) +
                                 "' (expected debug, info, warn or error)");
}

Logger::Logger(std::FILE* out, LogLevel min_level, const engine::Clock* clock)
    : file_(out == nullptr ? stderr : out),
      clock_(clock == nullptr ? &kSystemClock : clock),
      min_level_(min_level) {}

Logger::Logger(std::ostream& out, LogLevel min_level, const engine::Clock* clock)
    : stream_(&out), clock_(clock == nullptr ? &kSystemClock : clock), min_level_(min_level) {}

std::string Logger::Format(LogLevel level, std::string_view msg, LogFields fields) const {
  return FormatSpan(level, msg, std::span<const LogField>(fields.begin(), fields.size()));
}

std::string Logger::FormatSpan(LogLevel level, std::string_view msg,
                               std::span<const LogField> fields) const {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  line["ts"] = base::FormatRfc3339Millis(clock_->NowMillis());
  line["level"] = LogLevelName(level);
  line["msg"] = std::string(msg);
  for (const auto& [name, value] : fields) {
    std::string key(name);
    if (key == "ts" || key == "level" || key == "msg") key = "field." + key;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, double>) {
            // JSON has no NaN or infinity: write them as text rather than null.
            if (!std::isfinite(v)) {
              line[key] = std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");
              return;
            }
          }
          line[key] = v;
        },
        value.value());
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text.push_back('\n');
  return text;
}

void Logger::Log(LogLevel level, std::string_view msg, LogFields fields) {
  if (!Enabled(level)) return;
  Write(Format(level, msg, fields));
}

void Logger::LogSpan(LogLevel level, std::string_view msg, std::span<const LogField> fields) {
  if (!Enabled(level)) return;
  Write(FormatSpan(level, msg, fields));
}

void Logger::Log(LogLevel level, std::string_view msg,
                 const std::vector<std::pair<std::string, std::string>>& fields) {
  if (!Enabled(level)) return;
  std::vector<LogField> f;
  f.reserve(fields.size());
  for (const auto& [k, v] : fields) f.emplace_back(k, LogValue(v));
  Write(FormatSpan(level, msg, f));
}

void Logger::Write(const std::string& text) {
  base::MutexLock lock(mu_);
  if (file_ != nullptr) {
    std::fwrite(text.data(), 1, text.size(), file_);
    std::fflush(file_);
  } else {
    stream_->write(text.data(), static_cast<std::streamsize>(text.size()));
    stream_->flush();
  }
}

}  // namespace reflex::connectors
