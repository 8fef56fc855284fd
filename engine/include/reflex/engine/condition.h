// Condition: one compiled cell of a decision table, tested against one field of an event.
//
// Conditions are built by the rule language (reflex::rules::ParseCondition turns cell text
// such as `>= 90`, `in(a,b)` or `/disk.*/i` into one) or directly through the factories
// below. A built Condition is immutable and safe to evaluate from many threads.
//
//   Result<Condition> c = Condition::Range(80, true, 90, false);  // [80,90)
//   bool hit = c->Evaluate(event.Get(path));
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/base/enum_names.h"
#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace re2 {
class RE2;
}

namespace reflex::engine {

enum class Op : uint8_t {
  kAny,        // blank cell: always true
  kEq,         // literal, `= x`, `ieq(x)`; negated: `!= x`, `ine(x)`
  kIn,         // `in(a,b)`, `iin(a,b)`; negated: `not in(...)`
  kLess,       // `< x`, `<= x`, `> x`, `>= x`, `[a,b)`, `(a,b]`: numeric interval
  kRegex,      // `/re/`, `/re/i`: RE2, unanchored search
  kPrefix,     // `prefix(a,b)`: any of the prefixes
  kSuffix,     // `suffix(a,b)`
  kContains,   // `contains(a,b)`
  kExists,     // `exists`
  kMissing,    // `missing`
  kCidr,       // `cidr(10.0.0.0/8, 2001:db8::/32)`
  kTimeOfDay,  // `time(09:00-18:00, 22:00-02:00)`: on a timestamp field
  kWeekday,    // `weekday(mon-fri)`, `weekday(sat,sun)`: on a timestamp field
};
// The operator's name in messages: mostly its cell syntax; kLess is "range", kTimeOfDay "time".
inline constexpr base::EnumNames<Op, 13> kOpNames{{{{Op::kAny, "any"},
                                                    {Op::kEq, "eq"},
                                                    {Op::kIn, "in"},
                                                    {Op::kLess, "range"},
                                                    {Op::kRegex, "regex"},
                                                    {Op::kPrefix, "prefix"},
                                                    {Op::kSuffix, "suffix"},
                                                    {Op::kContains, "contains"},
                                                    {Op::kExists, "exists"},
                                                    {Op::kMissing, "missing"},
                                                    {Op::kCidr, "cidr"},
                                                    {Op::kTimeOfDay, "time"},
                                                    {Op::kWeekday, "weekday"}}}};

const char* OpName(Op op);

// A numeric interval; infinite ends are +-infinity.
struct NumRange {
  double lo;
  double hi;
  bool lo_incl;
  bool hi_incl;
  bool Contains(double x) const {
    return (lo_incl ? x >= lo : x > lo) && (hi_incl ? x <= hi : x < hi);
  }
};

struct CidrBlock {
  bool v6 = false;
  uint8_t addr[16] = {};
  int prefix_len = 0;
  bool Contains(const uint8_t* ip, bool ip_v6) const;
};

// Parses an IPv4 or IPv6 address; false when `s` is not one.
bool ParseIp(std::string_view s, uint8_t out[16], bool* v6);

class Condition {
 public:
  Condition();  // kAny
  ~Condition();
  Condition(const Condition&);
  Condition& operator=(const Condition&);
  Condition(Condition&&) noexcept;
  Condition& operator=(Condition&&) noexcept;

  static Condition Any();
  static Condition Equals(std::string value, bool icase = false, bool negate = false);
  static Condition In(std::vector<std::string> values, bool icase = false, bool negate = false);
  static Condition Range(NumRange r, bool negate = false);
  static Result<Condition> Regex(std::string pattern, bool icase = false, bool negate = false);
  static Condition Prefix(std::vector<std::string> v, bool icase = false, bool negate = false);
  static Condition Suffix(std::vector<std::string> v, bool icase = false, bool negate = false);
  static Condition Contains(std::vector<std::string> v, bool icase = false, bool negate = false);
  static Condition Exists();
  static Condition Missing();
  static Condition Cidr(std::vector<CidrBlock> blocks, bool negate = false);
  // Minute-of-day intervals [start, end); end < start wraps past midnight.
  static Condition TimeOfDay(std::vector<std::pair<int, int>> minutes, int tz_offset_min,
                             bool negate = false);
  // Bit d set (0 = Sunday) when weekday d matches.
  static Condition Weekday(uint8_t mask, int tz_offset_min, bool negate = false);

  Op op() const { return op_; }
  bool icase() const { return icase_; }
  bool negate() const { return negate_; }
  // Strings of kEq / kIn / kPrefix / kSuffix / kContains (lower-cased when icase()).
  const std::vector<std::string>& strings() const { return strings_; }
  // Numeric forms of strings() (kEq / kIn), NaN where a string is not a number.
  const std::vector<double>& numbers() const { return numbers_; }
  const NumRange& range() const { return range_; }
  const std::string& pattern() const { return pattern_; }
  const re2::RE2* regex() const { return regex_.get(); }
  const std::vector<CidrBlock>& cidrs() const { return cidrs_; }
  const std::vector<std::pair<int, int>>& minutes() const { return minutes_; }
  uint8_t weekdays() const { return weekdays_; }
  int tz_offset_min() const { return tz_offset_min_; }

  // True for `= x` and `in(...)` without negation: the matcher indexes these in hash maps.
  bool IsHashable() const { return (op_ == Op::kEq || op_ == Op::kIn) && !negate_; }

  bool Evaluate(const FieldValue& v) const;
  // A short human description, e.g. ">= 90", "in(a, b)".
  std::string Describe() const;

 private:
  bool EvaluatePositive(const FieldValue& v) const;

  Op op_ = Op::kAny;
  bool icase_ = false;
  bool negate_ = false;
  uint8_t weekdays_ = 0;
  int tz_offset_min_ = 0;
  std::vector<std::string> strings_;
  std::vector<double> numbers_;
  NumRange range_{0, 0, false, false};
  std::string pattern_;
  std::shared_ptr<const re2::RE2> regex_;
  std::vector<CidrBlock> cidrs_;
  std::vector<std::pair<int, int>> minutes_;
};

// ASCII lower-casing (case-insensitive operators fold ASCII letters only).
// Parses a whole string as a finite double ("90", "-1.5e3"); nullopt otherwise.
std::optional<double> ParseNumber(std::string_view s);

}  // namespace reflex::engine
