#include "reflex/engine/pipeline.h"

#include <utility>

namespace reflex::engine {

Pipeline::Pipeline(std::shared_ptr<const CompiledRuleSet> rules) : rules_(std::move(rules)) {}

Status Pipeline::Process(std::string_view json, int64_t now_ms, std::string* decision_json) {
  if (Status s = parser_.Parse(json, now_ms, &parsing_); !s.ok()) return s;
  event_.Swap(parsing_);  // both keep their buffers for reuse
  rules_->Label(&event_);
  rules_->Match(event_, &scratch_, &result_);
  if (decision_json != nullptr) AppendDecisionJson(*rules_, event_, result_, now_ms, decision_json);
  return Status::Ok();
}

}  // namespace reflex::engine
