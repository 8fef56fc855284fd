#include "reflex/engine/pattern_stage.h"

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

std::unique_ptr<PatternStage> PatternStage::Create(std::shared_ptr<const CompiledRuleSet> rules) {
  if (!rules || !rules->patterns() || rules->patterns()->specs.empty()) return nullptr;
  auto made = Correlator::Create(rules->patterns()->specs);
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
  if (next && !next->specs.empty() && next->version == rules_->patterns()->version) {
    rules_ = std::move(rules);
    return true;
  }
  Drain(now_ms, out);
  if (!next || next->specs.empty()) return false;
  auto made = Correlator::Create(next->specs);
  if (!made.ok()) return false;
  rules_ = std::move(rules);
  correlator_ = std::move(*made);
  return true;
}

void PatternStage::Decide(std::vector<PatternOutput>& outputs, int64_t now_ms,
                          std::vector<PatternDecision>* out) {
  const std::vector<PatternSpec>& specs = correlator_->specs();
  for (PatternOutput& o : outputs) {
    const PatternSpec& spec = specs[o.pattern];
    std::vector<std::string> pending_ids;
    for (const std::string& id : o.member_ids) {
      if (pending_.erase(id) > 0) pending_ids.push_back(id);
    }
    PatternDecision& d = out->emplace_back();
    d.pattern = o.pattern;
    d.outcome = o.outcome;
    d.member_ids = o.member_ids;
    const bool fired =
        o.outcome == PatternOutcome::kMatched || o.outcome == PatternOutcome::kAbsent;
    if (!fired && pending_ids.empty()) continue;  // nothing left to decide
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
      const PatternMatchView view(o, correlator_->captures(o.pattern));
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

}  // namespace reflex::engine
