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
//
// Delivery promise: the mapped events of one request go to the IngestSink in one call, and
// the answer is 202 {"accepted":N} only when the sink returned OK. A sink failure answers 503
// {"error":...} (the client retries); a bad request answers 400 and hands nothing to the
// sink (all or nothing). 401: missing or wrong bearer token / HMAC signature; 413: body
// larger than max_body_bytes; 415: a content type that is not JSON or text.
//
// Thread-safety: Start() and Stop() from one owning thread; requests are served on
// `threads` worker threads, so the sink, the readiness callback and the mappings are called
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
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "reflex/connectors/config.h"
#include "reflex/connectors/mapping.h"
#include "reflex/connectors/metrics.h"
#include "reflex/engine/status.h"

namespace httplib {
class Server;
class Request;
class Response;
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

// What the server routes besides its HttpConfig: named source mappings, the Alertmanager
// mapping and the readiness probe.
struct HttpRoutes {
  // Named mappings for POST /v1/events?source=NAME.
  std::map<std::string, Mapping> sources;
  // Mapping of POST /v1/alertmanager. Default: kind alertmanager.
  Mapping alertmanager = Mapping::OfKind(MappingKind::kAlertmanager);
  // Readiness: OK when ready; otherwise /readyz answers 503 with the status message.
  // Called on worker threads. Default (empty): always ready.
  std::function<engine::Status()> readiness;
  // The caps every event must keep to (the run config's processing.max_*): an event over
  // them is a 400, as the pipeline would dead-letter it. Default: EventLimits{}.
  engine::EventLimits limits;
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
  // Stops accepting, finishes requests in flight and joins the listener. Safe to call twice,
  // and without Start().
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
  void Ingest(const httplib::Request& req, httplib::Response& res, const Mapping& mapping,
              std::string_view source) const;
  // Empty when the request's credentials are good, else the reason.
  std::string CheckAuth(const httplib::Request& req) const;

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
