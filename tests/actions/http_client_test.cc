// HttpSend against a real httplib::Server on 127.0.0.1 (port 0): statuses, bodies,
// headers, timeouts, refused connections and the response-size bound.
#include "reflex/actions/http_client.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "test_server.h"

namespace reflex::actions {
namespace {

using engine::StatusCode;
using test::TestServer;

TEST(HttpClientTest, PostReturnsStatusBodyAndSendsHeaders) {
  TestServer server;
  std::string got_body, got_type, got_custom, got_method;
  server.svr().Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    got_body = req.body;
    got_type = req.get_header_value("Content-Type");
    got_custom = req.get_header_value("X-Reflex");
    got_method = req.method;
    res.set_content("accepted", "text/plain");
  });
  server.Start();

  HttpRequest req;
  req.url = server.Url("/hook");
  req.headers = {{"Content-Type", "application/json"}, {"X-Reflex", "yes"}};
  req.body = R"({"a":1})";
  auto r = HttpSend(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "accepted");
  EXPECT_FALSE(r->truncated);
  EXPECT_EQ(got_method, "POST");
  EXPECT_EQ(got_body, R"({"a":1})");
  EXPECT_EQ(got_type, "application/json");
  EXPECT_EQ(got_custom, "yes");
}

TEST(HttpClientTest, OtherMethods) {
  TestServer server;
  std::string put_body;
  server.svr().Get("/x", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("got", "text/plain");
  });
  server.svr().Put("/x", [&](const httplib::Request& req, httplib::Response& res) {
    put_body = req.body;
    res.status = 204;
  });
  server.Start();

  HttpRequest get;
  get.method = "GET";
  get.url = server.Url("/x");
  auto g = HttpSend(get);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->status, 200);
  EXPECT_EQ(g->body, "got");

  HttpRequest put;
  put.method = "PUT";
  put.url = server.Url("/x");
  put.body = "payload";
  auto p = HttpSend(put);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->status, 204);
  EXPECT_EQ(put_body, "payload");
}

TEST(HttpClientTest, ServerErrorIsAResponseNotAnError) {
  TestServer server;
  server.svr().Post("/fail", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("boom", "text/plain");
  });
  server.Start();
  HttpRequest req;
  req.url = server.Url("/fail");
  auto r = HttpSend(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "boom");
}

TEST(HttpClientTest, RedirectIsNotFollowed) {
  TestServer server;
  bool target_hit = false;
  server.svr().Post(
      "/from", [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/to"); });
  server.svr().Post("/to", [&](const httplib::Request&, httplib::Response&) { target_hit = true; });
  server.Start();
  HttpRequest req;
  req.url = server.Url("/from");
  auto r = HttpSend(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 302);
  EXPECT_FALSE(target_hit);
}

TEST(HttpClientTest, SlowServerTimesOutAsUnavailable) {
  TestServer server;
  // The handler waits until the test releases it (bounded), so the client's deadline
  // passes first whatever the machine's speed.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  server.svr().Post("/slow", [&](const httplib::Request&, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    res.set_content("late", "text/plain");
  });
  server.Start();
  HttpRequest req;
  req.url = server.Url("/slow");
  req.timeout_ms = 200;
  auto r = HttpSend(req);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().message();
}

TEST(HttpClientTest, RefusedPortIsUnavailable) {
  test::RefusingPort refusing;
  ASSERT_GT(refusing.port(), 0);
  HttpRequest req;
  req.url = refusing.Url("/x");
  auto r = HttpSend(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find(req.url), std::string::npos) << r.status().message();
}

TEST(HttpClientTest, LargeResponseIsTruncatedAtTheBound) {
  TestServer server;
  const std::string big(1 << 20, 'x');
  server.svr().Post("/big", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(big, "text/plain");
  });
  server.Start();
  HttpRequest req;
  req.url = server.Url("/big");
  req.max_response_bytes = 1000;
  auto r = HttpSend(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->body, std::string(1000, 'x'));

  req.max_response_bytes = big.size();
  auto full = HttpSend(req);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_FALSE(full->truncated);
  EXPECT_EQ(full->body.size(), big.size());
}

TEST(HttpClientTest, BadRequestsAreRefusedBeforeSending) {
  HttpRequest no_url;
  EXPECT_EQ(HttpSend(no_url).status().code(), StatusCode::kInvalidArgument);
  HttpRequest bad_scheme;
  bad_scheme.url = "file:///etc/passwd";
  EXPECT_EQ(HttpSend(bad_scheme).status().code(), StatusCode::kInvalidArgument);
  HttpRequest bad_header;
  bad_header.url = "http://127.0.0.1:1/";
  bad_header.headers = {{"X-A", "a\r\nX-Injected: 1"}};
  EXPECT_EQ(HttpSend(bad_header).status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpClientTest, ConcurrentCallsFromManyThreads) {
  TestServer server;
  server.svr().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.body, "text/plain");
  });
  server.Start();
  constexpr int kThreads = 4, kCalls = 20;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        HttpRequest req;
        req.url = server.Url("/echo");
        req.body = std::to_string(t) + "-" + std::to_string(i);
        auto r = HttpSend(req);
        if (r.ok() && r->status == 200 && r->body == req.body) ok.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kThreads * kCalls);
}

}  // namespace
}  // namespace reflex::actions
