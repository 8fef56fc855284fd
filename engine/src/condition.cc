#include "reflex/engine/condition.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "reflex/base/strings.h"
#include "reflex/base/time.h"

namespace reflex::engine {

const char* OpName(Op op) { return kOpNames.Name(op).data(); }

std::optional<double> ParseNumber(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double d = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), d);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(d)) {
    return std::nullopt;
  }
  return d;
}

bool ParseIp(std::string_view s, uint8_t out[16], bool* v6) {
  char buf[64];
  if (s.empty() || s.size() >= sizeof(buf)) return false;
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = 0;
  std::memset(out, 0, 16);
  if (inet_pton(AF_INET, buf, out) == 1) {
    *v6 = false;
    return true;
  }
  if (inet_pton(AF_INET6, buf, out) == 1) {
    *v6 = true;
    return true;
  }
  return false;
}

bool CidrBlock::Contains(const uint8_t* ip, bool ip_v6) const {
  if (ip_v6 != v6) return false;
  int bits = prefix_len;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((ip[i] & mask) != (addr[i] & mask)) return false;
  }
  return true;
}

Condition::Condition() = default;
Condition::~Condition() = default;
Condition::Condition(const Condition&) = default;
Condition& Condition::operator=(const Condition&) = default;
Condition::Condition(Condition&&) noexcept = default;
Condition& Condition::operator=(Condition&&) noexcept = default;

namespace {

std::vector<double> NumbersOf(const std::vector<std::string>& v) {
  std::vector<double> r;
  r.reserve(v.size());
  for (const auto& s : v) r.push_back(ParseNumber(s).value_or(std::nan("")));
  return r;
}

std::vector<std::string> MaybeLower(std::vector<std::string> v, bool icase) {
  if (icase) {
    for (auto& s : v) s = base::AsciiLower(s);
  }
  return v;
}

bool EqualsFolded(std::string_view value, std::string_view lowered) {
  if (value.size() != lowered.size()) return false;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lowered[i]) return false;
  }
  return true;
}

std::string FormatNum(double d) {
  if (std::isinf(d)) return "*";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, r.ptr);
}

std::string JoinArgs(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += v[i];
  }
  return s;
}

}  // namespace

Condition Condition::Any() { return Condition(); }

Condition Condition::Equals(std::string value, bool icase, bool negate) {
  Condition c;
  c.op_ = Op::kEq;
  c.icase_ = icase;
  c.negate_ = negate;
  c.strings_ = MaybeLower({std::move(value)}, icase);
  c.numbers_ = NumbersOf(c.strings_);
  return c;
}

Condition Condition::In(std::vector<std::string> values, bool icase, bool negate) {
  Condition c;
  c.op_ = Op::kIn;
  c.icase_ = icase;
  c.negate_ = negate;
  c.strings_ = MaybeLower(std::move(values), icase);
  c.numbers_ = NumbersOf(c.strings_);
  return c;
}

Condition Condition::Range(NumRange r, bool negate) {
  Condition c;
  c.op_ = Op::kLess;
  c.negate_ = negate;
  c.range_ = r;
  return c;
}

Result<Condition> Condition::Regex(std::string pattern, bool icase, bool negate) {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_case_sensitive(!icase);
  auto re = std::make_shared<RE2>(pattern, opts);
  if (!re->ok()) return InvalidArgument("bad regular expression: " + re->error());
  Condition c;
  c.op_ = Op::kRegex;
  c.icase_ = icase;
  c.negate_ = negate;
  c.pattern_ = std::move(pattern);
  c.regex_ = std::move(re);
  return c;
}

Condition Condition::Prefix(std::vector<std::string> v, bool icase, bool negate) {
  Condition c;
  c.op_ = Op::kPrefix;
  c.icase_ = icase;
  c.negate_ = negate;
  c.strings_ = MaybeLower(std::move(v), icase);
  return c;
}

Condition Condition::Suffix(std::vector<std::string> v, bool icase, bool negate) {
  Condition c = Prefix(std::move(v), icase, negate);
  c.op_ = Op::kSuffix;
  return c;
}

Condition Condition::Contains(std::vector<std::string> v, bool icase, bool negate) {
  Condition c = Prefix(std::move(v), icase, negate);
  c.op_ = Op::kContains;
  return c;
}

Condition Condition::Exists() {
  Condition c;
  c.op_ = Op::kExists;
  return c;
}

Condition Condition::Missing() {
  Condition c;
  c.op_ = Op::kMissing;
  return c;
}

Condition Condition::Cidr(std::vector<CidrBlock> blocks, bool negate) {
  Condition c;
  c.op_ = Op::kCidr;
  c.negate_ = negate;
  c.cidrs_ = std::move(blocks);
  return c;
}

Condition Condition::TimeOfDay(std::vector<std::pair<int, int>> minutes, int tz_offset_min,
                               bool negate) {
  Condition c;
  c.op_ = Op::kTimeOfDay;
  c.negate_ = negate;
  c.minutes_ = std::move(minutes);
  c.tz_offset_min_ = tz_offset_min;
  return c;
}

Condition Condition::Weekday(uint8_t mask, int tz_offset_min, bool negate) {
  Condition c;
  c.op_ = Op::kWeekday;
  c.negate_ = negate;
  c.weekdays_ = mask;
  c.tz_offset_min_ = tz_offset_min;
  return c;
}

bool Condition::Evaluate(const FieldValue& v) const {
  switch (op_) {
    case Op::kAny:
      return true;
    case Op::kExists:
      return !v.missing();
    case Op::kMissing:
      return v.missing();
    default:
      break;
  }
  if (v.missing()) return negate_;
  return EvaluatePositive(v) != negate_;
}

bool Condition::EvaluatePositive(const FieldValue& v) const {
  switch (op_) {
    case Op::kEq:
    case Op::kIn: {
      if (v.is_number()) {
        // A number equals a literal when the literal is that number ("90" == 90.0), or
        // when the texts agree.
        const double d = *v.number();
        for (double n : numbers_) {
          if (n == d) return true;
        }
      }
      const std::string_view t = v.text();
      for (const auto& s : strings_) {
        if (icase_ ? EqualsFolded(t, s) : t == s) return true;
      }
      return false;
    }
    case Op::kLess: {
      auto d = v.number();
      return d && range_.Contains(*d);
    }
    case Op::kRegex:
      return RE2::PartialMatch(v.text(), *regex_);
    case Op::kPrefix:
    case Op::kSuffix:
    case Op::kContains: {
      std::string folded;
      std::string_view t = v.text();
      if (icase_) {
        folded = base::AsciiLower(t);
        t = folded;
      }
      for (const auto& s : strings_) {
        if (op_ == Op::kPrefix && t.substr(0, s.size()) == s) return true;
        if (op_ == Op::kSuffix && t.size() >= s.size() && t.substr(t.size() - s.size()) == s) {
          return true;
        }
        if (op_ == Op::kContains && t.find(s) != std::string_view::npos) return true;
      }
      return false;
    }
    case Op::kCidr: {
      uint8_t ip[16];
      bool v6 = false;
      if (!ParseIp(v.text(), ip, &v6)) return false;
      for (const auto& b : cidrs_) {
        if (b.Contains(ip, v6)) return true;
      }
      return false;
    }
    case Op::kTimeOfDay:
    case Op::kWeekday: {
      std::optional<double> ms = v.number();
      if (!ms && v.kind() == FieldValue::Kind::kText) {
        auto parsed = base::ParseRfc3339Millis(v.text());
        if (parsed.ok()) ms = static_cast<double>(*parsed);
      }
      // Past +-8.64e15 ms (the ECMAScript date range) the minute count would not fit the
      // integer arithmetic below, and no such time is meant: no match.
      if (!ms || !(std::fabs(*ms) <= 8.64e15)) return false;
      const int64_t local_min = static_cast<int64_t>(std::floor(*ms / 60000.0)) + tz_offset_min_;
      const int64_t day = local_min >= 0 ? local_min / 1440 : (local_min - 1439) / 1440;
      if (op_ == Op::kWeekday) {
        const int wd = static_cast<int>(((day % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
        return (weekdays_ >> wd) & 1;
      }
      const int mod = static_cast<int>(local_min - day * 1440);
      for (const auto& [a, b] : minutes_) {
        if (a <= b ? (mod >= a && mod < b) : (mod >= a || mod < b)) return true;
      }
      return false;
    }
    default:
      return true;
  }
}

std::string Condition::Describe() const {
  const std::string i = icase_ ? "i" : "";
  const std::string neg = negate_ ? "not " : "";
  switch (op_) {
    case Op::kAny:
      return "(any)";
    case Op::kEq:
      if (icase_) return std::string(negate_ ? "ine(" : "ieq(") + strings_[0] + ")";
      return (negate_ ? "!= " : "= ") + strings_[0];
    case Op::kIn:
      return neg + i + "in(" + JoinArgs(strings_) + ")";
    case Op::kLess: {
      const bool lo_inf = std::isinf(range_.lo), hi_inf = std::isinf(range_.hi);
      std::string s;
      if (lo_inf && !hi_inf)
        s = (range_.hi_incl ? "<= " : "< ") + FormatNum(range_.hi);
      else if (hi_inf && !lo_inf)
        s = (range_.lo_incl ? ">= " : "> ") + FormatNum(range_.lo);
      else
        s = std::string(range_.lo_incl ? "[" : "(") + FormatNum(range_.lo) + "," +
            FormatNum(range_.hi) + (range_.hi_incl ? "]" : ")");
      return neg + s;
    }
    case Op::kRegex:
      return neg + "/" + pattern_ + "/" + i;
    case Op::kPrefix:
      return neg + i + "prefix(" + JoinArgs(strings_) + ")";
    case Op::kSuffix:
      return neg + i + "suffix(" + JoinArgs(strings_) + ")";
    case Op::kContains:
      return neg + i + "contains(" + JoinArgs(strings_) + ")";
    case Op::kExists:
      return "exists";
    case Op::kMissing:
      return "missing";
    case Op::kCidr: {
      std::string s;
      for (const auto& b : cidrs_) {
        char buf[INET6_ADDRSTRLEN];
        inet_ntop(b.v6 ? AF_INET6 : AF_INET, b.addr, buf, sizeof(buf));
        if (!s.empty()) s += ", ";
        s += std::string(buf) + "/" + std::to_string(b.prefix_len);
      }
      return neg + "cidr(" + s + ")";
    }
    case Op::kTimeOfDay: {
      std::string s;
      char buf[32];
      for (const auto& [a, b] : minutes_) {
        std::snprintf(buf, sizeof(buf), "%02d:%02d-%02d:%02d", a / 60, a % 60, b / 60, b % 60);
        if (!s.empty()) s += ", ";
        s += buf;
      }
      return neg + "time(" + s + ")";
    }
    case Op::kWeekday: {
      static const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
      std::string s;
      for (int k = 1; k <= 7; ++k) {  // Monday first, as operators write weeks
        const int d = k % 7;
        if ((weekdays_ >> d) & 1) {
          if (!s.empty()) s += ",";
          s += kDays[d];
        }
      }
      return neg + "weekday(" + s + ")";
    }
  }
  return "?";
}

}  // namespace reflex::engine
