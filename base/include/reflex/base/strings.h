// String helpers every module needs: trimming, splitting, joining, case folding, strict
// integer parsing and edit distance. One home, so no module keeps a private copy.
// Pure functions over views; thread-safe. Results that view their input live as long as it.
//
//   std::string_view v = Trim("  30s \r\n");          // "30s"
//   Result<int64_t> port = ParseInt64("8080");         // strict: no sign games, no blanks
//   std::string list = Join({"a", "b", "c"}, ", ");   // "a, b, c"
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/status.h"

namespace reflex::base {

// True for space, tab, CR, LF, vertical tab and form feed.
inline bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// `s` without leading and trailing blanks (IsBlank).
std::string_view Trim(std::string_view s);

// Splits on every `sep`; "a,,b" gives {"a", "", "b"}; "" gives {""}.
std::vector<std::string_view> Split(std::string_view s, char sep);

// Joins with `sep` between items.
std::string Join(const std::vector<std::string>& items, std::string_view sep);
std::string Join(const std::vector<std::string_view>& items, std::string_view sep);

// `text` on one line, for a message: every run of blanks (IsBlank) becomes one space, none
// leading or trailing; cut after `max` bytes, then "..." is appended.
std::string OneLine(std::string_view text, size_t max);

// ASCII lower case; other bytes unchanged (UTF-8 stays valid).
std::string AsciiLower(std::string_view s);

// Parses a base-10 integer: an optional '-', then digits only, within int64_t.
// kInvalidArgument ("expected an integer" / "integer out of range") otherwise.
Result<int64_t> ParseInt64(std::string_view s);

// Levenshtein distance, giving up (returning limit + 1) once it exceeds `limit`.
size_t EditDistance(std::string_view a, std::string_view b, size_t limit = 3);

// " (did you mean 'x'?)" naming the candidate nearest to `word` within two edits, or "".
template <typename Range>
std::string DidYouMean(std::string_view word, const Range& candidates) {
  std::string best;
  size_t best_d = 3;
  for (const auto& c : candidates) {
    const size_t d = EditDistance(word, c, 2);
    if (d < best_d) best_d = d, best = std::string(c);
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}
inline std::string DidYouMean(std::string_view word,
                              std::initializer_list<std::string_view> candidates) {
  return DidYouMean<std::initializer_list<std::string_view>>(word, candidates);
}

}  // namespace reflex::base
