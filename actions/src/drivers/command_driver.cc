// command: a program run directly (no shell) with templated arguments and environment.
#include <algorithm>
#include <utility>

#include "../json_util.h"
#include "reflex/actions/command.h"
#include "reflex/actions/driver.h"
#include "reflex/base/utf8.h"

namespace reflex::actions {
namespace {

// True when parameter `name` allows a leading dash and its own value starts with one (so the
// dash is the value's, not that of a later substitution after an empty value).
bool AllowsDash(const ActionSpec& spec, const ActionContext& ctx, const std::string& name) {
  const auto p = std::find_if(spec.param_specs.begin(), spec.param_specs.end(),
                              [&](const ParamSpec& ps) { return ps.name == name; });
  if (p == spec.param_specs.end() || !p->allow_leading_dash || ctx.params == nullptr) return false;
  for (const auto& [k, v] : *ctx.params) {
    if (k == name) return !v.empty() && v[0] == '-';
  }
  return false;
}

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

  // An argument whose text starts with a substituted value beginning with '-' would reach
  // the program as an option ("-rf", "--output=/etc/passwd"): refused unless the parameter
  // allows it, or a literal "--" argument ends the options before it.
  std::string Refuse(const ActionSpec& spec, const ActionContext& ctx,
                     const nlohmann::json& request) const override {
    auto argv = request.find("argv");
    if (argv == request.end() || !argv->is_array()) return "";
    const auto& templates = spec.command.argv;
    for (size_t i = 1; i < templates.size() && i < argv->size(); ++i) {
      const ContextTemplate& t = templates[i];
      if (t.is_literal()) {
        if (t.source() == "--") return "";
        continue;
      }
      const std::string arg = (*argv)[i].is_string() ? (*argv)[i].get<std::string>() : "";
      if (arg.empty() || arg[0] != '-') continue;
      const std::string var = t.LeadingVariable();
      if (var.empty()) continue;  // the dash is the catalog's own text
      if (var.rfind("params.", 0) == 0 && AllowsDash(spec, ctx, var.substr(7))) continue;
      return "argv[" + std::to_string(i) + "] '" + std::string(base::CutUtf8(arg, 200)) +
             "' starts with '-' from " + var +
             ": refused (a value must not become an option; allow it with allow_leading_dash "
             "on the parameter, or put \"--\" before it)";
    }
    return "";
  }

  std::string Target(const nlohmann::json& request) const override {
    auto argv = request.find("argv");
    if (argv != request.end() && argv->is_array() && !argv->empty() && (*argv)[0].is_string()) {
      return (*argv)[0].get<std::string>();
    }
    return "";
  }

  ActionOutcome Perform(const ActionSpec& spec, const ActionRun& run,
                        const nlohmann::json& req) const override {
    ActionOutcome o;
    CommandRequest cr;
    if (auto a = req.find("argv"); a != req.end() && a->is_array()) {
      for (const auto& x : *a) cr.argv.push_back(x.is_string() ? x.get<std::string>() : "");
    }
    cr.env = JsonStringPairs(req, "env");
    // As a webhook's Idempotency-Key header: the same on every attempt and on a retry.
    cr.env.emplace_back("REFLEX_IDEMPOTENCY_KEY", IdempotencyKey(run));
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
