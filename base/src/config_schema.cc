#include "reflex/base/config_schema.h"

#include <algorithm>
#include <cstdlib>

#include "reflex/base/strings.h"
#include "reflex/base/time.h"

namespace reflex::base {

EnvLookup SystemEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

EnvLookup NoEnv() {
  return [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
}

namespace {
std::pair<int, int> Position(const YAML::Node& at) {
  if (!at.IsDefined()) return {0, 0};
  const YAML::Mark m = at.Mark();
  if (m.line < 0) return {0, 0};
  return {m.line + 1, m.column + 1};
}
}  // namespace

void ConfigContext::Error(const YAML::Node& at, const std::string& key_path, std::string message) {
  const auto [line, col] = Position(at);
  diags_->Add({Severity::kError, file_, line, col, std::move(message), key_path});
}

void ConfigContext::Warning(const YAML::Node& at, const std::string& key_path,
                            std::string message) {
  const auto [line, col] = Position(at);
  diags_->Add({Severity::kWarning, file_, line, col, std::move(message), key_path});
}

std::string JoinKeyPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string s(parent);
  s += '.';
  s += key;
  return s;
}

std::optional<YAML::Node> ParseYaml(std::string_view text, ConfigContext& ctx) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    ctx.diagnostics().Add({Severity::kError, ctx.file(), e.mark.line + 1, e.mark.column + 1,
                           "YAML syntax: " + e.msg, ""});
    return std::nullopt;
  }
}

std::optional<std::string> ReadString(const YAML::Node& n, const std::string& path,
                                      ConfigContext& ctx) {
  if (!n.IsScalar()) {
    ctx.Error(n, path, "expected a string");
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<bool> ReadBool(const YAML::Node& n, const std::string& path, ConfigContext& ctx) {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    ctx.Error(n, path, "expected true or false");
    return std::nullopt;
  }
  return v;
}

std::optional<int64_t> ReadInt(const YAML::Node& n, const std::string& path, int64_t lo, int64_t hi,
                               ConfigContext& ctx) {
  auto v = n.IsScalar() ? ParseInt64(Trim(n.Scalar())) : Result<int64_t>(InvalidArgument(""));
  if (!v.ok()) {
    ctx.Error(n, path, "expected an integer");
    return std::nullopt;
  }
  if (*v < lo || *v > hi) {
    ctx.Error(n, path, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return std::nullopt;
  }
  return *v;
}

std::optional<int64_t> ReadDurationMs(const YAML::Node& n, const std::string& path, int64_t lo_ms,
                                      int64_t hi_ms, ConfigContext& ctx) {
  if (!n.IsScalar()) {
    ctx.Error(n, path, "expected a duration such as 30s, 500ms or 10m");
    return std::nullopt;
  }
  auto d = ParseDurationMs(n.Scalar());
  if (!d.ok()) {
    ctx.Error(n, path, d.status().message());
    return std::nullopt;
  }
  if (*d < lo_ms || *d > hi_ms) {
    ctx.Error(n, path,
              "must be between " + FormatDurationMs(lo_ms) + " and " + FormatDurationMs(hi_ms));
    return std::nullopt;
  }
  return *d;
}

std::optional<std::vector<std::string>> ReadStrings(const YAML::Node& n, const std::string& path,
                                                    ConfigContext& ctx) {
  std::vector<std::string> out;
  if (n.IsScalar() && !n.Scalar().empty()) {
    out.push_back(n.Scalar());
    return out;
  }
  if (!n.IsSequence()) {
    ctx.Error(n, path, "expected a name or a list of names");
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& x : n) {
    if (!x.IsScalar() || x.Scalar().empty()) {
      ctx.Error(x, path, "expected a non-empty name");
      ok = false;
    } else {
      out.push_back(x.Scalar());
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> ReadNameList(std::string_view text, const std::string& path,
                                                     ConfigContext& ctx) {
  std::vector<std::string> out;
  for (std::string_view name : Split(text, ',')) {
    name = Trim(name);
    if (name.empty()) {
      ctx.Error(YAML::Node(), path, "expected a non-empty name");
      return std::nullopt;
    }
    out.emplace_back(name);
  }
  return out;
}

std::optional<std::vector<std::pair<std::string, std::string>>> ReadStringPairs(
    const YAML::Node& n, const std::string& path, ConfigContext& ctx) {
  if (!n.IsMap()) {
    ctx.Error(n, path, "expected a mapping of names to values");
    return std::nullopt;
  }
  std::vector<std::pair<std::string, std::string>> out;
  bool ok = true;
  for (const auto& kv : n) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
    if (!kv.second.IsScalar()) {
      ctx.Error(kv.second, JoinKeyPath(path, key), "expected a string value");
      ok = false;
      continue;
    }
    out.emplace_back(key, kv.second.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::string> ReadSecretEnv(const YAML::Node& n, const std::string& path,
                                         ConfigContext& ctx) {
  if (!n.IsScalar() || n.Scalar().empty()) {
    ctx.Error(n, path, "expected an environment variable name");
    return std::nullopt;
  }
  auto v = ctx.Env(n.Scalar());
  if (!v) {
    ctx.Error(n, path, "environment variable " + n.Scalar() + " is not set");
    return std::nullopt;
  }
  // An empty secret would quietly turn a check off (no token: no authentication).
  if (v->empty()) {
    ctx.Error(n, path, "environment variable " + n.Scalar() + " is empty");
    return std::nullopt;
  }
  return v;
}

std::string FormatDurationMs(int64_t ms) {
  struct Unit {
    int64_t ms;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
  if (ms == 0) return "0s";
  for (const auto& u : kUnits) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name;
  }
  return std::to_string(ms) + "ms";
}

std::string RenderSchemaText(const std::vector<SchemaDoc>& docs) {
  size_t key_w = 3, type_w = 4;
  for (const auto& d : docs) {
    key_w = std::max(key_w, d.key.size());
    type_w = std::max(type_w, d.type.size());
  }
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(s.size(), w), ' ');
    return s;
  };
  std::string out;
  for (const auto& d : docs) {
    out += pad(d.key, key_w) + "  " + pad(d.type, type_w) + "  " + d.doc;
    if (!d.default_value.empty()) out += " (default: " + d.default_value + ")";
    if (!d.env.empty()) out += " [env " + d.env + "]";
    out += "\n";
  }
  return out;
}

std::string RenderSchemaMarkdown(const std::vector<SchemaDoc>& docs) {
  auto cell = [](const std::string& s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string out = "| key | type | default | environment | meaning |\n|---|---|---|---|---|\n";
  for (const auto& d : docs) {
    out += "| `" + d.key + "` | " + cell(d.type) + " | " +
           (d.default_value.empty() ? "" : "`" + cell(d.default_value) + "`") + " | " +
           (d.env.empty() ? "" : "`" + d.env + "`") + " | " + cell(d.doc) + " |\n";
  }
  return out;
}

}  // namespace reflex::base
