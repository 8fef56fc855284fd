// emit: a conclusion event fed back into the pipeline through hooks.emit.
#include <utility>

#include "../json_util.h"
#include "reflex/actions/driver.h"

namespace reflex::actions {
namespace {

class EmitDriver final : public ActionDriver {
 public:
  explicit EmitDriver(decltype(ActionHooks::emit) emit) : emit_(std::move(emit)) {}

  ActionKind kind() const override { return ActionKind::kEmit; }

  nlohmann::json Render(const ActionSpec& spec, const ActionContext& ctx) const override {
    nlohmann::json r = nlohmann::json::object();
    r["event"] = spec.emit.event.Render(ctx).dump();
    return r;
  }

  std::string Target(const nlohmann::json& /*request*/) const override { return ""; }

  ActionOutcome Perform(const ActionSpec& /*spec*/, const ActionRun& /*run*/,
                        const nlohmann::json& req) const override {
    ActionOutcome o;
    if (!emit_) {
      o.permanent = true;
      o.error = "no emit hook is configured for emit actions";
      return o;
    }
    engine::Status s = emit_(JsonString(req, "event"));
    o.ok = s.ok();
    if (!s.ok()) o.error = s.ToString();
    return o;
  }

 private:
  decltype(ActionHooks::emit) emit_;
};

}  // namespace

std::unique_ptr<ActionDriver> NewEmitDriver(decltype(ActionHooks::emit) emit) {
  return std::make_unique<EmitDriver>(std::move(emit));
}

}  // namespace reflex::actions
