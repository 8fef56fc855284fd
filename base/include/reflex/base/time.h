// Time text: RFC 3339 timestamps and operator durations ("30s", "10m").
//
// Timestamps are milliseconds since the Unix epoch (UTC), kept below year 10000 (either
// sign), the range RFC 3339 text can show. Pure functions; thread-safe.
//
//   Result<int64_t> t = ParseRfc3339Millis("2026-11-24T10:00:00Z");
//   std::string s = FormatRfc3339Millis(*t);          // "2026-11-24T10:00:00.000Z"
//   Result<int64_t> d = ParseDurationMs("1m30s");     // error: one unit per duration
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "reflex/base/status.h"

namespace reflex::base {

// The largest event time Reflex keeps (year 10000), in ms since the epoch, either sign.
inline constexpr double kMaxEpochMillis = 253402300800000.0;

// Parses RFC 3339 (`2026-11-24T10:00:00Z`, fractional seconds and offsets allowed).
Result<int64_t> ParseRfc3339Millis(std::string_view s);
std::string FormatRfc3339Millis(int64_t ms);
// Appends the same text as FormatRfc3339Millis (no allocation of its own).
void AppendRfc3339Millis(int64_t ms, std::string* out);

// Parses "500ms", "30s", "10m", "1h", "2d" or a plain number of seconds ("1.5" = 1500 ms).
// Surrounding blanks are ignored. kInvalidArgument names the text and the units allowed.
Result<int64_t> ParseDurationMs(std::string_view text);

}  // namespace reflex::base
