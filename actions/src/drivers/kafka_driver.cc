// kafka: one record produced through hooks.produce.
#include <utility>

#include "../json_util.h"
#include "reflex/actions/driver.h"

namespace reflex::actions {
namespace {

class KafkaDriver final : public ActionDriver {
 public:
  explicit KafkaDriver(decltype(ActionHooks::produce) produce) : produce_(std::move(produce)) {}

  ActionKind kind() const override { return ActionKind::kKafka; }

  nlohmann::json Render(const ActionSpec& spec, const ActionContext& ctx) const override {
    const KafkaSpec& k = spec.kafka;
    nlohmann::json r = nlohmann::json::object();
    r["topic"] = k.topic.Render(ctx);
    r["key"] = k.key.Render(ctx);
    r["value"] = k.has_text_value ? k.text_value.Render(ctx) : k.json_value.Render(ctx).dump();
    return r;
  }

  std::string Target(const nlohmann::json& request) const override {
    return "kafka:" + request.value("topic", "");
  }

  ActionOutcome Perform(const ActionSpec& /*spec*/, const ActionRun& /*run*/,
                        const nlohmann::json& req) const override {
    ActionOutcome o;
    if (!produce_) {
      o.permanent = true;
      o.error = "no Kafka producer is configured for kafka actions";
      return o;
    }
    engine::Status s =
        produce_(JsonString(req, "topic"), JsonString(req, "key"), JsonString(req, "value"));
    o.ok = s.ok();
    if (!s.ok()) o.error = s.ToString();
    return o;
  }

 private:
  decltype(ActionHooks::produce) produce_;
};

}  // namespace

std::unique_ptr<ActionDriver> NewKafkaDriver(decltype(ActionHooks::produce) produce) {
  return std::make_unique<KafkaDriver>(std::move(produce));
}

}  // namespace reflex::actions
