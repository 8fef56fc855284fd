#include "correlation_common.h"

#include <algorithm>
#include <cmath>

namespace reflex::engine {

bool PatternMember::Matches(const Event& ev) const {
  for (const auto& [path, cond] : when) {
    if (!cond.Evaluate(ev.Get(path))) return false;
  }
  return true;
}

bool BuildGroupKey(const PatternSpec& spec, const Event& ev, std::string* key) {
  key->clear();
  for (size_t i = 0; i < spec.group_by.size(); ++i) {
    FieldValue v = ev.Get(spec.group_by[i]);
    if (v.missing()) return false;
    if (i > 0) key->push_back('\x1f');
    key->append(v.text());
  }
  return true;
}

std::vector<std::string> GroupKeyValues(std::string_view key) {
  std::vector<std::string> r;
  size_t start = 0;
  for (;;) {
    const size_t sep = key.find('\x1f', start);
    r.emplace_back(key.substr(start, sep == std::string_view::npos ? sep : sep - start));
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  return r;
}

uint64_t PatternThreshold(const PatternSpec& spec) {
  if (spec.kind == PatternKind::kRate) {
    return static_cast<uint64_t>(
               std::floor(spec.rate * static_cast<double>(spec.within_ms) / 1000.0)) +
           1;
  }
  return spec.count;
}

// The most events a count or rate window may have to hold (each is kept until the window
// matches or slides past it).
static constexpr uint64_t kMaxThreshold = 100000;

Status ValidatePattern(const PatternSpec& spec) {
  const size_t n = spec.members.size();
  if (spec.within_ms < 0) return InvalidArgument("the window must not be negative");
  if (spec.max_keys < 1) return InvalidArgument("max_keys must be at least 1");
  if (spec.lateness_ms < 0) return InvalidArgument("lateness must not be negative");
  switch (spec.kind) {
    case PatternKind::kAllOf:
    case PatternKind::kSequence:
      if (n < 2 || n > 16) {
        return InvalidArgument(std::string(kPatternKindNames.Name(spec.kind)) +
                               " needs 2 to 16 members, has " + std::to_string(n));
      }
      break;
    case PatternKind::kAbsence:
      if (n != 2) {
        return InvalidArgument(
            "absence needs exactly 2 members (A, then the B that must follow)"
            ", has " +
            std::to_string(n));
      }
      break;
    case PatternKind::kCount:
    case PatternKind::kRate:
    case PatternKind::kHeartbeat:
    case PatternKind::kSustained:
      if (n < 1 || n > 16) {
        return InvalidArgument(std::string(kPatternKindNames.Name(spec.kind)) +
                               " needs 1 to 16 members, has " + std::to_string(n));
      }
      break;
  }
  if (spec.kind == PatternKind::kCount && spec.count < 1) {
    return InvalidArgument("count needs a threshold of at least 1");
  }
  if (spec.kind == PatternKind::kRate && !(spec.rate >= 0 && std::isfinite(spec.rate))) {
    return InvalidArgument("rate needs a finite bound >= 0 (events per second)");
  }
  if ((spec.kind == PatternKind::kCount || spec.kind == PatternKind::kRate) &&
      PatternThreshold(spec) > kMaxThreshold) {
    return InvalidArgument("the window would hold up to " + std::to_string(PatternThreshold(spec)) +
                           " events (at most " + std::to_string(kMaxThreshold) +
                           "): shorten the window or lower the bound");
  }
  if (spec.kind == PatternKind::kSustained && spec.value.text().empty()) {
    return InvalidArgument("sustained needs the value field it samples");
  }
  if (spec.kind == PatternKind::kSustained && !std::isfinite(spec.bound)) {
    return InvalidArgument("sustained needs a finite bound");
  }
  return Status::Ok();
}

std::vector<FieldPath> PatternCaptures(const PatternSpec& spec) {
  std::vector<FieldPath> r;
  for (const ActionSpec& a : spec.actions) {
    for (const auto& [name, tmpl] : a.params) {
      for (FieldPath& p : tmpl.member_variables()) {
        // The id and the time are always at hand (MemberEvent::id, time_ms).
        if (p.root() == FieldPath::Root::kId || p.root() == FieldPath::Root::kTimestamp) continue;
        if (std::find(r.begin(), r.end(), p) == r.end()) r.push_back(std::move(p));
      }
    }
  }
  return r;
}

FieldValue PatternMatchView::Count() const {
  return FieldValue::Number(static_cast<double>(output_.count));
}

FieldValue PatternMatchView::Member(bool first, const FieldPath& inner) const {
  const MemberEvent& m = first ? output_.first : output_.last;
  switch (inner.root()) {
    case FieldPath::Root::kId:
      return FieldValue::Text(m.id);
    case FieldPath::Root::kTimestamp:
      return FieldValue::Number(static_cast<double>(m.time_ms));
    default:
      break;
  }
  for (size_t i = 0; i < captures_.size() && i < m.captured.size(); ++i) {
    if (captures_[i] == inner) {
      return m.captured[i] ? FieldValue::Text(*m.captured[i]) : FieldValue();
    }
  }
  return FieldValue();
}

}  // namespace reflex::engine
