// HttpSend: one blocking HTTP request over libcurl, for webhook actions and notifiers.
//
// Any HTTP status the server answers (200, 404, 500, ...) is a response, not an error; a
// non-OK Status means the request never got an answer: connection refused, DNS failure,
// TLS failure, timeout (all kUnavailable, with curl's reason), or a request that cannot be
// made at all (kInvalidArgument: empty or malformed URL). Redirects are not followed, proxy
// settings from the environment are ignored, and no signals are used (safe in threads).
// The response body is kept up to `max_response_bytes`; past that the transfer is stopped
// (the status is still reported) and `truncated` says so. Error messages name the URL through
// base::RedactUrl and never hold its userinfo, its query or a secret header's value
// (base/redact.h); RequestSecrets lists those for callers that quote a response.
//
// Thread-safety: HttpSend may be called from any number of threads at once; each call
// uses its own curl handle. curl_global_init runs once, on the first call.
//
//   HttpRequest req;
//   req.url = "http://127.0.0.1:8080/hook";
//   req.headers = {{"Content-Type", "application/json"}};
//   req.body = R"({"text":"disk full"})";
//   Result<HttpResponse> r = HttpSend(req);
//   if (r.ok() && r->status / 100 == 2) ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reflex/base/redact.h"
#include "reflex/engine/status.h"

namespace reflex::actions {

struct HttpRequest {
  // GET, POST, PUT, PATCH, DELETE, ... Default: POST.
  std::string method = "POST";
  // REQUIRES: http:// or https:// URL.
  std::string url;
  // Sent as given, in order ("Content-Type", "application/json").
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as the request body when non-empty (or when the method is POST/PUT/PATCH).
  std::string body;
  // Whole-request deadline, connect included. Default: 10 s. Values < 1 are taken as 1.
  int64_t timeout_ms = 10000;
  // Body bytes kept in HttpResponse::body. Default: 64 KiB.
  size_t max_response_bytes = 64 * 1024;
};

struct HttpResponse {
  long status = 0;         // HTTP status code
  std::string body;        // at most max_response_bytes
  bool truncated = false;  // the server sent more than max_response_bytes
};

// The secrets `request` carries: its URL's userinfo and query (base::UrlSecrets) and the
// values of its secret headers (base::IsSecretHeader), for base::RedactSecrets.
base::SecretList RequestSecrets(const HttpRequest& request);

// Sends the request and waits for the answer (or the timeout).
engine::Result<HttpResponse> HttpSend(const HttpRequest& request);

}  // namespace reflex::actions
