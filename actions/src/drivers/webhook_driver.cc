// webhook: an HTTP request to a templated URL, with a bearer token read at send time. With a
// job-API preset and `follow` on, an attempt launches the job, records it, and reads its
// status until it finishes (Attempt / Follow).
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <chrono>
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
#include "reflex/base/strings.h"

namespace reflex::actions {
namespace {

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

// The token of `w` (token_env or token_file), "" when it has none; false with *error when
// it names one that cannot be read.
bool ReadToken(const WebhookSpec& w, std::string* token, std::string* error) {
  if (!w.token_env.empty()) {
    const char* v = std::getenv(w.token_env.c_str());
    if (v == nullptr || *v == '\0') {
      *error = "token_env: environment variable " + w.token_env + " is not set";
      return false;
    }
    *token = v;
  } else if (!w.token_file.empty()) {
    std::ifstream in(w.token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in) {
      *error = "token_file: cannot read " + w.token_file;
      return false;
    }
    *token = TrimWhitespace(ss.str());
  }
  return true;
}

// The member at a dot-separated path ("data.conductor.status_id") as text: a string as is,
// a number or boolean as its JSON text; "" when absent, null, an object or a list.
std::string FieldText(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json* at = &j;
  for (std::string_view part : base::Split(path, '.')) {
    if (!at->is_object()) return "";
    auto it = at->find(std::string(part));
    if (it == at->end()) return "";
    at = &*it;
  }
  if (at->is_string()) return at->get<std::string>();
  if (at->is_number() || at->is_boolean()) return at->dump();
  return "";
}

// Percent-encodes all but RFC 3986 unreserved characters (a job id placed in a URL path).
std::string PathSegment(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Where the status of job `id` is read, from the journaled launch URL (without secrets):
//   awx          <base>/api/v2/job_templates/<t>/launch/   -> <base>/api/v2/jobs/<id>/
//   exastro_ita  <...>/conductor_class_edit/conductor/execute/ -> <...>/conductor/<id>/
// "" when the launch URL does not have the preset's shape.
std::string JobUrl(const WebhookSpec& w, const std::string& launch_url, const std::string& id) {
  if (w.preset == "awx") {
    const size_t at = launch_url.rfind("/api/v2/job_templates/");
    if (at == std::string::npos) return "";
    return launch_url.substr(0, at) + "/api/v2/jobs/" + PathSegment(id) + "/";
  }
  const std::string kExecute = "/conductor/execute/";
  if (launch_url.size() < kExecute.size() ||
      launch_url.compare(launch_url.size() - kExecute.size(), kExecute.size(), kExecute) != 0) {
    return "";
  }
  return launch_url.substr(0, launch_url.size() - kExecute.size()) + "/conductor/" +
         PathSegment(id) + "/";
}

// "1h", "2m30s", "450ms": a duration for people.
std::string DurationText(int64_t ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  int64_t s = ms / 1000;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60 != 0 || out.empty()) out += std::to_string(s % 60) + "s";
  return out;
}

bool Contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
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
    if (!ReadToken(w, &token, &o.error)) {
      o.permanent = true;
      return o;
    }
    if (!token.empty()) hr.headers.emplace_back("Authorization", w.auth_scheme + " " + token);
    // The same key on every attempt of this run, also after a crash and resume, so a
    // target that honours Idempotency-Key performs it once even when Reflex sends twice.
    const bool has_key = std::any_of(hr.headers.begin(), hr.headers.end(), [](const auto& h) {
      return strcasecmp(h.first.c_str(), "Idempotency-Key") == 0;
    });
    if (!has_key) hr.headers.emplace_back("Idempotency-Key", IdempotencyKey(run));
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

  ActionOutcome Attempt(const ActionSpec& spec, const ActionRun& run, const nlohmann::json& req,
                        const AttemptContext& attempt) const override {
    const WebhookSpec& w = spec.webhook;
    if (w.preset.empty() || !w.follow.enabled) return Perform(spec, run, req);
    std::string job_id = run.job_id, job_url = run.job_url;
    if (job_id.empty() || job_url.empty()) {  // not launched yet (or not recorded): launch
      ActionOutcome launch = Perform(spec, run, req);
      if (!launch.ok) return launch;
      const nlohmann::json answer = nlohmann::json::parse(launch.output, nullptr, false);
      job_id = FieldText(answer, w.follow.id_field);
      job_url = JobUrl(w, JsonString(req, "url"), job_id);
      if (job_id.empty() || job_url.empty()) {
        ActionOutcome o;
        o.permanent = true;  // launched, but there is nothing to follow: a person looks
        o.output = std::move(launch.output);
        o.error = job_id.empty() ? "the launch was accepted but its answer holds no job id at '" +
                                       w.follow.id_field + "'; the job was not followed"
                                 : "cannot tell where to read the status of job " + job_id +
                                       " from the launch URL; the job was not followed";
        return o;
      }
      if (attempt.job_started) attempt.job_started(job_id, job_url);
    }
    return Follow(spec, req, job_id, job_url, attempt);
  }

 private:
  // Reads the job's status every poll_interval until it is one of succeeded / failed, the
  // follow timeout passes (a failure) or the executor stops (interrupted).
  ActionOutcome Follow(const ActionSpec& spec, const nlohmann::json& req, const std::string& job_id,
                       const std::string& job_url, const AttemptContext& attempt) const {
    const WebhookSpec& w = spec.webhook;
    const FollowSpec& f = w.follow;
    const std::string job = "job " + job_id + " (" + job_url + ")";
    ActionOutcome o;
    std::string token;
    if (!ReadToken(w, &token, &o.error)) {
      o.permanent = true;
      o.error = "cannot read the status of " + job + ": " + o.error;
      return o;
    }
    HttpRequest hr;
    hr.method = "GET";
    hr.url = WithUrlSecrets(job_url, w);
    hr.max_response_bytes = w.max_response_bytes;
    hr.headers.emplace_back("Accept", "application/json");
    for (const auto& h : JsonStringPairs(req, "headers")) {
      if (strcasecmp(h.first.c_str(), "Content-Type") != 0) hr.headers.push_back(h);
    }
    if (!token.empty()) hr.headers.emplace_back("Authorization", w.auth_scheme + " " + token);
    const base::SecretList secrets = RequestSecrets(hr);

    static const base::StopSignal kNeverStopped;
    const base::StopSignal& stop = attempt.stop != nullptr ? *attempt.stop : kNeverStopped;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(f.timeout_ms);
    std::string last_status = "unknown", last_problem;
    // Bounded: every pass either returns or waits until the deadline comes closer.
    while (true) {
      if (stop.stopped()) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      hr.timeout_ms = std::max<int64_t>(1, std::min<int64_t>(spec.timeout_ms, left));
      auto resp = HttpSend(hr);
      if (!resp.ok()) {
        last_problem = resp.status().message();  // down for a moment: read again later
      } else if (resp->status < 200 || resp->status >= 300) {
        last_problem = "HTTP " + std::to_string(resp->status);
        if (!base::IsRetryableHttpStatus(resp->status)) {  // 401, 404: reading again won't help
          o.permanent = true;
          o.output = base::RedactSecrets(resp->body, secrets);
          o.error = "cannot read the status of " + job + ": " + last_problem;
          return o;
        }
      } else {
        const nlohmann::json answer = nlohmann::json::parse(resp->body, nullptr, false);
        const std::string status = FieldText(answer, f.status_field);
        if (status.empty()) {
          last_problem = "the answer holds no status at '" + f.status_field + "'";
        } else {
          last_status = status;
          last_problem.clear();
          if (Contains(f.succeeded, status) || Contains(f.failed, status)) {
            o.output = base::RedactSecrets(resp->body, secrets);
            if (Contains(f.succeeded, status)) {
              o.ok = true;
            } else {
              o.permanent = true;  // the job ran and failed: launching it again is for a person
              o.error = job + " finished with status '" + status + "'";
            }
            return o;
          }
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        o.permanent = true;
        o.error = job + " still running after " + DurationText(f.timeout_ms) + " (last status '" +
                  last_status + "'" + (last_problem.empty() ? "" : ", last read: " + last_problem) +
                  ")";
        return o;
      }
      const auto wait = std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(f.poll_interval_ms), deadline - now);
      if (stop.WaitFor(wait)) break;
    }
    o.interrupted = true;
    o.error = "stopped while following " + job + " (last status '" + last_status +
              "'); the next start follows it again";
    return o;
  }
};

}  // namespace

std::unique_ptr<ActionDriver> NewWebhookDriver() { return std::make_unique<WebhookDriver>(); }

}  // namespace reflex::actions
