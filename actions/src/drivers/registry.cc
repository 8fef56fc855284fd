#include <utility>

#include "reflex/actions/driver.h"

namespace reflex::actions {

DriverRegistry DriverRegistry::Default(const ActionHooks& hooks) {
  DriverRegistry r;
  // Five distinct kinds into an empty registry: Register cannot fail.
  (void)r.Register(NewWebhookDriver());
  (void)r.Register(NewCommandDriver());
  (void)r.Register(NewKafkaDriver(hooks.produce));
  (void)r.Register(NewEmitDriver(hooks.emit));
  (void)r.Register(NewEscalateDriver(hooks.escalate));
  return r;
}

engine::Status DriverRegistry::Register(std::unique_ptr<ActionDriver> driver) {
  if (driver == nullptr) return engine::InvalidArgument("cannot register a null action driver");
  const ActionKind kind = driver->kind();
  if (drivers_.count(kind) != 0) {
    return engine::FailedPrecondition("a driver is already registered for action kind '" +
                                      std::string(KindName(kind)) + "'");
  }
  drivers_.emplace(kind, std::move(driver));
  return engine::Status::Ok();
}

const ActionDriver* DriverRegistry::Find(ActionKind kind) const {
  auto it = drivers_.find(kind);
  return it == drivers_.end() ? nullptr : it->second.get();
}

engine::Result<const ActionDriver*> DriverRegistry::Get(ActionKind kind) const {
  if (const ActionDriver* d = Find(kind)) return d;
  return engine::NotFound("no driver is registered for action kind '" +
                          std::string(KindName(kind)) + "'");
}

engine::Result<nlohmann::json> DriverRegistry::Render(const ActionSpec& spec,
                                                      const ActionContext& ctx) const {
  auto d = Get(spec.kind);
  if (!d.ok()) return d.status();
  return (*d)->Render(spec, ctx);
}

engine::Result<std::string> DriverRegistry::Target(ActionKind kind,
                                                   const nlohmann::json& request) const {
  auto d = Get(kind);
  if (!d.ok()) return d.status();
  return (*d)->Target(request);
}

}  // namespace reflex::actions
