#include "reflex/rules/cell.h"

#include <cmath>
#include <limits>

#include "reflex/base/strings.h"

namespace reflex::rules {

using engine::Condition;
using engine::NumRange;

namespace {

CellResult Fail(std::string message, int offset) {
  CellResult r;
  r.ok = false;
  r.error = {std::move(message), offset};
  return r;
}

CellResult Ok(Condition c) {
  CellResult r;
  r.condition = std::move(c);
  return r;
}

// Unquotes a "quoted" literal with "" escapes; returns the text unchanged when unquoted.
bool Unquote(std::string_view s, std::string* out) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') {
    out->clear();
    for (size_t i = 1; i + 1 < s.size(); ++i) {
      if (s[i] == '"') {
        if (i + 2 < s.size() && s[i + 1] == '"') {
          out->push_back('"');
          ++i;
          continue;
        }
        return false;
      }
      out->push_back(s[i]);
    }
    return true;
  }
  out->assign(s);
  return true;
}

bool ParseBound(std::string_view s, double inf, double* out) {
  s = base::Trim(s);
  if (s.empty() || s == "*") {
    *out = inf;
    return true;
  }
  auto d = engine::ParseNumber(s);
  if (!d) return false;
  *out = *d;
  return true;
}

int ParseDay(std::string_view s) {
  static const char* kShort[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  static const char* kLong[] = {"sunday",   "monday", "tuesday", "wednesday",
                                "thursday", "friday", "saturday"};
  std::string l = base::AsciiLower(base::Trim(s));
  for (int d = 0; d < 7; ++d) {
    if (l == kShort[d] || l == kLong[d]) return d;
  }
  return -1;
}

bool ParseHhMm(std::string_view s, int* minutes) {
  s = base::Trim(s);
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  auto h = engine::ParseNumber(s.substr(0, colon));
  auto m = engine::ParseNumber(s.substr(colon + 1));
  if (!h || !m || *h != std::floor(*h) || *m != std::floor(*m)) return false;
  if (*h < 0 || *h > 24 || *m < 0 || *m > 59 || (*h == 24 && *m != 0)) return false;
  *minutes = static_cast<int>(*h) * 60 + static_cast<int>(*m);
  return true;
}

bool ParseCidrBlock(std::string_view s, engine::CidrBlock* b, std::string* err) {
  s = base::Trim(s);
  size_t slash = s.find('/');
  std::string_view ip = s.substr(0, slash);
  if (!engine::ParseIp(ip, b->addr, &b->v6)) {
    *err = "'" + std::string(ip) + "' is not an IPv4 or IPv6 address";
    return false;
  }
  const int max = b->v6 ? 128 : 32;
  b->prefix_len = max;
  if (slash != std::string_view::npos) {
    auto p = engine::ParseNumber(s.substr(slash + 1));
    if (!p || *p != std::floor(*p) || *p < 0 || *p > max) {
      *err = "bad prefix length in '" + std::string(s) + "' (0-" + std::to_string(max) + ")";
      return false;
    }
    b->prefix_len = static_cast<int>(*p);
  }
  return true;
}

}  // namespace

bool SplitArgs(std::string_view s, std::vector<std::string>* out, std::string* error) {
  out->clear();
  if (base::Trim(s).empty()) return true;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"' && base::Trim(cur).empty()) {
      cur.clear();
      quoted = was_quoted = true;
    } else if (c == ',') {
      out->push_back(was_quoted ? cur : std::string(base::Trim(cur)));
      cur.clear();
      was_quoted = false;
    } else if (!(was_quoted && (c == ' ' || c == '\t'))) {
      cur.push_back(c);
    }
  }
  if (quoted) {
    *error = "unterminated quote in argument list";
    return false;
  }
  out->push_back(was_quoted ? cur : std::string(base::Trim(cur)));
  return true;
}

bool ParseTzOffset(std::string_view s, int* minutes) {
  s = base::Trim(s);
  if (s == "Z" || s == "UTC" || s == "utc" || s.empty()) {
    *minutes = 0;
    return true;
  }
  if (s.size() != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return false;
  auto h = engine::ParseNumber(s.substr(1, 2));
  auto m = engine::ParseNumber(s.substr(4, 2));
  if (!h || !m || *h > 14 || *m > 59) return false;
  *minutes = static_cast<int>(*h * 60 + *m) * (s[0] == '-' ? -1 : 1);
  return true;
}

CellResult ParseCondition(std::string_view cell, int tz_offset_min) {
  std::string_view s = base::Trim(cell);
  const int base = static_cast<int>(
      cell.find_first_not_of(" \t") == std::string_view::npos ? 0 : cell.find_first_not_of(" \t"));
  if (s.empty()) return Ok(Condition::Any());
  auto at = [&](size_t off) { return base + static_cast<int>(off) + 1; };

  bool negate = false;
  size_t neg_len = 0;
  if (s.size() > 4 && (s.substr(0, 4) == "not " || s.substr(0, 4) == "NOT ")) {
    negate = true;
    std::string_view rest = base::Trim(s.substr(4));
    neg_len = s.size() - rest.size();
    s = rest;
  }

  // Quoted literal.
  if (s.front() == '"') {
    std::string lit;
    if (!Unquote(s, &lit) || s.size() < 2 || s.back() != '"') {
      return Fail("bad quoted value (a quoted cell must end with '\"'; write \"\" for a quote)",
                  at(neg_len));
    }
    return Ok(Condition::Equals(std::move(lit), false, negate));
  }
  if (s == "exists" || s == "missing") {
    if (negate) return Ok(s == "exists" ? Condition::Missing() : Condition::Exists());
    return Ok(s == "exists" ? Condition::Exists() : Condition::Missing());
  }
  // Comparisons.
  if (!negate && (s.substr(0, 2) == "!=" || s.substr(0, 2) == "<>")) {
    std::string lit;
    if (!Unquote(base::Trim(s.substr(2)), &lit)) return Fail("bad quoted value", at(2));
    if (lit.empty()) return Fail("'!=' needs a value (use 'exists' for any value)", at(0));
    return Ok(Condition::Equals(std::move(lit), false, true));
  }
  if (s[0] == '<' || s[0] == '>') {
    const bool eq = s.size() > 1 && s[1] == '=';
    std::string_view num = base::Trim(s.substr(eq ? 2 : 1));
    auto d = engine::ParseNumber(num);
    if (!d) {
      return Fail("'" + std::string(s.substr(0, eq ? 2 : 1)) + "' needs a number, got '" +
                      std::string(num) + "'",
                  at(neg_len + (eq ? 2 : 1)));
    }
    constexpr double kInf = std::numeric_limits<double>::infinity();
    NumRange r = s[0] == '<' ? NumRange{-kInf, *d, false, eq} : NumRange{*d, kInf, eq, false};
    return Ok(Condition::Range(r, negate));
  }
  if (!negate && s[0] == '=') {
    std::string_view v = base::Trim(s.substr(s.size() > 1 && s[1] == '=' ? 2 : 1));
    std::string lit;
    if (!Unquote(v, &lit)) return Fail("bad quoted value", at(1));
    return Ok(Condition::Equals(std::move(lit)));
  }
  // Ranges: [a,b) (a,b] [a,b] (a,b)
  if ((s[0] == '[' || s[0] == '(') && (s.back() == ']' || s.back() == ')')) {
    std::string_view inner = s.substr(1, s.size() - 2);
    size_t comma = inner.find(',');
    if (comma == std::string_view::npos) {
      return Fail("a range needs two bounds: [low,high) (use * for an open end)", at(neg_len));
    }
    constexpr double kInf = std::numeric_limits<double>::infinity();
    double lo, hi;
    if (!ParseBound(inner.substr(0, comma), -kInf, &lo)) {
      return Fail("range low bound '" + std::string(base::Trim(inner.substr(0, comma))) +
                      "' is not a number",
                  at(neg_len + 1));
    }
    if (!ParseBound(inner.substr(comma + 1), kInf, &hi)) {
      return Fail("range high bound '" + std::string(base::Trim(inner.substr(comma + 1))) +
                      "' is not a number",
                  at(neg_len + comma + 2));
    }
    if (lo > hi) return Fail("empty range: low bound is above the high bound", at(neg_len));
    NumRange r{lo, hi, s[0] == '[' && std::isfinite(lo), s.back() == ']' && std::isfinite(hi)};
    if (lo == hi && !(r.lo_incl && r.hi_incl)) {
      return Fail("empty range: no number lies between equal bounds unless both are included",
                  at(neg_len));
    }
    return Ok(Condition::Range(r, negate));
  }
  // "[80,90" or "(0,5" is a range whose closing bracket was lost, not a literal: say so.
  if (s[0] == '[' || s[0] == '(') {
    size_t comma = s.find(',');
    double lo;
    if (comma != std::string_view::npos &&
        ParseBound(s.substr(1, comma - 1), -std::numeric_limits<double>::infinity(), &lo)) {
      return Fail("unclosed range: it must end with ')' or ']' (quote the cell for literal text)",
                  at(neg_len + s.size()));
    }
  }
  // Regex: /.../ or /.../i (a lone "/" or "/var" is a literal path).
  if (s[0] == '/' && s.size() >= 3) {
    const bool icase = s.back() == 'i' && s[s.size() - 2] == '/' && s.size() >= 4;
    if (s.back() == '/' || icase) {
      std::string pat(s.substr(1, s.size() - (icase ? 3 : 2)));
      auto c = Condition::Regex(std::move(pat), icase, negate);
      if (!c.ok()) return Fail(c.status().message(), at(neg_len));
      return Ok(std::move(*c));
    }
  }
  // Function forms: name(args).
  size_t paren = s.find('(');
  if (paren != std::string_view::npos && paren > 0) {
    std::string_view name = base::Trim(s.substr(0, paren));
    bool ident = !name.empty();
    for (char c : name)
      ident = ident && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_');
    if (ident) {
      if (s.back() != ')')
        return Fail("missing ')' at the end of " + std::string(name) + "(...)",
                    at(s.size() - 1 + neg_len));
      std::string_view args_text = s.substr(paren + 1, s.size() - paren - 2);
      std::vector<std::string> args;
      std::string err;
      if (!SplitArgs(args_text, &args, &err)) return Fail(err, at(neg_len + paren + 1));
      const std::string n = base::AsciiLower(name);
      const int args_at = at(neg_len + paren + 1);
      // Where argument k starts in the cell (the list's start when it cannot be found, as
      // for a quoted argument with doubled quotes).
      auto arg_at = [&](size_t k) -> int {
        size_t from = 0, pos = 0;
        for (size_t j = 0; j <= k; ++j) {
          pos = args_text.find(args[j], from);
          if (pos == std::string_view::npos || args[j].empty()) return args_at;
          from = pos + args[j].size();
        }
        return at(neg_len + paren + 1 + pos);
      };
      auto need_args = [&]() -> bool {
        return !args.empty() && !(args.size() == 1 && args[0].empty());
      };
      if (n == "in" || n == "iin") {
        if (!need_args()) return Fail(n + "() needs at least one value", args_at);
        return Ok(Condition::In(std::move(args), n == "iin", negate));
      }
      if (n == "eq" || n == "ieq" || n == "ne" || n == "ine") {
        if (args.size() != 1) return Fail(n + "() takes exactly one value", args_at);
        const bool neg = (n == "ne" || n == "ine") != negate;
        return Ok(Condition::Equals(std::move(args[0]), n[0] == 'i', neg));
      }
      if (n == "prefix" || n == "iprefix" || n == "suffix" || n == "isuffix" || n == "contains" ||
          n == "icontains") {
        if (!need_args()) return Fail(n + "() needs at least one value", args_at);
        for (const auto& a : args) {
          if (a.empty()) return Fail(n + "() has an empty value", args_at);
        }
        const bool ic = n[0] == 'i';
        const std::string base_name = ic ? n.substr(1) : n;
        if (base_name == "prefix") return Ok(Condition::Prefix(std::move(args), ic, negate));
        if (base_name == "suffix") return Ok(Condition::Suffix(std::move(args), ic, negate));
        return Ok(Condition::Contains(std::move(args), ic, negate));
      }
      if (n == "regex" || n == "re" || n == "iregex") {
        // The whole argument text is the pattern (commas included).
        auto c = Condition::Regex(std::string(args_text), n == "iregex", negate);
        if (!c.ok()) return Fail(c.status().message(), args_at);
        return Ok(std::move(*c));
      }
      if (n == "cidr") {
        if (!need_args()) return Fail("cidr() needs at least one block like 10.0.0.0/8", args_at);
        std::vector<engine::CidrBlock> blocks;
        for (size_t k = 0; k < args.size(); ++k) {
          engine::CidrBlock b;
          if (!ParseCidrBlock(args[k], &b, &err)) return Fail(err, arg_at(k));
          blocks.push_back(b);
        }
        return Ok(Condition::Cidr(std::move(blocks), negate));
      }
      if (n == "time") {
        if (!need_args()) return Fail("time() needs a range like 09:00-18:00", args_at);
        std::vector<std::pair<int, int>> ranges;
        for (size_t k = 0; k < args.size(); ++k) {
          const std::string& a = args[k];
          size_t dash = a.find('-');
          int from, to;
          if (dash == std::string::npos || !ParseHhMm(std::string_view(a).substr(0, dash), &from) ||
              !ParseHhMm(std::string_view(a).substr(dash + 1), &to)) {
            return Fail("bad time range '" + a + "' (expected HH:MM-HH:MM)", arg_at(k));
          }
          ranges.emplace_back(from, to);
        }
        return Ok(Condition::TimeOfDay(std::move(ranges), tz_offset_min, negate));
      }
      if (n == "weekday") {
        if (!need_args()) return Fail("weekday() needs days like mon-fri or sat,sun", args_at);
        uint8_t mask = 0;
        for (size_t k = 0; k < args.size(); ++k) {
          const std::string& a = args[k];
          size_t dash = a.find('-');
          int from = ParseDay(std::string_view(a).substr(0, dash));
          int to =
              dash == std::string::npos ? from : ParseDay(std::string_view(a).substr(dash + 1));
          if (from < 0 || to < 0) {
            return Fail("bad weekday '" + a + "' (use sun, mon, tue, wed, thu, fri, sat)",
                        arg_at(k));
          }
          for (int d = from;; d = (d + 1) % 7) {
            mask |= static_cast<uint8_t>(1u << d);
            if (d == to) break;
          }
        }
        return Ok(Condition::Weekday(mask, tz_offset_min, negate));
      }
      return Fail("unknown operator '" + std::string(name) +
                      "' (quote the cell to match the text literally)",
                  at(neg_len));
    }
  }
  if (negate) {
    return Fail("'not' must be followed by an operator such as in(...), prefix(...) or /regex/",
                at(0));
  }
  return Ok(Condition::Equals(std::string(s)));
}

}  // namespace reflex::rules
