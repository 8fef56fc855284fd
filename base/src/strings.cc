#include "reflex/base/strings.h"

#include <algorithm>
#include <charconv>

namespace reflex::base {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

namespace {
template <typename S>
std::string JoinImpl(const std::vector<S>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}
}  // namespace

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  return JoinImpl(items, sep);
}
std::string Join(const std::vector<std::string_view>& items, std::string_view sep) {
  return JoinImpl(items, sep);
}

std::string OneLine(std::string_view text, size_t max) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (IsBlank(c)) {
      space = !out.empty();
      continue;
    }
    // More to write than `max` allows: cut here.
    if (out.size() + (space ? 1 : 0) >= max) return out + "...";
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Result<int64_t> ParseInt64(std::string_view s) {
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  if (s.empty() || (s[0] != '-' && (s[0] < '0' || s[0] > '9'))) {
    return InvalidArgument("expected an integer, got '" + std::string(s.substr(0, 64)) + "'");
  }
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgument("integer out of range: '" + std::string(s.substr(0, 64)) + "'");
  }
  if (ec != std::errc() || ptr != end) {
    return InvalidArgument("expected an integer, got '" + std::string(s.substr(0, 64)) + "'");
  }
  return v;
}

size_t EditDistance(std::string_view a, std::string_view b, size_t limit) {
  const size_t gap = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  if (gap > limit) return limit + 1;
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    size_t row_min = cur[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return std::min(prev[b.size()], limit + 1);
}

}  // namespace reflex::base
