// HttpSend on libcurl's easy interface: one handle per call.
#include "reflex/actions/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "reflex/base/redact.h"

namespace reflex::actions {
namespace {

using engine::Result;
using engine::Status;
using engine::StatusCode;

Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  std::string* body;
  size_t limit;
  bool truncated = false;
};

size_t WriteBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  size_t n = size * count;
  size_t room = sink->limit - std::min(sink->limit, sink->body->size());
  if (n > room) {
    sink->body->append(data, room);
    sink->truncated = true;
    return 0;  // stop the transfer: curl reports CURLE_WRITE_ERROR, which we expect
  }
  sink->body->append(data, n);
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
// Owns a curl header list.
struct HeaderList {
  curl_slist* head = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(head); }
  bool Append(const std::string& line) {
    curl_slist* next = curl_slist_append(head, line.c_str());
    if (next == nullptr) return false;
    head = next;
    return true;
  }
};

}  // namespace

base::SecretList RequestSecrets(const HttpRequest& request) {
  base::SecretList secrets = base::UrlSecrets(request.url);
  for (const auto& [name, value] : request.headers) {
    if (!base::IsSecretHeader(name)) continue;
    for (auto& s : base::HeaderSecrets(value)) secrets.push_back(std::move(s));
  }
  return secrets;
}

Result<HttpResponse> HttpSend(const HttpRequest& request) {
  if (request.url.empty()) return engine::InvalidArgument("HTTP request without a URL");
  if (request.method.empty() || request.method.find_first_of(" \t\r\n") != std::string::npos) {
    return engine::InvalidArgument("bad HTTP method '" + request.method + "'");
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || name.find_first_of(":\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return engine::InvalidArgument("bad HTTP header '" + name + "'");
    }
  }
  GlobalInitOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return engine::Internal("curl_easy_init failed");
  CURL* c = curl.get();

  HttpResponse response;
  Sink sink{&response.body, request.max_response_bytes};
  char error[CURL_ERROR_SIZE] = {};
  const long timeout_ms = static_cast<long>(std::clamp<int64_t>(request.timeout_ms, 1, 1LL << 30));

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  // no proxy from the environment
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "reflex/0.1");

  const std::string& m = request.method;
  const bool has_body = !request.body.empty() || m == "POST" || m == "PUT" || m == "PATCH";
  if (m == "GET" && request.body.empty()) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (m == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    if (has_body) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
    }
    if (m != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m.c_str());
  }

  HeaderList list;
  auto append = [&list](const std::string& line) { return list.Append(line); };
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    if (curl_strequal(name.c_str(), "Content-Type")) has_content_type = true;
    // "Name;" sends a header with an empty value; "Name:" would remove it.
    if (!append(value.empty() ? name + ";" : name + ": " + value)) {
      return engine::Internal("out of memory building HTTP headers");
    }
  }
  if (has_body && !has_content_type && !append("Content-Type: application/octet-stream")) {
    return engine::Internal("out of memory building HTTP headers");
  }
  if (!append("Expect:")) return engine::Internal("out of memory building HTTP headers");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.head);

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && sink.truncated)) {
    const std::string reason = base::RedactSecrets(
        error[0] != '\0' ? std::string(error) : curl_easy_strerror(rc), RequestSecrets(request));
    const std::string url = base::RedactUrl(request.url);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return engine::InvalidArgument(url + ": " + reason);
    }
    return Unavailable(m + " " + url + ": " + reason);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  response.truncated = sink.truncated;
  return response;
}

}  // namespace reflex::actions
