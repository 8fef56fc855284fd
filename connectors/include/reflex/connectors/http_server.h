// HttpServer: the webhook ingest endpoint of `reflex run` (cpp-httplib), plus /metrics and
// health probes.
//
//   POST /v1/events[?source=NAME]  one JSON object, a JSON array of objects, or JSON Lines;
//                                  each document goes through the source's Mapping (the
//                                  pass-through event mapping without ?source=).
//   POST /v1/alertmanager          an Alertmanager webhook payload (version 4).
//   GET  /metrics                  Prometheus text format of the Metrics registry.
//   GET  /healthz                  200 while serving.
//   GET  /readyz                   200 when the readiness callback returns OK, else 503.
//   POST   /api/v2/silences        Alertmanager's API v2 (so amtool and other Alertmanager
//   GET    /api/v2/silences        clients work): add (a PostableSilence; 200
//   DELETE /api/v2/silence/{id}    {"silenceID":"..."}), list (GettableSilences), expire.
//                                  400 with the reason for a bad body or silence, 404 for an
//                                  unknown id, 409 for one already expired; these need the
//                                  same credentials as the webhook; 404 when no SilenceApi.
//   *      /api/v1/...             the REST API (HttpRoutes::api; its own bearer tokens and
//                                  roles, docs/api.md); 404 when there is none.
//   GET    /console/...            the web console's files (HttpRoutes::console), with a
//                                  Content-Security-Policy that allows this origin only;
//                                  GET / and /console redirect there. 404 without one.
//
// Delivery promise: the mapped events of one request go to the IngestSink in one call, and
// the answer is 202 {"accepted":N} only when the sink returned OK. A sink failure answers 503
// {"error":...} (the client retries); a bad request answers 400 and hands nothing to the
// sink (all or nothing). 401: missing or wrong bearer token / HMAC signature or a timestamp
// outside hmac_tolerance; 413: body larger than max_body_bytes; 415: a content type that is
// not JSON or text, or a Content-Encoding other than gzip, deflate, br.
//
// HMAC: X-Reflex-Signature: sha256=<hex> is the HMAC-SHA256, keyed with the secret, of the
// text "<t>.<body>": t is the X-Reflex-Timestamp header exactly as sent (Unix seconds, which
// must be within hmac_tolerance of the server's clock), then a dot, then the body bytes
// (after any Content-Encoding is undone). A captured request replays only within the
// tolerance.
//
// Resource bounds (untrusted clients):
//  - What the headers decide (credentials, Content-Length over the limit, content type and
//    encoding, the HMAC timestamp) is answered before any of the body is read; the
//    connection is then closed.
//  - A body is counted as it is decoded (chunked, gzip, deflate, br) and refused with 413
//    as soon as it passes max_body_bytes; nothing larger is ever buffered. The request line
//    and headers may take 64 KiB (431 above).
//  - Each request must arrive within request_timeout (408 and the connection is closed),
//    however slowly its bytes trickle in; an idle keep-alive connection is closed after 2 s.
//  - At most max_connections connections are open at once, each served on its own thread;
//    a connection over the cap is answered 503 (Retry-After: 1) at once and closed, so slow
//    clients cannot queue others behind them.
//
// Thread-safety: Start() and Stop() from one owning thread; requests are served on up to
// max_connections threads, so the sink, the readiness callback and the mappings are called
// concurrently. The sink and the metrics must outlive the server.
//
//   HttpConfig http;                   // from the run config
//   http.listen.port = 0;              // any free port
//   auto server = HttpServer::Create(http, HttpRoutes{}, &sink, &metrics);
//   if (Status s = (*server)->Start(); !s.ok()) ...
//   int port = (*server)->port();
//   (*server)->Stop();
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "reflex/connectors/config.h"
#include "reflex/connectors/mapping.h"
#include "reflex/connectors/metrics.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/silence.h"
#include "reflex/engine/status.h"

namespace httplib {
class Server;
class Request;
class Response;
class ContentReader;
}  // namespace httplib

namespace reflex::connectors {

// Receives the mapped events of one request. Implemented by the run loop: it produces them
// to the input topic and returns OK only once the broker acknowledged every one. Called
// concurrently from the server's worker threads.
class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // `source`: "http" for /v1/events, the ?source= name, or "alertmanager".
  virtual engine::Status Accept(std::string_view source, std::vector<std::string>&& events) = 0;
};

// The silences behind /api/v2/silences (the run mode implements it over its SilenceStore and
// publishes each change at once). Called concurrently from the server's worker threads.
// Errors: kInvalidArgument (400), kNotFound (404), kFailedPrecondition (409), else 503.
class SilenceApi {
 public:
  virtual ~SilenceApi() = default;
  virtual engine::Result<std::string> Add(engine::Silence silence) = 0;  // the new id
  virtual engine::Result<std::vector<engine::Silence>> List() = 0;
  virtual engine::Status Expire(const std::string& id) = 0;
  // The time silences' states are shown at.
  virtual int64_t NowMillis() const = 0;
};

// One request to the REST API under /api/v1 (docs/api.md), as the server hands it over: the
// body is read already (at most max_body_bytes), the query parameters decoded.
struct ApiRequest {
  std::string method;  // GET, POST, PUT, DELETE
  std::string path;    // e.g. /api/v1/escalations/12
  std::multimap<std::string, std::string> params;
  std::string authorization;  // the Authorization header as sent ("" when absent)
  std::string body;
};
struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  // The route it matched, e.g. "/api/v1/escalations/{id}" (the metrics' path label, bounded);
  // "" for none.
  std::string route;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};
// Serves /api/v1/* (implemented by api/rest_api.h). Called concurrently from the server's
// worker threads; must outlive the server.
class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  virtual ApiResponse Handle(const ApiRequest& request) = 0;
};

// What the server routes besides its HttpConfig: named source mappings, the Alertmanager
// mapping and the readiness probe.
// A file served as it is (the console's).
struct StaticFile {
  std::string_view content_type;
  std::string_view body;
};

struct HttpRoutes {
  // Named mappings for POST /v1/events?source=NAME.
  std::map<std::string, Mapping> sources;
  // Mapping of POST /v1/alertmanager. Default: kind alertmanager.
  Mapping alertmanager = Mapping::OfKind(MappingKind::kAlertmanager);
  // Readiness: OK when ready; otherwise /readyz answers 503 with the status message.
  // Called on worker threads. Default (empty): always ready.
  std::function<engine::Status()> readiness;
  // The clock X-Reflex-Timestamp is checked against. Default (null): the system clock.
  std::shared_ptr<const engine::Clock> clock;
  // The caps every event must keep to (the run config's processing.max_*): an event over
  // them is a 400, as the pipeline would dead-letter it. Default: EventLimits{}.
  engine::EventLimits limits;
  // The silences API; null: /api/v2/* answers 404. Must outlive the server.
  SilenceApi* silences = nullptr;
  // Told of each silence added or expired through /api/v2 (for the audit log), on the
  // request's thread, after the change: `action` is "silence.add" or "silence.expire", `id`
  // the silence's, `silence` its GettableSilence JSON after the change ("" if unreadable).
  std::function<void(std::string_view action, const std::string& id, const std::string& silence)>
      on_silence_change;
  // The REST API; null: /api/v1/* answers 404. Must outlive the server.
  ApiHandler* api = nullptr;
  // The web console's files by path under /console/ ("" is the index); nullopt is a 404.
  // Empty: no console (/ and /console/* answer 404). Called on worker threads.
  std::function<std::optional<StaticFile>(std::string_view path)> console;
};

class HttpServer {
 public:
  // Takes the run config's `http` section as it is (config.h: listen address, token, HMAC
  // secret, threads, body limit) and checks it. `sink` is required; `metrics` may be null
  // (then /metrics is 404 and nothing is counted). Both must outlive the server.
  [[nodiscard]] static engine::Result<std::unique_ptr<HttpServer>> Create(HttpConfig config,
                                                                          HttpRoutes routes,
                                                                          IngestSink* sink,
                                                                          Metrics* metrics);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving on a listener thread. Fails (Unavailable) when the address
  // cannot be bound. REQUIRES: not started before.
  [[nodiscard]] engine::Status Start();
  // Stops accepting, answers the requests being handled, drops those still arriving (no
  // answer: the client retries) and joins the listener, within about 100 ms plus the
  // longest handler. Safe to call twice, and without Start().
  void Stop();

  // The bound port (after a successful Start), else 0.
  int port() const { return port_; }

  // What an ingest endpoint does with a body: SplitDocuments, then `mapping` over each
  // document; appends the events the sink would get, or returns the 400 reason (naming the
  // index or line) and appends nothing.
  [[nodiscard]] engine::Status MapBody(const Mapping& mapping, std::string_view body,
                                       std::vector<std::string>* events) const;

 private:
  HttpServer(HttpConfig config, HttpRoutes routes, IngestSink* sink, Metrics* metrics);
  // Checks a POST to /v1/* and reads its body (at most max_body_bytes once decoded).
  void Ingest(const httplib::Request& req, httplib::Response& res,
              const httplib::ContentReader& reader, const Mapping& mapping,
              std::string_view source) const;
  // What the headers alone decide, before any of the body is read: credentials (401), the
  // announced size (413), the content type and encoding (415). False with the answer in
  // `res`.
  bool Admit(const httplib::Request& req, httplib::Response& res) const;
  // Empty when the token, the signature's form and the timestamp are good, else the reason.
  std::string CheckAuthHeaders(const httplib::Request& req) const;
  // Empty when X-Reflex-Signature is the HMAC of "<timestamp>.<body>" (or no HMAC secret).
  std::string CheckSignature(const httplib::Request& req, std::string_view body) const;
  std::string TimeoutMessage() const;
  // The /api/v2 silences routes.
  void AddSilenceRoutes();
  void AddConsoleRoutes();
  void SilenceChanged(std::string_view action, const std::string& id);  // on_silence_change
  // The /api/v1 routes, handed to HttpRoutes::api.
  void AddApiRoutes();
  // "body exceeds the limit of N bytes", naming the encoding it was counted after.
  std::string BodyLimitMessage(std::string_view encoding) const;

  HttpConfig config_;
  HttpRoutes routes_;
  IngestSink* sink_;
  Metrics* metrics_;
  Mapping events_mapping_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  bool started_ = false;
  int port_ = 0;
};

}  // namespace reflex::connectors
