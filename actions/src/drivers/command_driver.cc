// command: a program run directly (no shell) with templated arguments and environment.
#include <algorithm>
#include <utility>

#include "../json_util.h"
#include "reflex/actions/command.h"
#include "reflex/actions/driver.h"

namespace reflex::actions {
namespace {

class CommandDriver final : public ActionDriver {
 public:
  ActionKind kind() const override { return ActionKind::kCommand; }

  nlohmann::json Render(const ActionSpec& spec, const ActionContext& ctx) const override {
    nlohmann::json r = nlohmann::json::object();
    nlohmann::json argv = nlohmann::json::array();
    for (const auto& a : spec.command.argv) argv.push_back(a.Render(ctx));
    r["argv"] = std::move(argv);
    nlohmann::json env = nlohmann::json::array();
    for (const auto& [k, v] : spec.command.env) env.push_back({k, v.Render(ctx)});
    r["env"] = std::move(env);
    r["cwd"] = spec.command.cwd;
    return r;
  }

  std::string Target(const nlohmann::json& request) const override {
    auto argv = request.find("argv");
    if (argv != request.end() && argv->is_array() && !argv->empty() && (*argv)[0].is_string()) {
      return (*argv)[0].get<std::string>();
    }
    return "";
  }

  ActionOutcome Perform(const ActionSpec& spec, const ActionRun& /*run*/,
                        const nlohmann::json& req) const override {
    ActionOutcome o;
    CommandRequest cr;
    if (auto a = req.find("argv"); a != req.end() && a->is_array()) {
      for (const auto& x : *a) cr.argv.push_back(x.is_string() ? x.get<std::string>() : "");
    }
    cr.env = JsonStringPairs(req, "env");
    cr.cwd = JsonString(req, "cwd");
    cr.timeout_ms = spec.timeout_ms;
    cr.max_output_bytes = spec.command.max_output_bytes;
    auto res = RunCommand(cr);
    if (!res.ok()) {
      o.permanent = true;  // cannot be started: not found, not executable, bad cwd
      o.error = res.status().message();
      return o;
    }
    o.output = res->output;
    const auto& okc = spec.command.ok_exit_codes;
    if (!res->timed_out && res->term_signal == 0 &&
        std::find(okc.begin(), okc.end(), res->exit_code) != okc.end()) {
      o.ok = true;
    } else {
      o.error = res->timed_out ? "timed out after " + std::to_string(spec.timeout_ms) + " ms"
                               : res->Describe();
    }
    return o;
  }
};

}  // namespace

std::unique_ptr<ActionDriver> NewCommandDriver() { return std::make_unique<CommandDriver>(); }

}  // namespace reflex::actions
