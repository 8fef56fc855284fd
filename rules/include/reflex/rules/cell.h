// The condition-cell language of decision tables.
//
//   (blank)               any value
//   critical   = critical  "a, b"   equals (quotes keep commas and spaces)
//   != x                  not equal (also true when the field is missing)
//   in(a, b)   not in(a, b)
//   < 5   <= 5   > 5   >= 5     numeric comparisons
//   [80,90)  (80,90]  [80,90]  (80,90)   numeric ranges; `*` is an open end: [90,*)
//   /disk.*full/          RE2 regular expression (search); /.../i case-insensitive
//   prefix(a,b)  suffix(a)  contains(a)     any of the strings
//   exists   missing
//   ieq(x)  ine(x)  iin(a,b)  not iin(a,b)  iprefix(..)  isuffix(..)  icontains(..)
//                         case-insensitive (ASCII) variants
//   cidr(10.0.0.0/8, 2001:db8::/32)        IP address within any block
//   time(09:00-18:00, 22:00-06:00)         time of day of a timestamp field
//   weekday(mon-fri)   weekday(sat, sun)   day of week of a timestamp field
//   not <op>(...)         negates any function form or a regex: not prefix(tmp), not /x/
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reflex/engine/condition.h"
#include "reflex/engine/status.h"

namespace reflex::rules {

// An error in a cell, with the 1-based character offset within the cell (0 = whole cell).
struct CellError {
  std::string message;
  int offset = 0;
};

struct CellResult {
  engine::Condition condition;
  bool ok = true;
  CellError error;
};

// Parses one condition cell. `tz_offset_min` applies to time() and weekday().
CellResult ParseCondition(std::string_view cell, int tz_offset_min = 0);

// Splits a comma-separated argument list, honouring "double quotes" (with "" escapes).
// Returns false with `error` set on an unterminated quote.
bool SplitArgs(std::string_view s, std::vector<std::string>* out, std::string* error);

// Parses "+09:00" / "-05:30" / "Z" / "UTC" into minutes east of UTC.
bool ParseTzOffset(std::string_view s, int* minutes);

}  // namespace reflex::rules
