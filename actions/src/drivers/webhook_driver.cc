// webhook: an HTTP request to a templated URL, with a bearer token read at send time.
#include <strings.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "../json_util.h"
#include "reflex/actions/driver.h"
#include "reflex/actions/http_client.h"
#include "reflex/base/redact.h"
#include "reflex/base/retry.h"

namespace reflex::actions {
namespace {

// "reflex-" + 16 hex digits of FNV-1a over the run's journal key.
std::string IdempotencyKey(const RunKey& k) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](std::string_view part) {
    for (unsigned char c : part) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
    h *= 1099511628211ull;
  };
  mix(k.event_id);
  mix(k.table);
  mix(k.row);
  mix(std::to_string(k.action_index));
  mix(k.action);
  char buf[24];
  std::snprintf(buf, sizeof buf, "reflex-%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string TrimWhitespace(std::string s) {
  while (!s.empty() &&
         (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) {
    s.pop_back();
  }
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// The journaled URL with the catalog's literal userinfo and query added back (catalog.h,
// WebhookSpec). A URL journaled before they were taken out already has them: kept as is.
std::string WithUrlSecrets(std::string url, const WebhookSpec& w) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos) return url;
  const size_t host = sep + 3;
  const size_t auth_end = std::min(url.find_first_of("/?#", host), url.size());
  if (!w.url_userinfo.empty() && url.substr(host, auth_end - host).find('@') == std::string::npos) {
    url.insert(host, w.url_userinfo + "@");
  }
  if (!w.url_query.empty() && url.find('?', host) == std::string::npos) {
    url += "?" + w.url_query;
  }
  return url;
}

class WebhookDriver final : public ActionDriver {
 public:
  ActionKind kind() const override { return ActionKind::kWebhook; }

  nlohmann::json Render(const ActionSpec& spec, const ActionContext& ctx) const override {
    const WebhookSpec& w = spec.webhook;
    nlohmann::json r = nlohmann::json::object();
    r["method"] = w.method;
    r["url"] = w.url.Render(ctx);
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [k, v] : w.headers) headers.push_back({k, v.Render(ctx)});
    r["headers"] = std::move(headers);
    if (w.has_raw_body) {
      r["body"] = w.raw_body.Render(ctx);
    } else if (!w.json_body.empty()) {
      r["body"] = w.json_body.Render(ctx).dump();
    } else {
      r["body"] = "";
    }
    return r;
  }

  std::string Target(const nlohmann::json& request) const override {
    std::string url = request.value("url", "");
    size_t start = url.find("://");
    start = start == std::string::npos ? 0 : start + 3;
    size_t end = url.find_first_of("/?#", start);
    std::string host = url.substr(start, end == std::string::npos ? end : end - start);
    size_t at = host.rfind('@');  // drop userinfo
    return at == std::string::npos ? host : host.substr(at + 1);
  }

  ActionOutcome Perform(const ActionSpec& spec, const ActionRun& run,
                        const nlohmann::json& req) const override {
    ActionOutcome o;
    const WebhookSpec& w = spec.webhook;
    HttpRequest hr;
    hr.method = JsonString(req, "method");
    hr.url = WithUrlSecrets(JsonString(req, "url"), w);
    hr.body = JsonString(req, "body");
    hr.timeout_ms = spec.timeout_ms;
    hr.max_response_bytes = w.max_response_bytes;
    hr.headers = JsonStringPairs(req, "headers");
    std::string token;
    if (!w.token_env.empty()) {
      const char* v = std::getenv(w.token_env.c_str());
      if (v == nullptr || *v == '\0') {
        o.permanent = true;
        o.error = "token_env: environment variable " + w.token_env + " is not set";
        return o;
      }
      token = v;
    } else if (!w.token_file.empty()) {
      std::ifstream in(w.token_file);
      std::stringstream ss;
      ss << in.rdbuf();
      if (!in) {
        o.permanent = true;
        o.error = "token_file: cannot read " + w.token_file;
        return o;
      }
      token = TrimWhitespace(ss.str());
    }
    if (!token.empty()) hr.headers.emplace_back("Authorization", w.auth_scheme + " " + token);
    // The same key on every attempt of this run, also after a crash and resume, so a
    // target that honours Idempotency-Key performs it once even when Reflex sends twice.
    const bool has_key = std::any_of(hr.headers.begin(), hr.headers.end(), [](const auto& h) {
      return strcasecmp(h.first.c_str(), "Idempotency-Key") == 0;
    });
    if (!has_key) hr.headers.emplace_back("Idempotency-Key", IdempotencyKey(run.key));
    auto resp = HttpSend(hr);
    if (!resp.ok()) {
      o.error = resp.status().message();  // names the URL without its secrets
      o.permanent = resp.status().code() == engine::StatusCode::kInvalidArgument;
      return o;
    }
    // A target may quote what it was sent (an echo, an error page): what is kept is redacted.
    o.output = base::RedactSecrets(resp->body, RequestSecrets(hr));
    bool expected = w.expected_codes.empty()
                        ? (resp->status >= 200 && resp->status < 300)
                        : std::find(w.expected_codes.begin(), w.expected_codes.end(),
                                    static_cast<int>(resp->status)) != w.expected_codes.end();
    if (expected) {
      o.ok = true;
    } else {
      o.error = "HTTP " + std::to_string(resp->status);
      o.permanent = !base::IsRetryableHttpStatus(resp->status);
    }
    return o;
  }
};

}  // namespace

std::unique_ptr<ActionDriver> NewWebhookDriver() { return std::make_unique<WebhookDriver>(); }

}  // namespace reflex::actions
