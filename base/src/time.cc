#include "reflex/base/time.h"

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

#include "reflex/base/strings.h"

namespace reflex::base {
namespace {

// Days since 1970-01-01 for a civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

Result<int64_t> ParseRfc3339Millis(std::string_view s) {
  auto bad = [&](const char* why) {
    return InvalidArgument("bad RFC 3339 timestamp '" + std::string(s.substr(0, 64)) + "': " + why);
  };
  auto num = [&](size_t pos, size_t len, int* out) {
    if (pos + len > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || s.size() < 19 || s[4] != '-' || !num(5, 2, &mo) || s[7] != '-' ||
      !num(8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, &h) ||
      s[13] != ':' || !num(14, 2, &mi) || s[16] != ':' || !num(17, 2, &se)) {
    return bad("expected YYYY-MM-DDTHH:MM:SS");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return bad("field out of range");
  }
  size_t i = 19;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 3) frac_ms = frac_ms * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (i == start) return bad("empty fraction");
    for (; digits < 3; ++digits) frac_ms *= 10;
  }
  int offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!num(i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' || !num(i + 4, 2, &om)) {
      return bad("bad UTC offset");
    }
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad("missing 'Z' or UTC offset");
  }
  if (i != s.size()) return bad("trailing characters");
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
  return secs * 1000 + frac_ms;
}

void AppendRfc3339Millis(int64_t ms, std::string* out) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t frac = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  // civil_from_days
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  // Hand-formatted: this runs twice per decision, and snprintf dominated the profile.
  char buf[32];
  auto put = [&](int pos, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      buf[pos + i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
  put(0, y, 4);
  buf[4] = '-';
  put(5, m, 2);
  buf[7] = '-';
  put(8, d, 2);
  buf[10] = 'T';
  put(11, sod / 3600, 2);
  buf[13] = ':';
  put(14, (sod / 60) % 60, 2);
  buf[16] = ':';
  put(17, sod % 60, 2);
  buf[19] = '.';
  put(20, frac, 3);
  buf[23] = 'Z';
  out->append(buf, 24);
}

std::string FormatRfc3339Millis(int64_t ms) {
  std::string s;
  AppendRfc3339Millis(ms, &s);
  return s;
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  text = Trim(text);
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  if (i == 0) return InvalidArgument("bad duration '" + std::string(text) + "' (e.g. 30s, 10m)");
  double n = 0;
  try {
    size_t used = 0;
    n = std::stod(std::string(text.substr(0, i)), &used);
    if (used != i) throw std::invalid_argument("x");
  } catch (const std::exception&) {
    return InvalidArgument("bad duration '" + std::string(text) + "' (e.g. 30s, 10m)");
  }
  std::string_view unit = text.substr(i);
  double mult = 0;
  if (unit.empty() || unit == "s") {
    mult = 1000;
  } else if (unit == "ms") {
    mult = 1;
  } else if (unit == "m") {
    mult = 60000;
  } else if (unit == "h") {
    mult = 3600000;
  } else if (unit == "d") {
    mult = 86400000;
  } else {
    return InvalidArgument("bad duration unit '" + std::string(unit) + "' in '" +
                           std::string(text) + "' (use ms, s, m, h or d)");
  }
  double ms = n * mult;
  if (!std::isfinite(ms) || ms > 1e15) {
    return InvalidArgument("duration '" + std::string(text) + "' is too large");
  }
  return static_cast<int64_t>(std::llround(ms));
}

}  // namespace reflex::base
