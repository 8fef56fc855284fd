// escalate (built-in): hands the run to a person through hooks.escalate; always succeeds.
#include <utility>

#include "reflex/actions/driver.h"

namespace reflex::actions {
namespace {

constexpr const char* kReason = "the decision table says escalate";

class EscalateDriver final : public ActionDriver {
 public:
  explicit EscalateDriver(decltype(ActionHooks::escalate) escalate)
      : escalate_(std::move(escalate)) {}

  ActionKind kind() const override { return ActionKind::kEscalate; }

  nlohmann::json Render(const ActionSpec& /*spec*/, const ActionContext& /*ctx*/) const override {
    nlohmann::json r = nlohmann::json::object();
    r["reason"] = kReason;
    return r;
  }

  std::string Target(const nlohmann::json& /*request*/) const override { return ""; }

  ActionOutcome Perform(const ActionSpec& /*spec*/, const ActionRun& run,
                        const nlohmann::json& /*request*/) const override {
    if (escalate_) escalate_(NoticeFor(run, ActionEventKind::kEscalate, kReason));
    ActionOutcome o;
    o.ok = true;
    return o;
  }

 private:
  decltype(ActionHooks::escalate) escalate_;
};

}  // namespace

std::unique_ptr<ActionDriver> NewEscalateDriver(decltype(ActionHooks::escalate) escalate) {
  return std::make_unique<EscalateDriver>(std::move(escalate));
}

}  // namespace reflex::actions
