// Config schemas: each configuration struct declares its keys once (name, type, default,
// range, description, environment override), and one reader checks every file against it.
//
// In the spirit of Fluent Bit's config_map: a component's schema is a table, not a
// hand-written validator. The reader reports every problem of a file at once, each in the
// same form, `file:line:col: key.path: message`:
//   - unknown keys (listing the valid ones), keys that do not apply to the chosen kind;
//   - a value of the wrong type (a string, true/false, an integer, a duration, a list, a map);
//   - a value out of range, not one of the allowed names, empty where it must not be;
//   - a missing required key; an environment variable named by a `*_env` key that is unset;
//   - whatever a schema's own cross-key Check adds.
// The same table prints as documentation (`reflex config schema`, docs/), so the docs
// cannot drift from what is accepted. The default shown is the struct's own default value.
//
// Environment: a field declared with .Env("REFLEX_X") takes that variable's value when it is
// set (after the file is read; ApplyEnv). A Secret field `token` is given in the file as
// `token_env: NAME` and read from the environment variable NAME, so no secret lives in
// the file. Lookups go through ConfigContext's EnvLookup (tests inject their own).
//
// Thread-safety: a Schema is immutable once built (build it once, e.g. in a function-local
// static); Read may run on many threads with their own ConfigContext.
//
//   struct Http { bool enabled = true; std::string listen = "127.0.0.1:8080"; int threads = 4; };
//   const Schema<Http>& HttpSchema() {
//     static const Schema<Http> s = [] {
//       Schema<Http> s;
//       s.Bool("enabled", &Http::enabled, "serve HTTP");
//       s.String("listen", &Http::listen, "host:port").Env("REFLEX_HTTP_LISTEN");
//       s.Int("threads", &Http::threads, 1, 256, "worker threads");
//       return s;
//     }();
//     return s;
//   }
//   Diagnostics d;
//   ConfigContext ctx("reflex.yaml", SystemEnv(), &d);
//   Http h;
//   HttpSchema().Read(root["http"], "http", &h, ctx);
//   if (d.has_errors()) return d.ToStatus();
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/base/diagnostic.h"
#include "reflex/base/enum_names.h"

namespace reflex::base {

// Looks up an environment variable; std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process environment.
EnvLookup SystemEnv();
// An empty environment (tests, and reading a file without overrides).
EnvLookup NoEnv();

// Where the problems of one file go while it is read.
class ConfigContext {
 public:
  // `diags` must outlive the context.
  ConfigContext(std::string file, EnvLookup env, Diagnostics* diags)
      : file_(std::move(file)), env_(std::move(env)), diags_(diags) {}

  // An error at `at` (its line and column; none when `at` is undefined or has no mark).
  void Error(const YAML::Node& at, const std::string& key_path, std::string message);
  void Warning(const YAML::Node& at, const std::string& key_path, std::string message);
  std::optional<std::string> Env(const std::string& name) const {
    return env_ ? env_(name) : std::nullopt;
  }
  const std::string& file() const { return file_; }
  const EnvLookup& env() const { return env_; }
  Diagnostics& diagnostics() { return *diags_; }
  size_t error_count() const { return diags_->error_count(); }

 private:
  std::string file_;
  EnvLookup env_;
  Diagnostics* diags_;
};

// "parent.key", or "key" at the top.
std::string JoinKeyPath(std::string_view parent, std::string_view key);

// YAML text to a node; a syntax error is reported (file:line:col) and gives nullopt.
std::optional<YAML::Node> ParseYaml(std::string_view text, ConfigContext& ctx);

// One line of a schema's documentation.
struct SchemaDoc {
  std::string key;            // full key path: "kafka.group_id", "sources[].name"
  std::string type;           // "string", "integer (1..64)", "duration", "one of: a, b", ...
  std::string default_value;  // as the struct defaults it; "" when none
  std::string env;            // environment override, "" when none
  std::string doc;
};

// Scalar readers shared by schemas and by code that reads a YAML value outside one. Each
// reports its own error (at `n`, naming `path`) and returns nullopt.
std::optional<std::string> ReadString(const YAML::Node& n, const std::string& path,
                                      ConfigContext& ctx);
std::optional<bool> ReadBool(const YAML::Node& n, const std::string& path, ConfigContext& ctx);
std::optional<int64_t> ReadInt(const YAML::Node& n, const std::string& path, int64_t lo, int64_t hi,
                               ConfigContext& ctx);
// "30s", "500ms", "10m", "1h", "2d" or a number of seconds; within [lo_ms, hi_ms].
std::optional<int64_t> ReadDurationMs(const YAML::Node& n, const std::string& path, int64_t lo_ms,
                                      int64_t hi_ms, ConfigContext& ctx);
// A name or a list of names (each a non-empty string).
std::optional<std::vector<std::string>> ReadStrings(const YAML::Node& n, const std::string& path,
                                                    ConfigContext& ctx);
// Environment text for a name list: names separated by commas ("a, b"), each non-empty.
std::optional<std::vector<std::string>> ReadNameList(std::string_view text, const std::string& path,
                                                     ConfigContext& ctx);
// A mapping of string to string, in file order.
std::optional<std::vector<std::pair<std::string, std::string>>> ReadStringPairs(
    const YAML::Node& n, const std::string& path, ConfigContext& ctx);
// `<key>_env: NAME` -> the value of NAME (an unset variable is an error).
std::optional<std::string> ReadSecretEnv(const YAML::Node& n, const std::string& path,
                                         ConfigContext& ctx);
// One of the names of an EnumNames table; any other text is reported with the valid names.
template <typename E, size_t N>
std::optional<E> ReadEnum(const YAML::Node& n, const std::string& path,
                          const EnumNames<E, N>& names, ConfigContext& ctx) {
  auto text = ReadString(n, path, ctx);
  if (!text) return std::nullopt;
  if (auto e = names.Parse(*text)) return e;
  ctx.Error(n, path, "unknown value '" + *text + "' (expected one of: " + names.List() + ")");
  return std::nullopt;
}
// Formats a duration for documentation ("30s", "500ms", "1h").
std::string FormatDurationMs(int64_t ms);

template <typename T>
class Schema {
 public:
  // Options of one declared key; chain them after the declaration.
  class Field {
   public:
    // The key also reads this environment variable (it wins over the file when set). For
    // string, bool, integer, duration, enum, secret, name-list and Custom keys; a mapping or
    // a list has no text form (set its nested keys' variables instead).
    Field& Env(std::string name) {
      env_ = std::move(name);
      return *this;
    }
    // The default as documentation shows it, for keys whose default the schema cannot
    // render from the struct (Custom keys).
    Field& Default(std::string text) {
      default_ = [text = std::move(text)](const T&) { return text; };
      return *this;
    }
    // The key must be present.
    Field& Required() {
      required_ = true;
      return *this;
    }
    // The key applies only when `applies(value read so far)`; present otherwise, it is an
    // error "only valid with <when>". Keys are read in declaration order, so a `kind`
    // declared first can decide which of the later keys apply.
    Field& OnlyWhen(std::function<bool(const T&)> applies, std::string when) {
      applies_ = std::move(applies);
      when_ = std::move(when);
      return *this;
    }
    // The key selects which later keys apply (a `kind`): when it is missing or invalid, the
    // keys declared after it are not read and the Check()s do not run, since every complaint
    // about them would only follow from it.
    Field& Selector() {
      selector_ = true;
      return *this;
    }
    // Documents the mapping a Custom key reads with `schema` (flattened under "key.").
    template <typename U>
    Field& Nested(const Schema<U>& schema) {
      nested_doc_ = [&schema](const std::string& prefix, std::vector<SchemaDoc>* out) {
        schema.Document(prefix, out);
      };
      return *this;
    }

    // Documents the list of mappings a Custom key reads with `schema` (under "key[].").
    template <typename U>
    Field& NestedList(const Schema<U>& schema) {
      nested_doc_ = [&schema](const std::string& prefix, std::vector<SchemaDoc>* out) {
        schema.Document(prefix + "[]", out);
      };
      return *this;
    }

   private:
    friend class Schema;
    std::string key_;  // as written in the file ("token_env" for a secret)
    std::string doc_;
    std::string type_;
    std::string env_;
    bool required_ = false;
    bool selector_ = false;
    std::function<bool(const T&)> applies_;
    std::string when_;
    // Reads a present value into *out; reports its own errors.
    std::function<void(const YAML::Node&, const std::string& path, T*, ConfigContext&)> read_;
    // Sets the value from environment text (an .Env override); reports its own errors.
    std::function<void(const std::string& text, const std::string& path, T*, ConfigContext&)>
        from_env_;
    std::function<std::string(const T&)> default_;
    std::function<void(const std::string& prefix, std::vector<SchemaDoc>*)> nested_doc_;
    std::function<void(T*, ConfigContext&)> nested_env_;
  };

  using CheckFn = std::function<void(T* value, const YAML::Node& node, const std::string& path,
                                     ConfigContext& ctx)>;

  Field& String(std::string key, std::string T::*m, std::string doc) {
    Field& f = Add(std::move(key), "string", std::move(doc));
    f.read_ = [m](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadString(n, p, ctx)) out->*m = std::move(*v);
    };
    f.from_env_ = [m](const std::string& text, const std::string&, T* out, ConfigContext&) {
      out->*m = text;
    };
    f.default_ = [m](const T& d) { return d.*m; };
    return f;
  }
  // A string that must not be empty.
  Field& NonEmptyString(std::string key, std::string T::*m, std::string doc) {
    Field& f = String(std::move(key), m, std::move(doc));
    f.type_ = "non-empty string";
    f.read_ = [m](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadString(n, p, ctx)) {
        if (v->empty()) return ctx.Error(n, p, "must not be empty");
        out->*m = std::move(*v);
      }
    };
    return f;
  }
  Field& Bool(std::string key, bool T::*m, std::string doc) {
    Field& f = Add(std::move(key), "true or false", std::move(doc));
    f.read_ = [m](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadBool(n, p, ctx)) out->*m = *v;
    };
    f.from_env_ = [m](const std::string& text, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadBool(YAML::Node(text), p, ctx)) out->*m = *v;
    };
    f.default_ = [m](const T& d) { return std::string(d.*m ? "true" : "false"); };
    return f;
  }
  template <typename I>
  Field& Int(std::string key, I T::*m, int64_t lo, int64_t hi, std::string doc) {
    Field& f =
        Add(std::move(key), "integer (" + std::to_string(lo) + ".." + std::to_string(hi) + ")",
            std::move(doc));
    f.read_ = [m, lo, hi](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadInt(n, p, lo, hi, ctx)) out->*m = static_cast<I>(*v);
    };
    f.from_env_ = [m, lo, hi](const std::string& text, const std::string& p, T* out,
                              ConfigContext& ctx) {
      if (auto v = ReadInt(YAML::Node(text), p, lo, hi, ctx)) out->*m = static_cast<I>(*v);
    };
    f.default_ = [m](const T& d) { return std::to_string(d.*m); };
    return f;
  }
  // A duration in milliseconds, written "30s", "500ms", "10m", "1h", "2d".
  Field& Duration(std::string key, int64_t T::*m, int64_t lo_ms, int64_t hi_ms, std::string doc) {
    Field& f = Add(std::move(key), "duration", std::move(doc));
    f.read_ = [m, lo_ms, hi_ms](const YAML::Node& n, const std::string& p, T* out,
                                ConfigContext& ctx) {
      if (auto v = ReadDurationMs(n, p, lo_ms, hi_ms, ctx)) out->*m = *v;
    };
    f.from_env_ = [m, lo_ms, hi_ms](const std::string& text, const std::string& p, T* out,
                                    ConfigContext& ctx) {
      if (auto v = ReadDurationMs(YAML::Node(text), p, lo_ms, hi_ms, ctx)) out->*m = *v;
    };
    f.default_ = [m](const T& d) { return FormatDurationMs(d.*m); };
    return f;
  }
  // A name or a list of names (from the environment: names separated by commas).
  Field& Strings(std::string key, std::vector<std::string> T::*m, std::string doc) {
    Field& f = Add(std::move(key), "string or list of strings", std::move(doc));
    f.read_ = [m](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadStrings(n, p, ctx)) out->*m = std::move(*v);
    };
    f.from_env_ = [m](const std::string& text, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadNameList(text, p, ctx)) out->*m = std::move(*v);
    };
    f.default_ = [m](const T& d) {
      std::string s;
      for (const auto& x : d.*m) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    return f;
  }
  // A mapping of string to string (kept as given, in file order, or as a sorted map).
  template <typename Container>
  Field& StringMap(std::string key, Container T::*m, std::string doc) {
    Field& f = Add(std::move(key), "map of string to string", std::move(doc));
    f.read_ = [m](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadStringPairs(n, p, ctx)) {
        for (auto& [k, val] : *v) Insert(out->*m, std::move(k), std::move(val));
      }
    };
    f.default_ = [](const T&) { return std::string(); };
    return f;
  }
  // One of the names of an EnumNames table.
  template <typename E, size_t N>
  Field& Enum(std::string key, E T::*m, const EnumNames<E, N>& names, std::string doc) {
    Field& f = Add(std::move(key), "one of: " + names.List(), std::move(doc));
    auto parse = [m, &names](const YAML::Node& n, const std::string& p, T* out,
                             ConfigContext& ctx) {
      if (auto e = ReadEnum(n, p, names, ctx)) out->*m = *e;
    };
    f.read_ = parse;
    f.from_env_ = [parse](const std::string& text, const std::string& p, T* out,
                          ConfigContext& ctx) { parse(YAML::Node(text), p, out, ctx); };
    f.default_ = [m, &names](const T& d) { return std::string(names.Name(d.*m)); };
    return f;
  }
  // A secret: the file names an environment variable with `<key>_env: NAME`. An unset or
  // empty variable is an error, so a secret cannot switch itself off.
  Field& Secret(const std::string& key, std::string T::*m, std::string doc) {
    Field& f = Add(key + "_env", "environment variable name", std::move(doc));
    f.read_ = [m](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      if (auto v = ReadSecretEnv(n, p, ctx)) out->*m = std::move(*v);
    };
    f.from_env_ = [m](const std::string& text, const std::string& var, T* out, ConfigContext& ctx) {
      // Set but empty is a mistake, never "no secret".
      if (text.empty()) return ctx.Error(YAML::Node(), var, "is set but empty");
      out->*m = text;
    };
    f.default_ = [](const T&) { return std::string(); };
    return f;
  }
  // A nested mapping with its own schema.
  template <typename U>
  Field& Object(std::string key, U T::*m, const Schema<U>& schema, std::string doc) {
    Field& f = Add(std::move(key), "mapping", std::move(doc));
    f.read_ = [m, &schema](const YAML::Node& n, const std::string& p, T* out, ConfigContext& ctx) {
      schema.Read(n, p, &(out->*m), ctx);
    };
    f.default_ = [](const T&) { return std::string(); };
    f.nested_doc_ = [&schema](const std::string& prefix, std::vector<SchemaDoc>* out) {
      schema.Document(prefix, out);
    };
    f.nested_env_ = [m, &schema](T* out, ConfigContext& ctx) { schema.ApplyEnv(&(out->*m), ctx); };
    return f;
  }
  // A list of mappings, each with `schema`; paths read "key[0].x". `non_empty`: at least one.
  template <typename U>
  Field& List(std::string key, std::vector<U> T::*m, const Schema<U>& schema, bool non_empty,
              std::string doc) {
    Field& f = Add(std::move(key), "list of mappings", std::move(doc));
    f.read_ = [m, &schema, non_empty](const YAML::Node& n, const std::string& p, T* out,
                                      ConfigContext& ctx) {
      if (!n.IsSequence() || (non_empty && n.size() == 0)) {
        return ctx.Error(n, p, non_empty ? "expected a non-empty list" : "expected a list");
      }
      (out->*m).clear();
      for (size_t i = 0; i < n.size(); ++i) {
        U item;
        schema.Read(n[i], p + "[" + std::to_string(i) + "]", &item, ctx);
        (out->*m).push_back(std::move(item));
      }
    };
    f.default_ = [](const T&) { return std::string(); };
    f.nested_doc_ = [&schema](const std::string& prefix, std::vector<SchemaDoc>* out) {
      schema.Document(prefix + "[]", out);
    };
    return f;
  }
  // A value kept as YAML for a reader of its own (e.g. a mapping whose keys depend on a
  // kind, read by its component); `type` documents it.
  Field& Node(std::string key, YAML::Node T::*m, std::string type, std::string doc) {
    Field& f = Add(std::move(key), std::move(type), std::move(doc));
    f.read_ = [m](const YAML::Node& n, const std::string&, T* out, ConfigContext&) {
      (out->*m).reset(n);  // copy only what exists: assigning an invalid node throws
    };
    f.default_ = [](const T&) { return std::string(); };
    return f;
  }
  // A key read by custom code (`read` reports its own errors); for values no typed field
  // fits. `type` documents it.
  Field& Custom(
      std::string key, std::string type, std::string doc,
      std::function<void(const YAML::Node&, const std::string&, T*, ConfigContext&)> read) {
    Field& f = Add(std::move(key), std::move(type), std::move(doc));
    f.read_ = std::move(read);
    f.from_env_ = [r = f.read_](const std::string& text, const std::string& p, T* out,
                                ConfigContext& ctx) { r(YAML::Node(text), p, out, ctx); };
    f.default_ = [](const T&) { return std::string(); };
    return f;
  }

  // A check over the whole value, run after its keys were read (and after ApplyEnv for the
  // root). `node` is the mapping as written (possibly undefined), for error positions.
  Schema& Check(CheckFn check) {
    checks_.push_back(std::move(check));
    return *this;
  }

  // Reads the mapping `node` into *out: keys it does not name keep their defaults. Every
  // problem goes to ctx. An undefined or null node reads as an empty mapping. Returns true
  // when no error was added.
  bool Read(const YAML::Node& node, const std::string& path, T* out, ConfigContext& ctx) const {
    const size_t before = ctx.error_count();
    if (node.IsDefined() && !node.IsNull()) {
      if (!node.IsMap()) {
        ctx.Error(node, path.empty() ? std::string("(top)") : path, "expected a mapping");
        return false;
      }
      ReportUnknownKeys(node, path, ctx);
    }
    for (const auto& f : fields_) {
      const size_t at_start = ctx.error_count();
      ReadField(*f, node, path, out, ctx);
      if (f->selector_ && ctx.error_count() > at_start) return false;
    }
    RunChecks(node, path, out, ctx);
    return ctx.error_count() == before;
  }

  // Environment overrides declared with .Env(), here and in nested Object schemas: each set
  // variable replaces the value (its text is checked like the file's). Call after Read.
  void ApplyEnv(T* out, ConfigContext& ctx) const {
    for (const auto& f : fields_) {
      if (f->nested_env_) f->nested_env_(out, ctx);
      if (f->env_.empty() || !f->from_env_) continue;
      if (auto v = ctx.Env(f->env_)) f->from_env_(*v, f->env_, out, ctx);
    }
  }

  // Runs the Check()s alone (e.g. on a default value that no file was read into).
  void RunChecks(const YAML::Node& node, const std::string& path, T* out,
                 ConfigContext& ctx) const {
    for (const auto& c : checks_) c(out, node, path, ctx);
  }

  // One SchemaDoc per key (nested schemas flattened under "key." and "key[].").
  void Document(const std::string& prefix, std::vector<SchemaDoc>* out) const {
    const T defaults{};
    for (const auto& f : fields_) {
      SchemaDoc d;
      d.key = JoinKeyPath(prefix, f->key_);
      d.type = f->type_ + (f->required_ ? "; required" : "") +
               (f->when_.empty() ? "" : "; only with " + f->when_);
      d.default_value = f->default_ ? f->default_(defaults) : "";
      d.env = f->env_;
      d.doc = f->doc_;
      out->push_back(std::move(d));
      if (f->nested_doc_) f->nested_doc_(JoinKeyPath(prefix, f->key_), out);
    }
  }

  // The keys this schema accepts, in declaration order.
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    for (const auto& f : fields_) keys.push_back(f->key_);
    return keys;
  }

 private:
  // Reads one declared key of `node` (undefined or null: an empty mapping).
  void ReadField(const Field& f, const YAML::Node& node, const std::string& path, T* out,
                 ConfigContext& ctx) const {
    const std::string p = JoinKeyPath(path, f.key_);
    const YAML::Node v =
        node.IsDefined() && node.IsMap() ? node[f.key_] : YAML::Node(YAML::NodeType::Undefined);
    if (!v.IsDefined()) {
      if (f.required_ && (!f.applies_ || f.applies_(*out))) {
        ctx.Error(node, p, "missing required key");
      }
      return;
    }
    if (f.applies_ && !f.applies_(*out)) {
      ctx.Error(FindKey(node, f.key_), p, "only valid with " + f.when_);
      return;
    }
    f.read_(v, p, out, ctx);
  }
  Field& Add(std::string key, std::string type, std::string doc) {
    auto f = std::make_shared<Field>();
    f->key_ = std::move(key);
    f->type_ = std::move(type);
    f->doc_ = std::move(doc);
    fields_.push_back(f);
    return *fields_.back();
  }
  static YAML::Node FindKey(const YAML::Node& map, const std::string& key) {
    for (const auto& kv : map) {
      if (kv.first.IsScalar() && kv.first.Scalar() == key) return kv.first;
    }
    return YAML::Node();
  }
  void ReportUnknownKeys(const YAML::Node& node, const std::string& path,
                         ConfigContext& ctx) const {
    for (const auto& kv : node) {
      const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : std::string("?");
      bool known = false;
      for (const auto& f : fields_) known = known || f->key_ == k;
      if (known) continue;
      std::string list;
      for (const auto& f : fields_) list += (list.empty() ? "" : ", ") + f->key_;
      ctx.Error(kv.first, JoinKeyPath(path, k), "unknown key (valid keys: " + list + ")");
    }
  }
  static void Insert(std::map<std::string, std::string>& m, std::string k, std::string v) {
    m[std::move(k)] = std::move(v);
  }
  static void Insert(std::vector<std::pair<std::string, std::string>>& m, std::string k,
                     std::string v) {
    m.emplace_back(std::move(k), std::move(v));
  }

  // shared_ptr: a Field& handed out stays valid while more keys are declared.
  std::vector<std::shared_ptr<Field>> fields_;
  std::vector<CheckFn> checks_;
};

// Renders schema docs as an aligned text table (what `reflex config schema` prints) or as
// Markdown (for docs/).
std::string RenderSchemaText(const std::vector<SchemaDoc>& docs);
std::string RenderSchemaMarkdown(const std::vector<SchemaDoc>& docs);

}  // namespace reflex::base
