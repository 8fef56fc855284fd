// Internals shared by the REST API's source files (rest_api.cc, teach_api.cc): the answer
// builders, request parsing and the one request being served. Not installed.
// Thread-safety: pure functions; a Call belongs to the request's thread.
#pragma once

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "reflex/api/rest_api.h"
#include "reflex/base/time.h"

namespace reflex::api {

using connectors::ApiRequest;
using connectors::ApiResponse;
using connectors::ApiRole;
using connectors::ApiToken;
using engine::Status;
using engine::StatusCode;

inline constexpr size_t kDefaultLimit = 50;
inline constexpr size_t kMaxLimit = 500;

inline std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline ApiResponse Answer(int status, std::string body, std::string route) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  r.route = std::move(route);
  return r;
}

inline ApiResponse Error(int status, std::string_view message, std::string route) {
  nlohmann::json j;
  j["error"] = message;
  return Answer(status, Dump(j), std::move(route));
}

// The answer for a store's refusal: kNotFound 404, kFailedPrecondition and kAlreadyExists
// 409, kInvalidArgument 400, anything else 503.
inline ApiResponse Failed(const Status& s, std::string route) {
  switch (s.code()) {
    case StatusCode::kNotFound:
      return Error(404, s.message(), std::move(route));
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
      return Error(409, s.message(), std::move(route));
    case StatusCode::kInvalidArgument:
      return Error(400, s.message(), std::move(route));
    default:
      return Error(503, s.message(), std::move(route));
  }
}

inline std::optional<int64_t> ParseId(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

inline bool RoleAllows(ApiRole have, ApiRole need) {
  return static_cast<int>(have) >= static_cast<int>(need);
}

// One request being served: who makes it, its parameters.
struct RestApi::Call {
  const ApiRequest& req;
  const ApiToken* who = nullptr;

  // The single value of a query parameter ("" when absent).
  std::string Param(const std::string& name) const {
    auto it = req.params.find(name);
    return it == req.params.end() ? std::string() : it->second;
  }
  bool Has(const std::string& name) const { return req.params.count(name) > 0; }
};

// 403 for a caller whose role is below `need`: "role viewer may not approve action runs
// (operator or admin may)".
inline ApiResponse Forbidden(const RestApi::Call& call, const std::string& what, ApiRole need,
                             std::string route) {
  return Error(403,
               "role " + std::string(connectors::kApiRoleNames.Name(call.who->role)) + " may not " +
                   what + (need == ApiRole::kAdmin ? " (admin may)" : " (operator or admin may)"),
               std::move(route));
}

// Common list parameters: limit and an RFC 3339 time.
inline std::optional<std::string> ReadLimit(const std::string& text, size_t* limit) {
  if (text.empty()) return std::nullopt;
  auto v = ParseId(text);
  if (!v || *v > static_cast<int64_t>(kMaxLimit)) {
    return "limit: expected 1.." + std::to_string(kMaxLimit) + ", got '" + text + "'";
  }
  *limit = static_cast<size_t>(*v);
  return std::nullopt;
}
inline std::optional<std::string> ReadTime(const std::string& name, const std::string& text,
                                           int64_t* out) {
  if (text.empty()) return std::nullopt;
  auto t = base::ParseRfc3339Millis(text);
  if (!t.ok()) return name + ": expected an RFC 3339 time, got '" + text + "'";
  *out = *t;
  return std::nullopt;
}

// A request body that must be a JSON object (empty = {}); `fields` are optional strings
// unless named in `required`.
struct Body {
  nlohmann::json j = nlohmann::json::object();
  std::string error;
  std::string Text(const char* key) const {
    auto it = j.find(key);
    return it == j.end() || !it->is_string() ? std::string() : it->get<std::string>();
  }
};
inline Body ReadBody(const std::string& text, std::initializer_list<const char*> fields,
                     std::initializer_list<const char*> required) {
  Body b;
  if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
    b.j = nlohmann::json::parse(text, nullptr, false);
    if (b.j.is_discarded() || !b.j.is_object()) {
      b.error = "the body must be a JSON object";
      return b;
    }
  }
  for (const auto& item : b.j.items()) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    if (std::find_if(fields.begin(), fields.end(), [&](const char* f) { return key == f; }) ==
        fields.end()) {
      b.error = "unknown field '" + key + "'";
      return b;
    }
    if (!value.is_string()) {
      b.error = key + ": expected a string";
      return b;
    }
  }
  for (const char* key : required) {
    if (b.Text(key).empty()) {
      b.error = std::string(key) + ": required";
      return b;
    }
  }
  return b;
}

}  // namespace reflex::api
