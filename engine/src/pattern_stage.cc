#include "reflex/engine/pattern_stage.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace reflex::engine {

namespace {

// A group field's key in the synthetic event's labels and in "group".
const std::string& GroupFieldName(const FieldPath& f) {
  return f.root() == FieldPath::Root::kLabel || f.root() == FieldPath::Root::kBare ? f.name()
                                                                                   : f.text();
}

void AppendIds(const std::vector<std::string>& ids, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out->push_back(',');
    base::AppendJsonString(ids[i], out);
  }
  out->push_back(']');
}

}  // namespace

PatternStage::~PatternStage() = default;

std::unique_ptr<PatternStage> PatternStage::Create(std::shared_ptr<const CompiledRuleSet> rules,
                                                   bool even_without_patterns) {
  if (!rules) return nullptr;
  const bool has = rules->patterns() && !rules->patterns()->specs.empty();
  if (!has && !even_without_patterns) return nullptr;
  auto made = Correlator::Create(has ? rules->patterns()->specs : std::vector<PatternSpec>{});
  if (!made.ok()) return nullptr;  // the loader validated every pattern
  std::unique_ptr<PatternStage> s(new PatternStage());
  s->rules_ = std::move(rules);
  s->correlator_ = std::move(*made);
  s->parser_ = std::make_unique<EventParser>(EventLimits::Unbounded());
  return s;
}

bool PatternStage::Observe(const Event& ev, Verdict verdict, int64_t t_ms, int64_t now_ms,
                           std::vector<PatternDecision>* out, Observation* obs) {
  scratch_.clear();
  const Observation o = correlator_->Observe(ev, t_ms, &scratch_);
  if (obs != nullptr) *obs = o;
  // An unknown member is the patterns' to decide: held now, or part of an outcome this very
  // event completed (then it is decided by that outcome, which follows it).
  const bool candidate = verdict == Verdict::kUnknown && o.member_of > 0;
  if (candidate) pending_.insert(ev.id);
  Decide(scratch_, now_ms, out);
  if (!candidate) return false;
  if (pending_.count(ev.id) == 0) return true;  // an outcome took it
  if (o.pending > 0) return true;               // held in an open window
  pending_.erase(ev.id);                        // a member, but not held: decided alone
  return false;
}

void PatternStage::Advance(int64_t now_ms, std::vector<PatternDecision>* out) {
  scratch_.clear();
  correlator_->Advance(now_ms, &scratch_);
  Decide(scratch_, now_ms, out);
}

void PatternStage::Drain(int64_t now_ms, std::vector<PatternDecision>* out) {
  scratch_.clear();
  correlator_->Drain(now_ms, &scratch_);
  Decide(scratch_, now_ms, out);
  pending_.clear();
}

bool PatternStage::SetRules(std::shared_ptr<const CompiledRuleSet> rules, int64_t now_ms,
                            std::vector<PatternDecision>* out) {
  const auto& next = rules ? rules->patterns() : nullptr;
  if (next && !next->specs.empty() && rules_->patterns() &&
      next->version == rules_->patterns()->version) {
    rules_ = std::move(rules);
    return true;
  }
  Drain(now_ms, out);
  if (track_) {  // the drained groups' tombstones, under the old names
    std::vector<StateRecord> gone;
    TakeChanges(&gone);
    carry_ = std::move(gone);
  }
  if (!next || next->specs.empty()) return false;
  auto made = Correlator::Create(next->specs);
  if (!made.ok()) return false;
  rules_ = std::move(rules);
  correlator_ = std::move(*made);
  correlator_->TrackChanges(track_);
  return true;
}

void PatternStage::Decide(std::vector<PatternOutput>& outputs, int64_t now_ms,
                          std::vector<PatternDecision>* out) {
  const std::vector<PatternSpec>& specs = correlator_->specs();
  for (const PatternOutput& o : outputs) {
    DecideOne(specs[o.pattern], correlator_->captures(o.pattern), o, now_ms, out);
  }
}

void PatternStage::DecideOne(const PatternSpec& spec, const std::vector<FieldPath>& captures,
                             const PatternOutput& o, int64_t now_ms,
                             std::vector<PatternDecision>* out) {
  {
    std::vector<std::string> pending_ids;
    for (const std::string& id : o.member_ids) {
      if (pending_.erase(id) > 0) pending_ids.push_back(id);
    }
    PatternDecision& d = out->emplace_back();
    d.pattern = o.pattern;
    d.name = spec.name;
    d.outcome = o.outcome;
    d.member_ids = o.member_ids;
    const bool fired =
        o.outcome == PatternOutcome::kMatched || o.outcome == PatternOutcome::kAbsent;
    if (!fired && pending_ids.empty()) return;  // nothing left to decide
    d.verdict = fired ? Verdict::kKnown : Verdict::kUnknown;

    // The synthetic event.
    const std::vector<std::string> values = GroupKeyValues(o.group_key);
    std::string group_values;
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) group_values.push_back(',');
      group_values += values[i];
    }
    const std::string& first_id = o.member_ids.empty() ? o.first.id : o.member_ids.front();
    d.event_id = "pattern:" + spec.name + ":" + group_values + ":" + first_id;
    const std::string_view outcome = kPatternOutcomeNames.Name(o.outcome);
    const std::string_view kind = kPatternKindNames.Name(spec.kind);
    std::string group_json = "{";
    for (size_t i = 0; i < spec.group_by.size() && i < values.size(); ++i) {
      if (i) group_json.push_back(',');
      base::AppendJsonString(GroupFieldName(spec.group_by[i]), &group_json);
      group_json.push_back(':');
      base::AppendJsonString(values[i], &group_json);
    }
    group_json.push_back('}');
    std::string& e = d.event_json;
    e = "{\"id\":";
    base::AppendJsonString(d.event_id, &e);
    e += ",\"source\":\"reflex.pattern\",\"timestamp\":";
    e += std::to_string(o.at_ms);
    e += ",\"labels\":{\"alertname\":";  // how on-call staff see the escalation named
    base::AppendJsonString(spec.name, &e);
    e += ",\"pattern\":";
    base::AppendJsonString(spec.name, &e);
    e += ",\"pattern_outcome\":";
    base::AppendJsonString(outcome, &e);
    for (size_t i = 0; i < spec.group_by.size() && i < values.size(); ++i) {
      const std::string& name = GroupFieldName(spec.group_by[i]);
      if (name == "alertname" || name == "pattern" || name == "pattern_outcome") continue;
      e.push_back(',');
      base::AppendJsonString(name, &e);
      e.push_back(':');
      base::AppendJsonString(values[i], &e);
    }
    e += "},\"message\":";
    base::AppendJsonString("pattern " + spec.name + " " + std::string(outcome) + " (" +
                               std::to_string(o.count) + " event(s))",
                           &e);
    e.push_back('}');

    // The decision.
    std::string& j = d.decision_json;
    j = "{\"event_id\":";
    base::AppendJsonString(d.event_id, &j);
    j += ",\"event_time\":\"";
    base::AppendRfc3339Millis(o.at_ms, &j);
    j += "\",\"decided_at\":\"";
    base::AppendRfc3339Millis(now_ms, &j);
    j += "\",\"verdict\":\"";
    j += VerdictName(d.verdict);
    j += "\",\"pattern\":{\"name\":";
    base::AppendJsonString(spec.name, &j);
    j += ",\"kind\":\"";
    j += kind;
    j += "\",\"outcome\":\"";
    j += outcome;
    j += "\",\"group\":";
    j += group_json;
    j += ",\"count\":" + std::to_string(o.count) + ",\"member_ids\":";
    AppendIds(o.member_ids, &j);
    j += ",\"pending_ids\":";
    AppendIds(pending_ids, &j);
    j += "},\"ruleset\":";
    base::AppendJsonString(rules_->version(), &j);
    j += ",\"source\":\"reflex.pattern\",\"matches\":[";
    if (fired) {
      Event ev;
      (void)parser_->Parse(e, o.at_ms, &ev);  // built above: always an event
      const PatternMatchView view(o, captures);
      j += "{\"table\":";
      base::AppendJsonString("pattern:" + spec.name, &j);
      j += ",\"row\":";
      base::AppendJsonString(spec.name, &j);
      j += ",\"file\":";
      base::AppendJsonString(spec.file, &j);
      j += ",\"line\":" + std::to_string(spec.where.line) + ",\"actions\":[";
      std::string rendered;
      for (size_t a = 0; a < spec.actions.size(); ++a) {
        const ActionSpec& act = spec.actions[a];
        if (a) j.push_back(',');
        j += "{\"name\":";
        base::AppendJsonString(act.name, &j);
        j += ",\"params\":{";
        for (size_t p = 0; p < act.params.size(); ++p) {
          if (p) j.push_back(',');
          base::AppendJsonString(act.params[p].first, &j);
          j.push_back(':');
          rendered.clear();
          act.params[p].second.RenderTo(ev, &rendered, &view);
          base::AppendJsonString(rendered, &j);
        }
        j += "}}";
      }
      j += "]";
      if (!spec.runbook.empty()) {
        j += ",\"runbook\":";
        base::AppendJsonString(spec.runbook, &j);
      }
      j += "}";
    }
    j += "]}";
  }
}

// ---- changelog ----------------------------------------------------------------------------

namespace {

constexpr char kKeySep = '/';  // between the pattern's name (no '/' in it) and the group key

void AppendInt(int64_t v, std::string* out) { *out += std::to_string(v); }

}  // namespace

std::string PatternStage::EncodeGroup(const GroupChange& change) const {
  const PatternSpec& spec = correlator_->specs()[change.pattern];
  const std::vector<FieldPath>& captures = correlator_->captures(change.pattern);
  const GroupState& st = *change.state;
  std::string v = "{\"pattern\":";
  base::AppendJsonString(spec.name, &v);
  v += ",\"kind\":\"";
  v += kPatternKindNames.Name(spec.kind);
  v += "\",\"version\":";
  base::AppendJsonString(rules_->patterns() ? rules_->patterns()->version : "", &v);
  v += ",\"group\":";
  base::AppendJsonString(change.group_key, &v);
  v += ",\"group_by\":[";
  for (size_t i = 0; i < spec.group_by.size(); ++i) {
    if (i) v.push_back(',');
    base::AppendJsonString(spec.group_by[i].text(), &v);
  }
  v += "],\"captures\":[";
  for (size_t i = 0; i < captures.size(); ++i) {
    if (i) v.push_back(',');
    base::AppendJsonString(captures[i].text(), &v);
  }
  v += "],\"watermark\":";
  AppendInt(st.watermark, &v);
  v += ",\"deadline\":";
  if (st.deadline == std::numeric_limits<int64_t>::max()) {
    v += "null";
  } else {
    AppendInt(st.deadline, &v);
  }
  v += ",\"n\":";
  AppendInt(st.n, &v);
  v += ",\"bits\":";
  AppendInt(st.bits, &v);
  v += ",\"held\":[";
  for (size_t i = 0; i < st.held.size(); ++i) {
    const GroupState::HeldEvent& h = st.held[i];
    if (i) v.push_back(',');
    v += "{\"id\":";
    base::AppendJsonString(h.event.id, &v);
    v += ",\"t\":";
    AppendInt(h.event.time_ms, &v);
    v += ",\"member\":";
    AppendInt(h.member, &v);
    v += pending_.count(h.event.id) != 0 ? ",\"pending\":true" : ",\"pending\":false";
    v += ",\"captured\":[";
    for (size_t c = 0; c < h.event.captured.size(); ++c) {
      if (c) v.push_back(',');
      if (h.event.captured[c]) {
        base::AppendJsonString(*h.event.captured[c], &v);
      } else {
        v += "null";
      }
    }
    v += "]}";
  }
  v += "]}";
  return v;
}

void PatternStage::TakeChanges(std::vector<StateRecord>* out) {
  for (StateRecord& r : carry_) out->push_back(std::move(r));
  carry_.clear();
  changes_.clear();
  correlator_->TakeChanges(&changes_);
  const std::vector<PatternSpec>& specs = correlator_->specs();
  for (const GroupChange& c : changes_) {
    StateRecord& r = out->emplace_back();
    r.key = specs[c.pattern].name;
    r.key.push_back(kKeySep);
    r.key += c.group_key;
    if (c.state) r.value = EncodeGroup(c);
  }
}

Result<size_t> PatternStage::Restore(const std::vector<StateRecord>& records, int64_t now_ms,
                                     std::vector<PatternDecision>* out) {
  const std::vector<PatternSpec>& specs = correlator_->specs();
  size_t restored = 0;
  scratch_.clear();
  for (const StateRecord& rec : records) {
    if (rec.value.empty()) continue;
    const auto bad = [&](const std::string& why) {
      std::string key = rec.key;
      for (char& c : key) {
        if (c == kKeySep || c == '\x1f') c = '/';
      }
      return InvalidArgument("pattern state '" + key + "': " + why);
    };
    nlohmann::json j = nlohmann::json::parse(rec.value, nullptr, false);
    if (!j.is_object()) return bad("not a JSON object");
    GroupState st;
    std::string name, kind, group;
    std::vector<std::string> group_by, capture_paths;
    std::vector<std::string> pending_ids;
    try {
      name = j.at("pattern").get<std::string>();
      kind = j.at("kind").get<std::string>();
      group = j.at("group").get<std::string>();
      group_by = j.at("group_by").get<std::vector<std::string>>();
      capture_paths = j.at("captures").get<std::vector<std::string>>();
      st.watermark = j.at("watermark").get<int64_t>();
      st.deadline = j.at("deadline").is_null() ? std::numeric_limits<int64_t>::max()
                                               : j.at("deadline").get<int64_t>();
      st.n = j.at("n").get<uint32_t>();
      st.bits = j.at("bits").get<uint32_t>();
      for (const auto& h : j.at("held")) {
        GroupState::HeldEvent& e = st.held.emplace_back();
        e.event.id = h.at("id").get<std::string>();
        e.event.time_ms = h.at("t").get<int64_t>();
        e.member = h.at("member").get<uint32_t>();
        for (const auto& c : h.at("captured")) {
          e.event.captured.push_back(c.is_null() ? std::nullopt
                                                 : std::optional(c.get<std::string>()));
        }
        if (h.at("pending").get<bool>()) pending_ids.push_back(e.event.id);
      }
    } catch (const nlohmann::json::exception& e) {
      return bad(e.what());
    }
    // The pattern by name; it must be of the same kind for the state to mean the same.
    uint32_t p = 0;
    while (p < specs.size() && specs[p].name != name) ++p;
    if (p < specs.size() && kPatternKindNames.Name(specs[p].kind) == kind) {
      // Captured fields by path: the action templates may have changed since.
      const std::vector<FieldPath>& now_caps = correlator_->captures(p);
      for (GroupState::HeldEvent& e : st.held) {
        std::vector<std::optional<std::string>> c(now_caps.size());
        for (size_t i = 0; i < now_caps.size(); ++i) {
          for (size_t k = 0; k < capture_paths.size() && k < e.event.captured.size(); ++k) {
            if (capture_paths[k] == now_caps[i].text()) c[i] = e.event.captured[k];
          }
        }
        e.event.captured = std::move(c);
      }
      if (Status s = correlator_->Restore(p, group, st, &scratch_); !s.ok()) {
        return bad(s.message());
      }
      for (std::string& id : pending_ids) pending_.insert(std::move(id));
      ++restored;
      continue;
    }
    // The pattern is gone (or means something else now): release what it held.
    PatternSpec gone;
    gone.name = name;
    if (auto k = kPatternKindNames.Parse(kind)) gone.kind = *k;
    for (const std::string& f : group_by) {
      if (auto path = FieldPath::Parse(f); path.ok()) gone.group_by.push_back(*path);
    }
    PatternOutput o;
    o.pattern = std::numeric_limits<uint32_t>::max();
    o.group_key = group;
    o.outcome = PatternOutcome::kEvicted;
    o.at_ms = now_ms;
    o.count = st.held.size();
    for (const GroupState::HeldEvent& e : st.held) o.member_ids.push_back(e.event.id);
    if (!st.held.empty()) {
      o.first = st.held.front().event;
      o.last = st.held.back().event;
    }
    for (std::string& id : pending_ids) pending_.insert(std::move(id));
    DecideOne(gone, {}, o, now_ms, out);
    if (track_) carry_.push_back(StateRecord{rec.key, {}});  // released: not restored again
  }
  Decide(scratch_, now_ms, out);  // groups evicted at max_keys while restoring
  return restored;
}

// ---- explain ------------------------------------------------------------------------------

namespace {

std::string MemberName(const PatternSpec& spec, uint32_t m) {
  if (m < spec.members.size() && !spec.members[m].name.empty()) return spec.members[m].name;
  return "#" + std::to_string(m + 1);
}

}  // namespace

std::vector<PatternStage::PatternView> PatternStage::Explain(const Event& ev) const {
  std::vector<PatternView> out;
  const std::vector<PatternSpec>& specs = correlator_->specs();
  std::string key;
  for (uint32_t p = 0; p < specs.size(); ++p) {
    const PatternSpec& spec = specs[p];
    std::vector<uint32_t> met;
    for (uint32_t m = 0; m < spec.members.size(); ++m) {
      if (spec.members[m].Matches(ev)) met.push_back(m);
    }
    if (met.empty()) continue;
    PatternView& v = out.emplace_back();
    v.pattern = spec.name;
    v.kind = spec.kind;
    for (uint32_t m : met) v.members.push_back(MemberName(spec, m));
    v.grouped = correlator_->GroupKey(p, ev, &key);
    if (v.grouped) {
      const std::vector<std::string> values = GroupKeyValues(key);
      for (size_t i = 0; i < spec.group_by.size() && i < values.size(); ++i) {
        v.group.emplace_back(spec.group_by[i].text(), values[i]);
      }
    }
    if (spec.kind == PatternKind::kCount || spec.kind == PatternKind::kRate) {
      v.threshold = PatternThreshold(spec);
    }
    std::optional<GroupState> st;
    if (v.grouped) st = correlator_->State(p, key);
    uint32_t have = 0;
    if (st) {
      for (const GroupState::HeldEvent& h : st->held) {
        v.held.emplace_back(h.event.id, h.event.time_ms);
        v.held_members.push_back(MemberName(spec, h.member));
        have |= 1u << h.member;
      }
      if (st->deadline != std::numeric_limits<int64_t>::max()) v.closes_at_ms = st->deadline;
    }
    if (spec.kind == PatternKind::kAllOf) {
      for (uint32_t m = 0; m < spec.members.size(); ++m) {
        if ((have & (1u << m)) == 0) v.missing.push_back(MemberName(spec, m));
      }
    } else if (spec.kind == PatternKind::kSequence) {
      for (uint32_t m = st ? st->bits : 0; m < spec.members.size(); ++m) {
        v.missing.push_back(MemberName(spec, m));
      }
    }
  }
  return out;
}

nlohmann::json PatternViewsToJson(const std::vector<PatternStage::PatternView>& views) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& v : views) {
    nlohmann::json j;
    j["pattern"] = v.pattern;
    j["kind"] = std::string(kPatternKindNames.Name(v.kind));
    j["members"] = v.members;
    if (!v.grouped) {
      j["group"] = nullptr;
    } else {
      nlohmann::json g = nlohmann::json::object();
      for (const auto& [f, val] : v.group) g[f] = val;
      j["group"] = std::move(g);
    }
    nlohmann::json held = nlohmann::json::array();
    for (size_t i = 0; i < v.held.size(); ++i) {
      held.push_back({{"id", v.held[i].first},
                      {"time", base::FormatRfc3339Millis(v.held[i].second)},
                      {"member", v.held_members[i]}});
    }
    j["held"] = std::move(held);
    if (v.kind == PatternKind::kAllOf || v.kind == PatternKind::kSequence) j["missing"] = v.missing;
    if (v.threshold > 0) j["threshold"] = v.threshold;
    j["closes_at"] = v.closes_at_ms ? nlohmann::json(base::FormatRfc3339Millis(*v.closes_at_ms))
                                    : nlohmann::json(nullptr);
    all.push_back(std::move(j));
  }
  return all;
}

std::string PatternViewsToText(const std::vector<PatternStage::PatternView>& views) {
  std::string out = "patterns:\n";
  if (views.empty()) return out + "  the event is a member of no pattern\n";
  for (const auto& v : views) {
    out += "  " + v.pattern + " (" + std::string(kPatternKindNames.Name(v.kind)) + "): member ";
    for (size_t i = 0; i < v.members.size(); ++i) out += (i ? ", " : "") + v.members[i];
    if (!v.grouped) {
      out += "; the event lacks a group_by field: not counted\n";
      continue;
    }
    out += "; group";
    for (const auto& [f, val] : v.group) out += " " + f + "=" + val;
    out += "\n";
    if (v.held.empty()) {
      out += "    nothing held for this group: the event opens it\n";
    } else {
      out += "    held (" + std::to_string(v.held.size()) + "):";
      for (size_t i = 0; i < v.held.size(); ++i) {
        out += " " + v.held[i].first + " [" + v.held_members[i] + ", " +
               base::FormatRfc3339Millis(v.held[i].second) + "]";
      }
      out += "\n";
    }
    if (!v.missing.empty()) {
      out += "    still missing:";
      for (const auto& m : v.missing) out += " " + m;
      out += "\n";
    }
    if (v.threshold > 0) {
      out += "    count " + std::to_string(v.held.size()) + " of " + std::to_string(v.threshold) +
             " needed\n";
    }
    if (v.closes_at_ms) {
      out += std::string(v.kind == PatternKind::kAbsence || v.kind == PatternKind::kHeartbeat
                             ? "    fires at "
                             : "    window closes at ") +
             base::FormatRfc3339Millis(*v.closes_at_ms) + "\n";
    }
  }
  return out;
}

}  // namespace reflex::engine
