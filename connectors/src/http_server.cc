#include "reflex/connectors/http_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "reflex/base/config_schema.h"
#include "reflex/base/thread_annotations.h"

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
  for (std::string_view p :
       {"/v1/events", "/v1/alertmanager", "/metrics", "/healthz", "/readyz", "/api/v2/silences"}) {
    if (path == p) return p;
  }
  if (path.rfind("/api/v2/silence/", 0) == 0) return "/api/v2/silence/{id}";
  if (path == "/" || path.rfind("/console", 0) == 0) return "/console/";
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

// Request line and headers, as sent, may take this many bytes.
constexpr int64_t kHeaderBytes = 64 << 10;
// After an answer given without reading the whole body, the server reads (and drops) what
// the client still sends for this long, at most this much, before it closes: the client
// then sees the answer instead of a reset while it is still sending.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr int64_t kLingerBytes = 1 << 20;
// A blocked read or write looks this often whether the server is stopping.
constexpr auto kPollSlice = std::chrono::milliseconds(100);

using SteadyClock = std::chrono::steady_clock;

// What the reading of the current request on one connection found, and what its handlers
// ask of the connection. One per connection, used only on the connection's thread.
struct ConnectionState {
  int64_t read = 0;           // bytes of this request handed to httplib so far
  int64_t limit = 0;          // bytes this request may have, as sent
  bool headers_done = false;  // the request line and headers are in: the body comes next
  bool timed_out = false;     // request_timeout passed while reading it
  bool too_large = false;     // it went past `limit`
  bool close = false;         // close after the answer (the body was not read to its end)

  void NewRequest() {
    read = 0;
    limit = kHeaderBytes;
    headers_done = timed_out = too_large = close = false;
  }
};

// The connection the calling thread serves (null on other threads). httplib calls the
// handlers of a request on the thread that reads it, so they find its state here.
thread_local ConnectionState* t_connection = nullptr;
// True on the thread that answers connections over max_connections.
thread_local bool t_refusing = false;

// One connection's socket as httplib reads and writes it, with the request's deadline and
// byte budget. Reads are buffered across requests (a pipelined request is kept).
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(socket_t sock, ConnectionState* state, const std::atomic<socket_t>& listener)
      : sock_(sock), state_(state), listener_(listener) {}

  // Starts a request: reading it must end by `read_deadline`; writing its answer may take
  // `write_time` from the first byte written.
  void StartRequest(SteadyClock::time_point read_deadline, std::chrono::milliseconds write_time) {
    read_deadline_ = read_deadline;
    write_time_ = write_time;
    write_deadline_.reset();
  }
  bool buffered() const { return off_ < len_; }
  // Waits until the socket is readable; false at `deadline`, on error or when the server
  // stops.
  bool WaitReadable(SteadyClock::time_point deadline) const { return Wait(POLLIN, deadline); }

  bool is_readable() const override { return buffered() || Wait(POLLIN, SteadyClock::now()); }
  bool is_writable() const override { return Wait(POLLOUT, SteadyClock::now(), false); }

  ssize_t read(char* ptr, size_t size) override {
    if (state_->read >= state_->limit) {
      state_->too_large = true;
      return -1;
    }
    if (!buffered()) {
      if (!Wait(POLLIN, read_deadline_)) {
        if (SteadyClock::now() >= read_deadline_) state_->timed_out = true;
        return -1;
      }
      ssize_t n;
      do {
        n = ::recv(sock_, buf_, sizeof(buf_), 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      off_ = 0;
      len_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, len_ - off_);
    std::memcpy(ptr, buf_ + off_, n);
    off_ += n;
    state_->read += static_cast<int64_t>(n);
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!write_deadline_) write_deadline_ = SteadyClock::now() + write_time_;
    // An answer is written even while the server stops: the request was handled.
    if (!Wait(POLLOUT, *write_deadline_, /*until_stop=*/false)) return -1;
    ssize_t n;
    do {
      n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(::getsockname, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  // Waits for `events` until `deadline`; with `until_stop`, also ends when the server stops.
  bool Wait(short events, SteadyClock::time_point deadline, bool until_stop = true) const {
    for (;;) {
      if (until_stop && listener_ == INVALID_SOCKET) return false;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - SteadyClock::now());
      pollfd p{sock_, events, 0};
      const int r = ::poll(&p, 1,
                           static_cast<int>(std::clamp(left, std::chrono::milliseconds(0),
                                                       std::chrono::milliseconds(kPollSlice))
                                                .count()));
      if (r > 0) return true;  // ready, or an error / hang-up the next call reports
      if (r < 0 && errno != EINTR) return false;
      if (r == 0 && left.count() <= 0) return false;  // the deadline has passed
    }
  }
  template <typename F>
  void Address(F name_of, std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (name_of(sock_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
      inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
      port = ntohs(a->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
      port = ntohs(a->sin6_port);
    }
    ip = text;
  }

  socket_t sock_;
  ConnectionState* state_;
  const std::atomic<socket_t>& listener_;
  SteadyClock::time_point read_deadline_;
  std::chrono::milliseconds write_time_{0};
  std::optional<SteadyClock::time_point> write_deadline_;
  char buf_[16 << 10];
  size_t off_ = 0;
  size_t len_ = 0;
};

// httplib's task queue, one task per accepted connection: up to `cap` connections are
// served at once, each on a thread of its own (threads are started as needed and kept);
// a connection over the cap goes at once to the refusal thread (t_refusing), which answers
// it 503. Nothing waits in a queue behind a slow client.
class ConnectionQueue final : public httplib::TaskQueue {
 public:
  explicit ConnectionQueue(size_t cap) : cap_(cap) {
    refuser_ = std::thread([this] {
      t_refusing = true;
      Run(/*admitted=*/false);
    });
  }
  ~ConnectionQueue() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    base::MutexLock lock(mu_);
    if (admitted_ < cap_) {
      ++admitted_;
      jobs_.push_back(std::move(fn));
      if (jobs_.size() > idle_ && workers_.size() < cap_) {
        workers_.emplace_back([this] { Run(/*admitted=*/true); });
      }
    } else {
      refusals_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }

  // Runs what was queued, then joins every thread.
  void shutdown() override {
    {
      base::MutexLock lock(mu_);
      if (stop_) return;
      stop_ = true;
      cv_.notify_all();
    }
    // No thread is added once stop_ is set.
    for (auto& t : workers_) t.join();
    refuser_.join();
  }

 private:
  // Serves admitted connections, or (the refusal thread) those over the cap.
  void Run(bool admitted) {
    for (;;) {
      std::function<void()> fn;
      {
        base::MutexLock lock(mu_);
        std::deque<std::function<void()>>& queue = admitted ? jobs_ : refusals_;
        if (admitted) ++idle_;
        while (!stop_ && queue.empty()) lock.Wait(cv_);
        if (admitted) --idle_;
        if (queue.empty()) return;
        fn = std::move(queue.front());
        queue.pop_front();
      }
      fn();
      if (admitted) {
        base::MutexLock lock(mu_);
        --admitted_;
      }
    }
  }

  const size_t cap_;
  base::Mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_ GUARDED_BY(mu_);
  std::deque<std::function<void()>> refusals_ GUARDED_BY(mu_);
  size_t admitted_ GUARDED_BY(mu_) = 0;  // connections queued or being served
  size_t idle_ GUARDED_BY(mu_) = 0;      // connection threads waiting for one
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;  // added under mu_ before stop_; joined after
  std::thread refuser_;
};

// httplib::Server serving each connection through a ConnectionStream: the request deadline,
// the byte budget, closing after an early answer, and the 503 over max_connections.
class GuardedServer final : public httplib::Server {
 public:
  GuardedServer(const HttpConfig& config, Metrics* metrics) : config_(config), metrics_(metrics) {
    const std::string body = ErrorJson("too many connections (max_connections " +
                                       std::to_string(config.max_connections) + "); retry");
    refusal_ =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    if (t_refusing) {
      Refuse(sock);
      return true;
    }
    if (metrics_ != nullptr) metrics_->HttpConnectionsOpen().Increment();
    ConnectionState state;
    t_connection = &state;
    ConnectionStream strm(sock, &state, svr_sock_);
    const std::chrono::milliseconds timeout(config_.request_timeout_ms);
    bool ret = false;
    for (size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
      // An idle connection waits keep_alive_timeout for its next request.
      if (!strm.buffered() &&
          !strm.WaitReadable(SteadyClock::now() + std::chrono::seconds(keep_alive_timeout_sec_))) {
        break;
      }
      state.NewRequest();
      strm.StartRequest(SteadyClock::now() + timeout, timeout);
      bool connection_closed = false;
      ret = process_request(strm, left == 1, connection_closed, nullptr);
      if (!ret || connection_closed || state.close || state.timed_out || state.too_large) break;
    }
    if ((state.close || state.too_large) && !state.timed_out) Linger(sock);
    t_connection = nullptr;
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    if (metrics_ != nullptr) metrics_->HttpConnectionsOpen().Decrement();
    return ret;
  }

  // Answers 503 without reading the request, and closes.
  void Refuse(socket_t sock) {
    ::send(sock, refusal_.data(), refusal_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(sock, SHUT_WR);
    char buf[4096];
    for (int i = 0; i < 16 && ::recv(sock, buf, sizeof(buf), MSG_DONTWAIT) > 0; ++i) {
    }
    ::close(sock);
    if (metrics_ != nullptr) metrics_->HttpConnectionsRefused().Increment();
  }

  // After an answer sent before the body was read to its end: ends the answer (FIN) and
  // drops what the client still sends, for a moment, so that closing does not reset the
  // connection under an answer the client has not read yet.
  static void Linger(socket_t sock) {
    ::shutdown(sock, SHUT_WR);
    const auto until = SteadyClock::now() + kLingerTime;
    int64_t dropped = 0;
    char buf[16 << 10];
    while (dropped < kLingerBytes) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
      pollfd p{sock, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
      const ssize_t n = ::recv(sock, buf, sizeof(buf), 0);
      if (n <= 0) return;
      dropped += n;
    }
  }

  const HttpConfig& config_;
  Metrics* metrics_;
  std::string refusal_;
};

// The part of a request that X-Reflex-Signature covers: "<X-Reflex-Timestamp>.<body>".
std::string SignedText(const httplib::Request& req, std::string_view body) {
  std::string text = req.get_header_value("X-Reflex-Timestamp");
  text += '.';
  text += body;
  return text;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Create(HttpConfig config, HttpRoutes routes,
                                                       IngestSink* sink, Metrics* metrics) {
  if (sink == nullptr) return InvalidArgument("http server: an ingest sink is required");
  if (config.max_connections < 1) {
    return InvalidArgument("http server: max_connections must be at least 1, got " +
                           std::to_string(config.max_connections));
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
      server_(std::make_unique<GuardedServer>(config_, metrics)) {
  if (!routes_.clock) routes_.clock = std::make_shared<engine::SystemClock>();
  httplib::Server& s = *server_;
  const auto cap = static_cast<size_t>(config_.max_connections);
  s.new_task_queue = [cap] { return new ConnectionQueue(cap); };
  // Bodies of routes that do not read them themselves (GET, unknown paths).
  s.set_payload_max_length(static_cast<size_t>(config_.max_body_bytes));
  s.set_keep_alive_timeout(2);  // bounds how long Stop() waits for an idle keep-alive client
  // httplib's default adds SO_REUSEPORT, which lets a second process bind the same port and
  // silently take half the webhooks; keep only SO_REUSEADDR (fast restart after TIME_WAIT).
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  auto count = [this](const httplib::Request& req, const httplib::Response& res) {
    if (metrics_ != nullptr) metrics_->HttpRequests(PathLabel(req.path), res.status).Increment();
  };

  // Request line and headers are in; the body, if any, comes next and may take this much
  // as sent (chunk framing included).
  s.set_pre_routing_handler([this](const httplib::Request&, httplib::Response&) {
    if (ConnectionState* c = t_connection; c != nullptr) {
      c->headers_done = true;
      c->limit = c->read + 2 * config_.max_body_bytes + 16 * 1024;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // A client that waits for "100 Continue" before sending its body hears the refusal
  // instead when the headers already decide it.
  s.set_expect_100_continue_handler(
      [this, count](const httplib::Request& req, httplib::Response& res) {
        if ((req.path == kEventsPath || req.path == kAlertmanagerPath) && req.method == "POST" &&
            !Admit(req, res)) {
          if (t_connection != nullptr) t_connection->close = true;
          count(req, res);
          return res.status;
        }
        return 100;
      });
  // An answer given before the body was read to its end closes the connection: what follows
  // on it is the rest of that body, not a request.
  s.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
    const ConnectionState* c = t_connection;
    if (c == nullptr || !(c->close || c->timed_out || c->too_large)) return;
    res.headers.erase("Keep-Alive");
    if (res.get_header_value("Connection") != "close") res.set_header("Connection", "close");
  });

  s.Post(kEventsPath, [this, count](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) {
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
        if (t_connection != nullptr) t_connection->close = true;
        count(req, res);
        return;
      }
      mapping = &it->second;
    }
    Ingest(req, res, reader, *mapping, source);
    count(req, res);
  });
  s.Post(kAlertmanagerPath, [this, count](const httplib::Request& req, httplib::Response& res,
                                          const httplib::ContentReader& reader) {
    Ingest(req, res, reader, routes_.alertmanager, "alertmanager");
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
  AddSilenceRoutes();
  AddApiRoutes();
  AddConsoleRoutes();
  // Errors httplib produces itself (404, 413, a bad request line, a read that failed) reach
  // here with no body; ours already carry a JSON body and were counted by their handler.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [this, count](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const ConnectionState* c = t_connection;
        std::string message;
        if (c != nullptr && c->timed_out) {
          res.status = 408;
        } else if (c != nullptr && c->too_large) {
          res.status = c->headers_done ? 413 : 431;
        }
        switch (res.status) {
          case 404:
            message = "no such endpoint: " + req.method + " " + req.path;
            break;
          case 408:
            message = TimeoutMessage();
            break;
          case 413:
            message = BodyLimitMessage("");
            break;
          case 431:
            message = "request line and headers exceed " + std::to_string(kHeaderBytes) + " bytes";
            break;
          default:
            message = "request failed with status " + std::to_string(res.status);
        }
        res.set_content(ErrorJson(message), kJson);
        count(req, res);
        return httplib::Server::HandlerResponse::Handled;
      }));
}

void HttpServer::SilenceChanged(std::string_view action, const std::string& id) {
  if (!routes_.on_silence_change) return;
  std::string json;
  if (auto all = routes_.silences->List(); all.ok()) {
    for (const engine::Silence& silence : *all) {
      if (silence.id == id) json = engine::SilenceJson(silence, routes_.silences->NowMillis());
    }
  }
  routes_.on_silence_change(action, id, json);
}

void HttpServer::AddSilenceRoutes() {
  httplib::Server& s = *server_;
  auto count = [this](const httplib::Request& req, const httplib::Response& res) {
    if (metrics_ != nullptr) metrics_->HttpRequests(PathLabel(req.path), res.status).Increment();
  };
  // Credentials as for the webhook (the signature covers the body, empty for GET/DELETE).
  auto admitted = [this](const httplib::Request& req, httplib::Response& res) {
    std::string why = CheckAuthHeaders(req);
    if (why.empty()) why = CheckSignature(req, req.body);
    if (why.empty()) return true;
    if (!config_.token.empty()) res.set_header("WWW-Authenticate", "Bearer");
    Reply(res, 401, ErrorJson(why));
    return false;
  };
  auto failed = [](httplib::Response& res, const Status& st) {
    int code = 503;
    switch (st.code()) {
      case StatusCode::kInvalidArgument:
        code = 400;
        break;
      case StatusCode::kNotFound:
        code = 404;
        break;
      case StatusCode::kFailedPrecondition:
      case StatusCode::kAlreadyExists:
        code = 409;
        break;
      default:
        break;
    }
    Reply(res, code, ErrorJson(st.message()));
  };
  s.Post("/api/v2/silences",
         [this, count, admitted, failed](const httplib::Request& req, httplib::Response& res) {
           if (routes_.silences == nullptr) {
             Reply(res, 404, ErrorJson("the silences API is not enabled"));
           } else if (admitted(req, res)) {
             auto silence = engine::ParseSilenceJson(req.body);
             if (!silence.ok()) {
               Reply(res, 400, ErrorJson(silence.status().message()));
             } else if (auto id = routes_.silences->Add(std::move(*silence)); !id.ok()) {
               failed(res, id.status());
             } else {
               nlohmann::json j;
               j["silenceID"] = *id;
               Reply(res, 200, j.dump());
               SilenceChanged("silence.add", *id);
             }
           }
           count(req, res);
         });
  s.Get("/api/v2/silences",
        [this, count, admitted, failed](const httplib::Request& req, httplib::Response& res) {
          if (routes_.silences == nullptr) {
            Reply(res, 404, ErrorJson("the silences API is not enabled"));
          } else if (admitted(req, res)) {
            // Alertmanager's `filter`: repeated, each one or more matchers.
            std::vector<engine::LabelMatcher> specs;
            Status bad;
            for (size_t i = 0; i < req.get_param_value_count("filter") && bad.ok(); ++i) {
              auto m = engine::ParseMatchers(req.get_param_value("filter", i));
              if (!m.ok()) {
                bad = m.status();
              } else {
                specs.insert(specs.end(), m->begin(), m->end());
              }
            }
            auto filter = bad.ok() ? engine::CompileMatchers(specs)
                                   : Result<std::vector<engine::CompiledMatcher>>(bad);
            if (!filter.ok()) {
              Reply(res, 400, ErrorJson("filter: " + filter.status().message()));
            } else if (auto all = routes_.silences->List(); !all.ok()) {
              failed(res, all.status());
            } else {
              const int64_t now = routes_.silences->NowMillis();
              std::string body = "[";
              bool first = true;
              for (const engine::Silence& silence : *all) {
                if (!engine::SilenceMatchesFilter(silence, *filter)) continue;
                if (!first) body += ',';
                first = false;
                body += engine::SilenceJson(silence, now);
              }
              body += ']';
              Reply(res, 200, std::move(body));
            }
          }
          count(req, res);
        });
  s.Delete(R"(/api/v2/silence/([^/]+))",
           [this, count, admitted, failed](const httplib::Request& req, httplib::Response& res) {
             if (routes_.silences == nullptr) {
               Reply(res, 404, ErrorJson("the silences API is not enabled"));
             } else if (admitted(req, res)) {
               if (Status st = routes_.silences->Expire(req.matches[1].str()); !st.ok()) {
                 failed(res, st);
               } else {
                 Reply(res, 200, "{}");
                 SilenceChanged("silence.expire", req.matches[1].str());
               }
             }
             count(req, res);
           });
}

void HttpServer::AddConsoleRoutes() {
  if (!routes_.console) return;
  httplib::Server& s = *server_;
  auto count = [this](const httplib::Request& req, const httplib::Response& res) {
    if (metrics_ != nullptr) metrics_->HttpRequests(PathLabel(req.path), res.status).Increment();
  };
  auto to_console = [count](const httplib::Request& req, httplib::Response& res) {
    res.set_redirect("/console/", 302);
    count(req, res);
  };
  s.Get("/", to_console);
  s.Get("/console", to_console);
  s.Get(R"(/console/(.*))", [this, count](const httplib::Request& req, httplib::Response& res) {
    std::optional<StaticFile> file = routes_.console(req.matches[1].str());
    if (!file) {
      Reply(res, 404, ErrorJson("no such file of the console"));
    } else {
      // The console's own files only: no inline script, no other origin, no framing.
      res.set_header("Content-Security-Policy",
                     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
                     "data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                     "form-action 'self'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-cache");
      const std::string type(file->content_type);
      Reply(res, 200, std::string(file->body), type.c_str());
    }
    count(req, res);
  });
}

void HttpServer::AddApiRoutes() {
  httplib::Server& s = *server_;
  auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    std::string route = "/api/v1/{unknown}";
    if (routes_.api == nullptr) {
      Reply(res, 404, ErrorJson("the REST API is not enabled"));
    } else {
      ApiRequest in;
      in.method = req.method;
      in.path = req.path;
      for (const auto& [k, v] : req.params) in.params.emplace(k, v);
      in.authorization = req.get_header_value("Authorization");
      in.body = req.body;
      ApiResponse out = routes_.api->Handle(in);
      for (const auto& [k, v] : out.headers) res.set_header(k, v);
      Reply(res, out.status, std::move(out.body), out.content_type.c_str());
      if (!out.route.empty()) route = out.route;
    }
    if (metrics_ != nullptr) metrics_->HttpRequests(route, res.status).Increment();
  };
  const char* pattern = R"(/api/v1(/.*)?)";
  s.Get(pattern, handle);
  s.Post(pattern, handle);
  s.Put(pattern, handle);
  s.Delete(pattern, handle);
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

std::string HttpServer::TimeoutMessage() const {
  return "request not received within the request_timeout of " +
         base::FormatDurationMs(config_.request_timeout_ms);
}

std::string HttpServer::BodyLimitMessage(std::string_view encoding) const {
  std::string m = "body exceeds the limit of " + std::to_string(config_.max_body_bytes) + " bytes";
  if (!encoding.empty() && encoding != "identity")
    m += " (after " + std::string(encoding) + " decoding)";
  return m;
}

std::string HttpServer::CheckAuthHeaders(const httplib::Request& req) const {
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
    bool hex =
        header.size() == kPrefix.size() + 64 && Lower(header.substr(0, kPrefix.size())) == kPrefix;
    for (size_t i = kPrefix.size(); hex && i < header.size(); ++i) hex = HexValue(header[i]) >= 0;
    if (!hex) return "X-Reflex-Signature: expected sha256=<64 hex digits>";

    const std::string ts = req.get_header_value("X-Reflex-Timestamp");
    if (ts.empty()) return "missing X-Reflex-Timestamp";
    if (ts.size() > 12 ||
        !std::all_of(ts.begin(), ts.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return "X-Reflex-Timestamp: expected Unix seconds";
    }
    const int64_t skew_ms = routes_.clock->NowMillis() - std::stoll(ts) * 1000;
    if (skew_ms > config_.hmac_tolerance_ms || -skew_ms > config_.hmac_tolerance_ms) {
      return "X-Reflex-Timestamp is " + std::to_string(std::abs(skew_ms) / 1000) +
             " s away from the server's clock (tolerance " +
             base::FormatDurationMs(config_.hmac_tolerance_ms) + ")";
    }
  }
  return {};
}

std::string HttpServer::CheckSignature(const httplib::Request& req, std::string_view body) const {
  if (config_.hmac_secret.empty()) return {};
  // CheckAuthHeaders() found sha256=<64 hex digits>.
  const std::string header = req.get_header_value("X-Reflex-Signature");
  unsigned char got[32];
  for (size_t i = 0; i < 32; ++i) {
    got[i] = static_cast<unsigned char>(HexValue(header[7 + 2 * i]) * 16 +
                                        HexValue(header[7 + 2 * i + 1]));
  }
  const std::string text = SignedText(req, body);
  unsigned char want[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), config_.hmac_secret.data(), static_cast<int>(config_.hmac_secret.size()),
           reinterpret_cast<const unsigned char*>(text.data()), text.size(), want,
           &len) == nullptr ||
      len != 32 || CRYPTO_memcmp(want, got, 32) != 0) {
    return "wrong signature";
  }
  return {};
}

bool HttpServer::Admit(const httplib::Request& req, httplib::Response& res) const {
  if (std::string why = CheckAuthHeaders(req); !why.empty()) {
    if (!config_.token.empty()) res.set_header("WWW-Authenticate", "Bearer");
    Reply(res, 401, ErrorJson(why));
    return false;
  }
  if (req.has_header("Content-Length")) {
    const std::string n = req.get_header_value("Content-Length");
    const bool digits = !n.empty() && n.size() <= 18 && std::all_of(n.begin(), n.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    if (!digits) {
      Reply(res, 400, ErrorJson("Content-Length: expected a number of bytes, got '" + n + "'"));
      return false;
    }
    if (std::stoll(n) > config_.max_body_bytes) {
      Reply(res, 413, ErrorJson(BodyLimitMessage("")));
      return false;
    }
  }
  if (const std::string type = req.get_header_value("Content-Type"); !AcceptedContentType(type)) {
    Reply(res, 415,
          ErrorJson("unsupported content type '" + type +
                    "'; send application/json or application/x-ndjson"));
    return false;
  }
  // The encodings httplib decodes; anything else would reach the parser still encoded.
  if (const std::string enc = req.get_header_value("Content-Encoding");
      !(enc.empty() || enc == "identity" || enc == "gzip" || enc == "deflate" || enc == "br")) {
    Reply(res, 415,
          ErrorJson("unsupported Content-Encoding '" + enc +
                    "'; send identity, gzip, deflate or br"));
    return false;
  }
  return true;
}

Status HttpServer::MapBody(const Mapping& mapping, std::string_view body,
                           std::vector<std::string>* events) const {
  std::vector<std::string> docs, where;
  if (Status s = SplitPayload(mapping, body, &docs, &where); !s.ok()) return s;
  std::vector<std::string> out, notes;
  out.reserve(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    Status s = mapping.Map(docs[i], &out, routes_.limits, &notes);
    // Pass-through events are checked here (the mapping does not look at them): a bad one
    // is a 400 for the client to fix, not a dead letter it never hears of.
    if (s.ok() && mapping.passthrough()) s = ValidateEvent(out.back(), routes_.limits);
    if (!s.ok()) {
      return InvalidArgument(where[i].empty() ? s.message() : where[i] + ": " + s.message());
    }
  }
  if (!notes.empty() && metrics_ != nullptr) {
    metrics_->MappingValuesSkipped().Increment(static_cast<double>(notes.size()));
  }
  for (auto& e : out) events->push_back(std::move(e));
  return Status::Ok();
}

void HttpServer::Ingest(const httplib::Request& req, httplib::Response& res,
                        const httplib::ContentReader& reader, const Mapping& mapping,
                        std::string_view source) const {
  ConnectionState* conn = t_connection;
  // Everything the headers decide is decided before a byte of the body is read.
  if (!Admit(req, res)) {
    if (conn != nullptr) conn->close = true;
    return;
  }
  // The body as decoded, counted while it arrives: a chunked or compressed body stops at the
  // limit like one with a Content-Length.
  std::string body;
  bool over = false;
  const auto limit = static_cast<size_t>(config_.max_body_bytes);
  const bool read = reader([&](const char* data, size_t n) {
    if (n > limit - body.size()) {
      over = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (!read) {
    if (conn != nullptr) conn->close = true;
    if (over) {
      Reply(res, 413, ErrorJson(BodyLimitMessage(req.get_header_value("Content-Encoding"))));
    } else if (conn != nullptr && conn->timed_out) {
      Reply(res, 408, ErrorJson(TimeoutMessage()));
    } else if (conn != nullptr && conn->too_large) {
      Reply(res, 413, ErrorJson(BodyLimitMessage("") + " (as sent, chunk framing included)"));
    } else {
      Reply(res, 400,
            ErrorJson("could not read the body (connection closed, malformed chunked encoding "
                      "or undecodable " +
                      (req.has_header("Content-Encoding") ? req.get_header_value("Content-Encoding")
                                                          : std::string("content")) +
                      ")"));
    }
    return;
  }
  if (std::string why = CheckSignature(req, body); !why.empty()) {
    Reply(res, 401, ErrorJson(why));
    return;
  }
  std::vector<std::string> events;
  if (Status s = MapBody(mapping, body, &events); !s.ok()) {
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
