#include "line_protocol.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>

#include "reflex/base/utf8.h"

namespace reflex::connectors::influx {

using engine::InvalidArgument;
using engine::Status;

std::optional<double> Field::Number() const {
  switch (type) {
    case FieldType::kFloat:
      return f;
    case FieldType::kInt:
      return static_cast<double>(i);
    case FieldType::kUint:
      return static_cast<double>(u);
    case FieldType::kBool:
      return b ? 1.0 : 0.0;
    case FieldType::kString:
      return std::nullopt;
  }
  return std::nullopt;
}

namespace {

// Text shown in an error: at most 64 bytes of whole characters, invalid UTF-8 replaced.
std::string Shown(std::string_view s) {
  std::string out;
  base::AppendJsonString(base::CutUtf8(s, 64), &out);
  if (s.size() > 64) out.insert(out.size() - 1, "...");
  return out;
}

class Parser {
 public:
  Parser(std::string_view text, const LineCaps& caps) : t_(text), caps_(caps) {}

  Status Run(std::vector<Line>* out) {
    std::vector<Line> lines;
    while (true) {
      SkipBlankAndComments();
      if (p_ >= t_.size()) break;
      Line line;
      line.line_no = line_no_;
      if (Status s = ParseLine(&line); !s.ok()) {
        return InvalidArgument("line " + std::to_string(line.line_no) + ": " + s.message());
      }
      lines.push_back(std::move(line));
    }
    for (auto& l : lines) out->push_back(std::move(l));
    return Status::Ok();
  }

 private:
  bool AtEnd() const { return p_ >= t_.size(); }
  char Cur() const { return t_[p_]; }
  // End of the line: newline, CR LF, or the end of the text.
  bool AtLineEnd() const {
    return AtEnd() || Cur() == '\n' ||
           (Cur() == '\r' && (p_ + 1 == t_.size() || t_[p_ + 1] == '\n'));
  }

  void SkipBlankAndComments() {
    while (!AtEnd()) {
      const char c = Cur();
      if (c == ' ' || c == '\t' || c == '\r') {
        ++p_;
      } else if (c == '\n') {
        ++p_;
        ++line_no_;
      } else if (c == '#') {
        while (!AtEnd() && Cur() != '\n') ++p_;
      } else {
        return;
      }
    }
  }

  // Reads an identifier up to an unescaped character of `stops` (or a line end), unescaping
  // `\` + one of `escapable` (and `\\`). Returns the end character seen ('\n' for a line end).
  char ReadName(std::string_view stops, std::string_view escapable, std::string* out) {
    out->clear();
    while (!AtLineEnd()) {
      const char c = Cur();
      if (c == '\\' && p_ + 1 < t_.size()) {
        const char n = t_[p_ + 1];
        if (n == '\\' || escapable.find(n) != std::string_view::npos) {
          out->push_back(n);
          p_ += 2;
          continue;
        }
      }
      if (stops.find(c) != std::string_view::npos) return c;
      out->push_back(c);
      ++p_;
    }
    return '\n';
  }

  static std::string_view Describe(char end) {
    switch (end) {
      case ' ':
        return "a space";
      case ',':
        return "a comma";
      case '=':
        return "'='";
      default:
        return "the end of the line";
    }
  }

  Status ParseLine(Line* line) {
    std::string name;
    char end = ReadName(", ", ", ", &name);
    if (name.empty()) return InvalidArgument("missing measurement name");
    line->measurement = std::move(name);
    // Tags.
    while (end == ',') {
      ++p_;
      std::string key, value;
      end = ReadName("=, ", ",= ", &key);
      if (end != '=') {
        return InvalidArgument("tag " + Shown(key) + ": expected '=' after the tag key, got " +
                               std::string(Describe(end)));
      }
      if (key.empty()) return InvalidArgument("empty tag key");
      ++p_;
      end = ReadName(", =", ",= ", &value);
      if (end == '=') return InvalidArgument("tag " + Shown(key) + ": unescaped '=' in the value");
      if (value.empty()) return InvalidArgument("tag " + Shown(key) + ": empty tag value");
      if (line->tags.size() >= caps_.max_tags) {
        return InvalidArgument("too many tags (at most " + std::to_string(caps_.max_tags) + ")");
      }
      line->tags.emplace_back(std::move(key), std::move(value));
    }
    if (end != ' ') return InvalidArgument("missing fields (expected a space, then key=value)");
    while (!AtEnd() && Cur() == ' ') ++p_;
    if (AtLineEnd()) return InvalidArgument("missing fields (expected key=value after the space)");
    // Fields.
    while (true) {
      Field f;
      end = ReadName("=, ", ",= ", &f.key);
      if (end != '=') {
        return InvalidArgument("field " + Shown(f.key) +
                               ": expected '=' after the field key, got " +
                               std::string(Describe(end)));
      }
      if (f.key.empty()) return InvalidArgument("empty field key");
      ++p_;
      if (Status s = ReadFieldValue(&f); !s.ok()) return s;
      if (line->fields.size() >= caps_.max_fields) {
        return InvalidArgument("too many fields (at most " + std::to_string(caps_.max_fields) +
                               ")");
      }
      line->fields.push_back(std::move(f));
      if (AtLineEnd()) break;
      if (Cur() == ',') {
        ++p_;
        continue;
      }
      if (Cur() == ' ') break;
      return InvalidArgument("field " + Shown(line->fields.back().key) +
                             ": unexpected text after the value");
    }
    // Timestamp.
    while (!AtEnd() && Cur() == ' ') ++p_;
    if (!AtLineEnd()) {
      const size_t start = p_;
      while (!AtLineEnd() && Cur() != ' ' && Cur() != '\t') ++p_;
      const std::string_view text = t_.substr(start, p_ - start);
      int64_t ts = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ts);
      if (ec == std::errc::result_out_of_range) {
        return InvalidArgument("timestamp " + Shown(text) + " is out of range (int64)");
      }
      if (ec != std::errc() || ptr != text.data() + text.size()) {
        return InvalidArgument("bad timestamp " + Shown(text) + " (expected an integer)");
      }
      line->timestamp = ts;
      while (!AtLineEnd() && (Cur() == ' ' || Cur() == '\t')) ++p_;
      if (!AtLineEnd()) {
        return InvalidArgument("unexpected text after the timestamp: " +
                               Shown(t_.substr(p_, std::min<size_t>(64, t_.size() - p_))));
      }
    }
    if (!AtEnd() && Cur() == '\r') ++p_;
    if (!AtEnd()) {  // '\n'
      ++p_;
      ++line_no_;
    }
    return Dedupe(line);
  }

  Status ReadFieldValue(Field* f) {
    if (!AtEnd() && Cur() == '"') {
      ++p_;
      f->type = FieldType::kString;
      while (true) {
        if (AtEnd()) return InvalidArgument("field " + Shown(f->key) + ": unterminated string");
        const char c = Cur();
        if (c == '\\' && p_ + 1 < t_.size() && (t_[p_ + 1] == '"' || t_[p_ + 1] == '\\')) {
          f->s.push_back(t_[p_ + 1]);
          p_ += 2;
          continue;
        }
        ++p_;
        if (c == '"') break;
        if (c == '\n') ++line_no_;
        f->s.push_back(c);
      }
      return Status::Ok();
    }
    const size_t start = p_;
    while (!AtLineEnd() && Cur() != ',' && Cur() != ' ') ++p_;
    std::string_view v = t_.substr(start, p_ - start);
    auto bad = [&](const std::string& what) {
      return InvalidArgument("field " + Shown(f->key) + ": " + what);
    };
    if (v.empty()) return bad("missing value");
    if (v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE") {
      f->type = FieldType::kBool;
      f->b = true;
      return Status::Ok();
    }
    if (v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE") {
      f->type = FieldType::kBool;
      f->b = false;
      return Status::Ok();
    }
    const char suffix = v.back();
    if (suffix == 'i' || suffix == 'u') {
      std::string_view digits = v.substr(0, v.size() - 1);
      const bool is_int = suffix == 'i';
      const char* what = is_int ? "integer" : "unsigned integer";
      if (!is_int && !digits.empty() && digits[0] == '-') {
        return bad("negative unsigned integer " + Shown(v));
      }
      std::from_chars_result r;
      if (is_int) {
        f->type = FieldType::kInt;
        r = std::from_chars(digits.data(), digits.data() + digits.size(), f->i);
      } else {
        f->type = FieldType::kUint;
        r = std::from_chars(digits.data(), digits.data() + digits.size(), f->u);
      }
      const auto [ptr, ec] = r;
      if (ec == std::errc::result_out_of_range) {
        return bad(std::string(what) + " " + Shown(v) + " is out of range");
      }
      if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size()) {
        return bad("bad " + std::string(what) + " " + Shown(v));
      }
      return Status::Ok();
    }
    // A float: digits with an optional sign, fraction and exponent; no NaN or infinities.
    std::string_view num = v;
    if (num.front() == '+') {
      num.remove_prefix(1);
      if (!num.empty() && num.front() == '-') num = v;  // "+-1": refused below
    }
    const bool plain = !num.empty() && num.front() != '+' &&
                       num.find_first_not_of("0123456789.eE+-") == std::string_view::npos;
    double d = 0;
    const auto [ptr, ec] = std::from_chars(num.data(), num.data() + num.size(), d);
    if (!plain || ec == std::errc::invalid_argument || ptr != num.data() + num.size()) {
      return bad("bad value " + Shown(v) +
                 " (expected a number, 12i, 12u, a boolean or a double-quoted string)");
    }
    if (ec == std::errc::result_out_of_range || !std::isfinite(d)) {
      return bad("number " + Shown(v) + " is out of range");
    }
    f->type = FieldType::kFloat;
    f->f = d;
    return Status::Ok();
  }

  // A tag given twice is an error; a field given twice keeps its last value, in the place of
  // its first.
  static Status Dedupe(Line* line) {
    auto sorted_dupe = [](std::vector<std::string_view> keys) -> std::optional<std::string_view> {
      std::sort(keys.begin(), keys.end());
      auto it = std::adjacent_find(keys.begin(), keys.end());
      if (it == keys.end()) return std::nullopt;
      return *it;
    };
    if (line->tags.size() > 1) {
      std::vector<std::string_view> keys;
      keys.reserve(line->tags.size());
      for (const auto& [k, v] : line->tags) keys.push_back(k);
      if (auto d = sorted_dupe(std::move(keys))) {
        return InvalidArgument("tag " + Shown(*d) + " given twice");
      }
    }
    if (line->fields.size() > 1) {
      std::vector<std::string_view> keys;
      keys.reserve(line->fields.size());
      for (const auto& f : line->fields) keys.push_back(f.key);
      if (sorted_dupe(std::move(keys))) {
        std::vector<Field> kept;
        for (auto& f : line->fields) {
          auto it = std::find_if(kept.begin(), kept.end(),
                                 [&](const Field& k) { return k.key == f.key; });
          if (it == kept.end()) {
            kept.push_back(std::move(f));
          } else {
            *it = std::move(f);
          }
        }
        line->fields = std::move(kept);
      }
    }
    return Status::Ok();
  }

  std::string_view t_;
  LineCaps caps_;
  size_t p_ = 0;
  size_t line_no_ = 1;
};

}  // namespace

Status ParseLineProtocol(std::string_view text, const LineCaps& caps, std::vector<Line>* lines) {
  return Parser(text, caps).Run(lines);
}

}  // namespace reflex::connectors::influx
