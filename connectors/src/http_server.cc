#include "reflex/connectors/http_server.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <nlohmann/json.hpp>
#include <utility>

namespace reflex::connectors {

using engine::InvalidArgument;
using engine::Result;
using engine::Status;
using engine::StatusCode;

namespace {

constexpr const char* kEventsPath = "/v1/events";
constexpr const char* kAlertmanagerPath = "/v1/alertmanager";
constexpr const char* kJson = "application/json";

// Path label of reflex_http_requests_total: the route, or "other" (scanners must not grow
// the label set).
std::string_view PathLabel(const std::string& path) {
  for (std::string_view p : {"/v1/events", "/v1/alertmanager", "/metrics", "/healthz", "/readyz"}) {
    if (path == p) return p;
  }
  return "other";
}

std::string ErrorJson(std::string_view message) {
  nlohmann::json j;
  j["error"] = message;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// JSON and JSON Lines in their usual spellings, text, or none at all.
bool AcceptedContentType(std::string_view header) {
  std::string t = Lower(header.substr(0, header.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  if (t.empty()) return true;
  static const char* const kTypes[] = {"application/json",
                                       "application/x-ndjson",
                                       "application/ndjson",
                                       "application/jsonl",
                                       "application/x-jsonlines",
                                       "application/jsonlines",
                                       "application/json-lines",
                                       "application/x-json-stream",
                                       "text/plain",
                                       "text/json",
                                       "application/x-json"};
  for (const char* k : kTypes) {
    if (t == k) return true;
  }
  return t.size() > 5 && t.compare(t.size() - 5, 5, "+json") == 0;
}

bool Sha256(std::string_view data, unsigned char out[32]) {
  unsigned int len = 0;
  return EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) == 1 && len == 32;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void Reply(httplib::Response& res, int code, std::string body, const char* type = kJson) {
  res.status = code;
  res.set_content(std::move(body), type);
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Create(HttpConfig config, HttpRoutes routes,
                                                       IngestSink* sink, Metrics* metrics) {
  if (sink == nullptr) return InvalidArgument("http server: an ingest sink is required");
  if (config.threads < 1) {
    return InvalidArgument("http server: threads must be at least 1, got " +
                           std::to_string(config.threads));
  }
  if (config.listen.port < 0 || config.listen.port > 65535) {
    return InvalidArgument("http server: port must be 0-65535, got " +
                           std::to_string(config.listen.port));
  }
  if (config.max_body_bytes <= 0) {
    return InvalidArgument("http server: max_body_bytes must be positive");
  }
  if (config.listen.host.empty()) return InvalidArgument("http server: empty bind address");
  return std::unique_ptr<HttpServer>(
      new HttpServer(std::move(config), std::move(routes), sink, metrics));
}

HttpServer::HttpServer(HttpConfig config, HttpRoutes routes, IngestSink* sink, Metrics* metrics)
    : config_(std::move(config)),
      routes_(std::move(routes)),
      sink_(sink),
      metrics_(metrics),
      server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  const int threads = config_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(static_cast<size_t>(config_.max_body_bytes));
  s.set_keep_alive_timeout(2);  // bounds how long Stop() waits for an idle keep-alive client
  // httplib's default adds SO_REUSEPORT, which lets a second process bind the same port and
  // silently take half the webhooks; keep only SO_REUSEADDR (fast restart after TIME_WAIT).
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });  // bounds how long Stop() waits for an idle keep-alive client

  auto count = [this](const httplib::Request& req, const httplib::Response& res) {
    if (metrics_ != nullptr) metrics_->HttpRequests(PathLabel(req.path), res.status).Increment();
  };

  s.Post(kEventsPath, [this, count](const httplib::Request& req, httplib::Response& res) {
    const Mapping* mapping = &events_mapping_;
    std::string source = "http";
    if (req.has_param("source")) {
      source = req.get_param_value("source");
      auto it = routes_.sources.find(source);
      if (it == routes_.sources.end()) {
        std::string known;
        for (const auto& [name, m] : routes_.sources) known += (known.empty() ? "" : ", ") + name;
        Reply(res, 400,
              ErrorJson("unknown source '" + source + "'; known sources: " +
                        (known.empty() ? std::string("none configured") : known)));
        count(req, res);
        return;
      }
      mapping = &it->second;
    }
    Ingest(req, res, *mapping, source);
    count(req, res);
  });
  s.Post(kAlertmanagerPath, [this, count](const httplib::Request& req, httplib::Response& res) {
    Ingest(req, res, routes_.alertmanager, "alertmanager");
    count(req, res);
  });
  s.Get("/metrics", [this, count](const httplib::Request& req, httplib::Response& res) {
    if (metrics_ == nullptr) {
      Reply(res, 404, ErrorJson("metrics are not enabled"));
    } else {
      // Counted before serializing, so a scrape shows itself.
      res.status = 200;
      count(req, res);
      Reply(res, 200, metrics_->Serialize(), "text/plain; version=0.0.4; charset=utf-8");
      return;
    }
    count(req, res);
  });
  s.Get("/healthz", [count](const httplib::Request& req, httplib::Response& res) {
    Reply(res, 200, "ok\n", "text/plain");
    count(req, res);
  });
  s.Get("/readyz", [this, count](const httplib::Request& req, httplib::Response& res) {
    Status ready = routes_.readiness ? routes_.readiness() : Status::Ok();
    if (ready.ok()) {
      Reply(res, 200, "ready\n", "text/plain");
    } else {
      Reply(res, 503, ErrorJson(ready.message()));
    }
    count(req, res);
  });
  // Errors httplib produces itself (404, 413, a bad request line) reach here with no body;
  // ours already carry a JSON body and were counted by their handler.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [this, count](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message;
        switch (res.status) {
          case 404:
            message = "no such endpoint: " + req.method + " " + req.path;
            break;
          case 413:
            message =
                "body exceeds the limit of " + std::to_string(config_.max_body_bytes) + " bytes";
            break;
          default:
            message = "request failed with status " + std::to_string(res.status);
        }
        res.set_content(ErrorJson(message), kJson);
        count(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  if (started_) return Status(StatusCode::kFailedPrecondition, "http server: already started");
  int port = config_.listen.port;
  if (port == 0) {
    port = server_->bind_to_any_port(config_.listen.host);
    if (port <= 0) port = -1;
  } else if (!server_->bind_to_port(config_.listen.host, port)) {
    port = -1;
  }
  if (port < 0) {
    return Status(StatusCode::kUnavailable, "http server: cannot listen on " + config_.listen.host +
                                                ":" + std::to_string(config_.listen.port) +
                                                " (address in use or not local?)");
  }
  port_ = port;
  started_ = true;
  listener_done_ = false;
  listener_ = std::thread([this] {
    server_->listen_after_bind();
    listener_done_ = true;
  });
  // The socket listens already (connections queue in its backlog); wait until the accept
  // loop runs so that Stop() can end it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && !listener_done_ && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!started_) return;
  started_ = false;
  // stop() only takes effect once the accept loop runs; repeat until the listener is done.
  for (int i = 0; i < 3000 && !listener_done_; ++i) {
    server_->stop();
    if (listener_done_) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (listener_.joinable()) listener_.join();
  port_ = 0;
}

std::string HttpServer::CheckAuth(const httplib::Request& req) const {
  if (!config_.token.empty()) {
    const std::string header = req.get_header_value("Authorization");
    if (header.empty()) return "missing Authorization: Bearer token";
    if (header.size() < 7 || Lower(header.substr(0, 7)) != "bearer ") {
      return "Authorization: expected the Bearer scheme";
    }
    // Compare digests, so the time taken tells nothing about the token (not even its length).
    unsigned char want[32], got[32];
    if (!Sha256(config_.token, want) || !Sha256(std::string_view(header).substr(7), got) ||
        CRYPTO_memcmp(want, got, sizeof(want)) != 0) {
      return "wrong bearer token";
    }
  }
  if (!config_.hmac_secret.empty()) {
    const std::string header = req.get_header_value("X-Reflex-Signature");
    if (header.empty()) return "missing X-Reflex-Signature";
    constexpr std::string_view kPrefix = "sha256=";
    if (header.size() != kPrefix.size() + 64 ||
        Lower(header.substr(0, kPrefix.size())) != kPrefix) {
      return "X-Reflex-Signature: expected sha256=<64 hex digits>";
    }
    unsigned char got[32];
    for (size_t i = 0; i < 32; ++i) {
      const int hi = HexValue(header[kPrefix.size() + 2 * i]);
      const int lo = HexValue(header[kPrefix.size() + 2 * i + 1]);
      if (hi < 0 || lo < 0) return "X-Reflex-Signature: expected sha256=<64 hex digits>";
      got[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    unsigned char want[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), config_.hmac_secret.data(), static_cast<int>(config_.hmac_secret.size()),
             reinterpret_cast<const unsigned char*>(req.body.data()), req.body.size(), want,
             &len) == nullptr ||
        len != 32 || CRYPTO_memcmp(want, got, 32) != 0) {
      return "wrong signature";
    }
  }
  return {};
}

Status HttpServer::MapBody(const Mapping& mapping, std::string_view body,
                           std::vector<std::string>* events) const {
  std::vector<std::string> docs, where;
  if (Status s = SplitDocuments(body, &docs, &where); !s.ok()) return s;
  std::vector<std::string> out;
  out.reserve(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    Status s = mapping.Map(docs[i], &out, routes_.limits);
    // Pass-through events are checked here (the mapping does not look at them): a bad one
    // is a 400 for the client to fix, not a dead letter it never hears of.
    if (s.ok() && mapping.passthrough()) s = ValidateEvent(out.back(), routes_.limits);
    if (!s.ok()) {
      return InvalidArgument(where[i].empty() ? s.message() : where[i] + ": " + s.message());
    }
  }
  for (auto& e : out) events->push_back(std::move(e));
  return Status::Ok();
}

void HttpServer::Ingest(const httplib::Request& req, httplib::Response& res, const Mapping& mapping,
                        std::string_view source) const {
  if (std::string why = CheckAuth(req); !why.empty()) {
    if (!config_.token.empty()) res.set_header("WWW-Authenticate", "Bearer");
    Reply(res, 401, ErrorJson(why));
    return;
  }
  if (const std::string type = req.get_header_value("Content-Type"); !AcceptedContentType(type)) {
    Reply(res, 415,
          ErrorJson("unsupported content type '" + type +
                    "'; send application/json or application/x-ndjson"));
    return;
  }
  std::vector<std::string> events;
  if (Status s = MapBody(mapping, req.body, &events); !s.ok()) {
    Reply(res, 400, ErrorJson(s.message()));
    return;
  }
  const size_t n = events.size();
  if (n > 0) {
    if (Status s = sink_->Accept(source, std::move(events)); !s.ok()) {
      res.set_header("Retry-After", "1");
      Reply(res, 503, ErrorJson("not accepted, retry: " + s.message()));
      return;
    }
  }
  Reply(res, 202, "{\"accepted\":" + std::to_string(n) + "}");
}

}  // namespace reflex::connectors
