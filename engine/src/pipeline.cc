#include "reflex/engine/pipeline.h"

#include <utility>

namespace reflex::engine {

Pipeline::Pipeline(std::shared_ptr<const CompiledRuleSet> rules, EventLimits limits)
    : rules_(std::move(rules)), parser_(limits) {}

Status Pipeline::Process(std::string_view json, int64_t now_ms, std::string* decision_json) {
  if (Status s = parser_.Parse(json, now_ms, &parsing_); !s.ok()) return s;
  event_.Swap(parsing_);  // both keep their buffers for reuse
  rules_->Label(&event_);
  rules_->Match(event_, &scratch_, &result_);
  if (muter_ != nullptr) muter_->Apply(*rules_, event_, now_ms, &result_);
  if (decision_json != nullptr) AppendDecisionJson(*rules_, event_, result_, now_ms, decision_json);
  return Status::Ok();
}

Status Pipeline::Process(std::string_view json, int64_t now_ms, std::string* decision_json,
                         const Meta& meta) {
  if (Status s = parser_.Parse(json, now_ms, &parsing_); !s.ok()) return s;
  event_.Swap(parsing_);
  event_.meta.resize(meta.size());  // assign element-wise: strings keep their buffers
  for (size_t i = 0; i < meta.size(); ++i) {
    event_.meta[i].first.assign(meta[i].first);
    event_.meta[i].second.assign(meta[i].second);
  }
  rules_->Label(&event_);
  rules_->Match(event_, &scratch_, &result_);
  if (muter_ != nullptr) muter_->Apply(*rules_, event_, now_ms, &result_);
  if (decision_json != nullptr) AppendDecisionJson(*rules_, event_, result_, now_ms, decision_json);
  return Status::Ok();
}

}  // namespace reflex::engine
