// Renders an action's request through the default drivers, as the executor does; shared by
// the catalog tests.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "reflex/actions/catalog.h"
#include "reflex/actions/driver.h"

namespace reflex::actions {

inline const DriverRegistry& DefaultDrivers() {
  static const DriverRegistry drivers = DriverRegistry::Default({});
  return drivers;
}

inline nlohmann::json RenderRequest(const ActionSpec& spec, const ActionContext& ctx) {
  auto r = DefaultDrivers().Render(spec, ctx);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : nlohmann::json();
}

}  // namespace reflex::actions
