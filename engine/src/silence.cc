#include "reflex/engine/silence.h"

#include <re2/re2.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "reflex/base/hash.h"
#include "reflex/base/strings.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::engine {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
// Ends a bare value.
bool IsBareStop(char c) { return IsSpace(c) || c == ',' || c == '{' || c == '}' || c == '"'; }

std::string Col(size_t pos) { return "column " + std::to_string(pos + 1) + ": "; }

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  out += '"';
  return out;
}

// What the character at `pos` is, for messages.
std::string Found(std::string_view text, size_t pos) {
  if (pos >= text.size()) return "the end of the text";
  return "'" + std::string(1, text[pos]) + "'";
}

class MatcherParser {
 public:
  explicit MatcherParser(std::string_view text) : t_(text) {}

  Result<std::vector<LabelMatcher>> Parse() {
    std::vector<LabelMatcher> out;
    SkipSpace();
    bool braces = false;
    size_t open_at = 0;
    if (Peek() == '{') {
      braces = true;
      open_at = pos_;
      ++pos_;
    }
    for (;;) {
      SkipSpace();
      if (pos_ >= t_.size()) {
        if (braces) {
          return InvalidArgument(Col(pos_) + "missing '}' to close the '{' at column " +
                                 std::to_string(open_at + 1));
        }
        break;
      }
      if (braces && Peek() == '}') {
        ++pos_;
        SkipSpace();
        if (pos_ < t_.size()) {
          return InvalidArgument(Col(pos_) + "unexpected " + Found(t_, pos_) + " after '}'");
        }
        break;
      }
      LabelMatcher m;
      if (Status s = ParseOne(&m); !s.ok()) return s;
      out.push_back(std::move(m));
      // A separator: blanks and/or one comma.
      const size_t before = pos_;
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
      } else if (pos_ == before && pos_ < t_.size() && !(braces && Peek() == '}')) {
        return InvalidArgument(Col(pos_) + "expected ',' or a blank between matchers, found " +
                               Found(t_, pos_));
      }
    }
    return out;
  }

 private:
  char Peek() const { return pos_ < t_.size() ? t_[pos_] : '\0'; }
  void SkipSpace() {
    while (pos_ < t_.size() && IsSpace(t_[pos_])) ++pos_;
  }

  Status ParseOne(LabelMatcher* m) {
    const size_t start = pos_;
    if (!IsNameStart(Peek())) {
      return InvalidArgument(Col(pos_) + "expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), found " +
                             Found(t_, pos_));
    }
    while (pos_ < t_.size() && IsNameChar(t_[pos_])) ++pos_;
    m->name.assign(t_.substr(start, pos_ - start));
    SkipSpace();
    const std::string_view rest = t_.substr(pos_);
    if (rest.substr(0, 2) == "=~") {
      m->is_regex = true, m->is_equal = true, pos_ += 2;
    } else if (rest.substr(0, 2) == "!~") {
      m->is_regex = true, m->is_equal = false, pos_ += 2;
    } else if (rest.substr(0, 2) == "!=") {
      m->is_regex = false, m->is_equal = false, pos_ += 2;
    } else if (rest.substr(0, 1) == "=") {
      m->is_regex = false, m->is_equal = true, pos_ += 1;
    } else {
      return InvalidArgument(Col(pos_) + "expected an operator (=, !=, =~, !~) after label name " +
                             Quote(m->name) + ", found " + Found(t_, pos_));
    }
    SkipSpace();
    if (Peek() == '"') return ParseQuoted(&m->value);
    const size_t vstart = pos_;
    while (pos_ < t_.size() && !IsBareStop(t_[pos_])) ++pos_;
    if (Peek() == '{') {
      return InvalidArgument(Col(pos_) + "unexpected '{' in the value of " + Quote(m->name) +
                             " (quote the value)");
    }
    if (Peek() == '"') {
      return InvalidArgument(Col(pos_) + "unexpected '\"' inside the bare value of " +
                             Quote(m->name) + " (quote the whole value)");
    }
    m->value.assign(t_.substr(vstart, pos_ - vstart));
    return Status::Ok();
  }

  Status ParseQuoted(std::string* out) {
    const size_t open = pos_++;
    out->clear();
    while (pos_ < t_.size()) {
      const char c = t_[pos_];
      if (c == '"') {
        ++pos_;
        return Status::Ok();
      }
      if (c == '\\') {
        if (pos_ + 1 >= t_.size()) break;
        const char e = t_[pos_ + 1];
        switch (e) {
          case '"':
          case '\\':
            out->push_back(e);
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'r':
            out->push_back('\r');
            break;
          default:
            return InvalidArgument(Col(pos_) + "invalid escape '\\" + std::string(1, e) +
                                   "' in a quoted value (allowed: \\\" \\\\ \\n \\t \\r; write "
                                   "\\\\ for a backslash)");
        }
        pos_ += 2;
        continue;
      }
      out->push_back(c);
      ++pos_;
    }
    return InvalidArgument(Col(open) + "unterminated quoted value (no closing '\"')");
  }

  std::string_view t_;
  size_t pos_ = 0;
};

}  // namespace

std::string LabelMatcher::ToString() const {
  const char* op = is_regex ? (is_equal ? "=~" : "!~") : (is_equal ? "=" : "!=");
  return name + op + Quote(value);
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

Result<std::vector<LabelMatcher>> ParseMatchers(std::string_view text) {
  return MatcherParser(text).Parse();
}

Result<CompiledMatcher> CompiledMatcher::Create(LabelMatcher spec) {
  if (!IsValidLabelName(spec.name)) {
    return InvalidArgument("invalid label name " + Quote(spec.name) +
                           " (expected [a-zA-Z_][a-zA-Z0-9_]*)");
  }
  if (!base::IsValidUtf8(spec.value)) {
    return InvalidArgument("the value of " + Quote(spec.name) + " is not valid UTF-8");
  }
  CompiledMatcher m;
  if (spec.is_regex) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<const RE2>("^(?:" + spec.value + ")$", opts);
    if (!re->ok()) {
      return InvalidArgument("invalid regular expression " + Quote(spec.value) + " for " +
                             Quote(spec.name) + ": " + re->error());
    }
    m.re_ = std::move(re);
  }
  m.spec_ = std::move(spec);
  return m;
}

bool CompiledMatcher::Matches(std::string_view value) const {
  const bool hit = spec_.is_regex ? RE2::FullMatch(value, *re_) : value == spec_.value;
  return hit == spec_.is_equal;
}

bool CompiledMatcher::Matches(const Event& ev) const {
  const std::string* v = ev.Label(spec_.name);
  return Matches(v != nullptr ? std::string_view(*v) : std::string_view());
}

bool SilenceMatchesFilter(const Silence& s, const std::vector<CompiledMatcher>& filter) {
  for (const CompiledMatcher& f : filter) {
    const LabelMatcher* own = nullptr;
    for (const LabelMatcher& m : s.matchers) {
      if (m.name == f.spec().name) own = &m;
    }
    if (own == nullptr || !f.Matches(own->value)) return false;
  }
  return true;
}

Result<std::vector<CompiledMatcher>> CompileMatchers(const std::vector<LabelMatcher>& specs) {
  std::vector<CompiledMatcher> out;
  out.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    auto m = CompiledMatcher::Create(specs[i]);
    if (!m.ok()) {
      return InvalidArgument("matcher " + std::to_string(i + 1) + " (" + specs[i].ToString() +
                             "): " + m.status().message());
    }
    out.push_back(std::move(*m));
  }
  return out;
}

bool MatchesAll(const std::vector<CompiledMatcher>& matchers, const Event& ev) {
  for (const auto& m : matchers) {
    if (!m.Matches(ev)) return false;
  }
  return true;
}

SilenceState StateAt(const Silence& s, int64_t now_ms) {
  if (now_ms < s.starts_at_ms) return SilenceState::kPending;
  if (now_ms >= s.ends_at_ms) return SilenceState::kExpired;
  return SilenceState::kActive;
}

Status ValidateSilence(const Silence& s) {
  if (s.matchers.empty()) return InvalidArgument("at least one matcher required");
  auto compiled = CompileMatchers(s.matchers);
  if (!compiled.ok()) return compiled.status();
  if (std::all_of(compiled->begin(), compiled->end(),
                  [](const CompiledMatcher& m) { return m.Matches(std::string_view()); })) {
    return InvalidArgument("at least one matcher must not match the empty string");
  }
  if (s.starts_at_ms == 0) return InvalidArgument("invalid zero start timestamp");
  if (s.ends_at_ms == 0) return InvalidArgument("invalid zero end timestamp");
  if (s.ends_at_ms < s.starts_at_ms) {
    return InvalidArgument("end time must not be before start time");
  }
  if (base::Trim(s.created_by).empty()) return InvalidArgument("createdBy is required");
  if (base::Trim(s.comment).empty()) return InvalidArgument("comment is required");
  return Status::Ok();
}

Status ValidateNewSilence(const Silence& s, int64_t now_ms) {
  if (Status st = ValidateSilence(s); !st.ok()) return st;
  if (s.starts_at_ms >= s.ends_at_ms) {
    return InvalidArgument("start time must be before end time");
  }
  if (s.ends_at_ms < now_ms) return InvalidArgument("end time can't be in the past");
  return Status::Ok();
}

Result<Silence> ParseSilenceJson(std::string_view body) {
  using json = nlohmann::json;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return InvalidArgument("body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("body must be a JSON object (a PostableSilence)");
  Silence s;
  auto str = [&j](const char* key, std::string* out, bool required) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) {
      return required ? InvalidArgument(std::string(key) + " is required") : Status::Ok();
    }
    if (!it->is_string()) return InvalidArgument(std::string(key) + " must be a string");
    *out = it->get<std::string>();
    return Status::Ok();
  };
  auto time = [&](const char* key, int64_t* out) -> Status {
    std::string text;
    if (Status st = str(key, &text, true); !st.ok()) return st;
    auto ms = base::ParseRfc3339Millis(text);
    if (!ms.ok()) return InvalidArgument(std::string(key) + ": " + ms.status().message());
    *out = *ms;
    return Status::Ok();
  };
  if (Status st = str("id", &s.id, false); !st.ok()) return st;
  if (Status st = str("createdBy", &s.created_by, true); !st.ok()) return st;
  if (Status st = str("comment", &s.comment, true); !st.ok()) return st;
  if (Status st = time("startsAt", &s.starts_at_ms); !st.ok()) return st;
  if (Status st = time("endsAt", &s.ends_at_ms); !st.ok()) return st;
  auto ms = j.find("matchers");
  if (ms == j.end()) return InvalidArgument("matchers is required");
  if (!ms->is_array()) return InvalidArgument("matchers must be an array");
  for (size_t i = 0; i < ms->size(); ++i) {
    const json& m = (*ms)[i];
    const std::string at = "matchers[" + std::to_string(i) + "]";
    if (!m.is_object()) return InvalidArgument(at + " must be an object");
    LabelMatcher lm;
    for (const char* key : {"name", "value"}) {
      auto it = m.find(key);
      if (it == m.end() || it->is_null()) return InvalidArgument(at + "." + key + " is required");
      if (!it->is_string()) return InvalidArgument(at + "." + key + " must be a string");
      (std::string_view(key) == "name" ? lm.name : lm.value) = it->get<std::string>();
    }
    auto re = m.find("isRegex");
    if (re == m.end() || re->is_null()) return InvalidArgument(at + ".isRegex is required");
    if (!re->is_boolean()) return InvalidArgument(at + ".isRegex must be true or false");
    lm.is_regex = re->get<bool>();
    if (auto eq = m.find("isEqual"); eq != m.end() && !eq->is_null()) {
      if (!eq->is_boolean()) return InvalidArgument(at + ".isEqual must be true or false");
      lm.is_equal = eq->get<bool>();
    }
    s.matchers.push_back(std::move(lm));
  }
  return s;
}

std::string SilenceJson(const Silence& s, int64_t now_ms) {
  nlohmann::ordered_json j;
  j["id"] = s.id;
  j["status"] = {{"state", std::string(kSilenceStateNames.Name(StateAt(s, now_ms)))}};
  j["updatedAt"] = base::FormatRfc3339Millis(s.updated_at_ms);
  nlohmann::ordered_json ms = nlohmann::ordered_json::array();
  for (const auto& m : s.matchers) {
    ms.push_back(
        {{"name", m.name}, {"value", m.value}, {"isRegex", m.is_regex}, {"isEqual", m.is_equal}});
  }
  j["matchers"] = std::move(ms);
  j["startsAt"] = base::FormatRfc3339Millis(s.starts_at_ms);
  j["endsAt"] = base::FormatRfc3339Millis(s.ends_at_ms);
  j["createdBy"] = s.created_by;
  j["comment"] = s.comment;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// ---- SilenceSet -------------------------------------------------------------------------

Result<std::shared_ptr<const SilenceSet>> SilenceSet::Create(std::vector<Silence> silences) {
  std::shared_ptr<SilenceSet> set(new SilenceSet());
  std::sort(silences.begin(), silences.end(),
            [](const Silence& a, const Silence& b) { return a.id < b.id; });
  set->entries_.reserve(silences.size());
  for (auto& s : silences) {
    auto m = CompileMatchers(s.matchers);
    if (!m.ok()) return InvalidArgument("silence " + s.id + ": " + m.status().message());
    set->entries_.push_back(Entry{std::move(s), std::move(*m)});
  }
  for (uint32_t i = 0; i < set->entries_.size(); ++i) {
    const Entry& e = set->entries_[i];
    // File it under one `name="value"` matcher with a value (alertname first): an event
    // without that label value cannot match it.
    const LabelMatcher* key = nullptr;
    for (const auto& m : e.silence.matchers) {
      if (m.is_regex || !m.is_equal || m.value.empty()) continue;
      if (key == nullptr || (m.name == "alertname" && key->name != "alertname")) key = &m;
    }
    if (key == nullptr) {
      set->unindexed_.push_back(i);
      continue;
    }
    auto it = std::find_if(set->by_label_.begin(), set->by_label_.end(),
                           [&](const auto& p) { return p.first == key->name; });
    if (it == set->by_label_.end()) {
      set->by_label_.emplace_back(key->name,
                                  std::unordered_map<std::string, std::vector<uint32_t>>{});
      it = std::prev(set->by_label_.end());
    }
    it->second[key->value].push_back(i);
  }
  return std::shared_ptr<const SilenceSet>(std::move(set));
}

bool SilenceSet::Mutes(const Entry& e, const Event& ev, int64_t now_ms) const {
  return StateAt(e.silence, now_ms) == SilenceState::kActive && MatchesAll(e.matchers, ev);
}

const Silence* SilenceSet::Silencing(const Event& ev, int64_t now_ms) const {
  constexpr uint32_t kNone = UINT32_MAX;
  uint32_t best = kNone;
  // Lists are ascending: the first that mutes is that list's best.
  auto scan = [&](const std::vector<uint32_t>& list) {
    for (uint32_t i : list) {
      if (i >= best) return;
      if (Mutes(entries_[i], ev, now_ms)) {
        best = i;
        return;
      }
    }
  };
  for (const auto& [name, values] : by_label_) {
    const std::string* v = ev.Label(name);
    if (v == nullptr) continue;  // "" is never a key
    auto it = values.find(*v);
    if (it != values.end()) scan(it->second);
  }
  scan(unindexed_);
  return best == kNone ? nullptr : &entries_[best].silence;
}

// ---- inhibition rules -------------------------------------------------------------------

Result<CompiledInhibitRule> CompileInhibitRule(InhibitRule rule) {
  const std::string name = rule.name;
  if (rule.source_matchers.empty()) {
    return InvalidArgument("inhibit rule '" + name +
                           "': source_matchers is empty (it would make every event a source)");
  }
  if (rule.target_matchers.empty()) {
    return InvalidArgument("inhibit rule '" + name +
                           "': target_matchers is empty (it would mute every event)");
  }
  CompiledInhibitRule out;
  auto src = CompileMatchers(rule.source_matchers);
  if (!src.ok()) {
    return InvalidArgument("inhibit rule '" + name +
                           "': source_matchers: " + src.status().message());
  }
  auto tgt = CompileMatchers(rule.target_matchers);
  if (!tgt.ok()) {
    return InvalidArgument("inhibit rule '" + name +
                           "': target_matchers: " + tgt.status().message());
  }
  uint64_t key = base::Fnv1a64("inhibit-source");
  for (const auto& m : rule.source_matchers) key = base::Fnv1a64(m.ToString() + "\n", key);
  key = base::Fnv1a64("equal", key);
  for (const auto& l : rule.equal) {
    if (!IsValidLabelName(l)) {
      return InvalidArgument("inhibit rule '" + name + "': equal: invalid label name " + Quote(l));
    }
    key = base::Fnv1a64(l + "\n", key);
  }
  out.source = std::move(*src);
  out.target = std::move(*tgt);
  out.key = key;
  out.spec = std::move(rule);
  return out;
}

}  // namespace reflex::engine
