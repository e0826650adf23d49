// SPDX-License-Identifier: MIT
// knock-server's KNOCK_METRICS_LISTEN listener (examples/knock-server/metrics_listener.hpp) on
// loopback: GET /metrics is answered with the exposition and Prometheus's content type; other
// paths, methods and broken request lines get 404/405/400; a request head past the bound gets 431;
// connections past max_clients are closed at once; a slow or idle client is closed at its
// deadline; a client that does not read a large answer never blocks the listener. The "loop" here
// records what the listener asks to be watched, and the test wakes the listener as epoll would.
#include "metrics_listener.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <poll.h>

namespace {
using namespace knock_server;
using namespace std::chrono_literals;

struct fake_loop {
  std::set<int> watched, output;
  bool watch(int fd) { return watched.insert(fd), true; }
  bool watch_output(int fd, bool on) {
    if (on)
      output.insert(fd);
    else
      output.erase(fd);
    return true;
  }
};

struct listener_test : ::testing::Test {
  metrics_limits limits{4, 512, 1000ms};
  metrics_listener listener = open(limits);
  fake_loop loop;
  std::string body = "# HELP knock_x x\n# TYPE knock_x counter\nknock_x 1\n";
  int renders = 0;

  static metrics_listener open(metrics_limits l) {
    auto m = metrics_listener::open(*metrics_endpoint::parse("127.0.0.1:1"), l);
    // port 1 needs root; the test binds port 0 (any) instead
    if (!m) m = metrics_listener::open({*knock::ip_address::parse("127.0.0.1"), 0}, l);
    return *std::move(m);
  }

  // Wakes the listener for everything it owns, as often as asked (spurious wake-ups included).
  void pump(int rounds = 3) {
    for (int i = 0; i < rounds; ++i) {
      listener.ready(listener.fd(), loop, [&] { return ++renders, body; });
      for (int fd : std::set<int>{loop.watched})
        if (listener.owns(fd)) listener.ready(fd, loop, [&] { return ++renders, body; });
    }
  }

  unique_fd connect_client() {
    unique_fd c{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(listener.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(c.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return c;
  }
  static void send_all(int fd, const std::string& s) {
    ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  // Everything until the server closes (pumping it meanwhile); "" when it stayed open 2 s.
  std::string read_to_close(int fd) {
    std::string out;
    for (int i = 0; i < 200; ++i) {
      pump(1);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return out.empty() ? "(closed)" : out;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return "";
  }
  std::string request(const std::string& text) {
    unique_fd c = connect_client();
    send_all(c.get(), text);
    return read_to_close(c.get());
  }
};

TEST(metrics_endpoint, parses_address_and_port) {
  const auto v4 = metrics_endpoint::parse("127.0.0.1:9466");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->address.is_v4());
  EXPECT_EQ(v4->port, 9466);
  const auto v6 = metrics_endpoint::parse("[::1]:9466");
  ASSERT_TRUE(v6);
  EXPECT_FALSE(v6->address.is_v4());
  for (const char* bad :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:94x", "::1:9466",
        "[::1]9466", "[127.0.0.1]:80", "localhost:9466", ":9466", ""})
    EXPECT_FALSE(metrics_endpoint::parse(bad)) << bad;
}

TEST_F(listener_test, get_metrics_is_answered_with_the_exposition) {
  const std::string got = request("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_NE(got.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(got.find("\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(got.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_TRUE(got.ends_with("\r\n\r\n" + body)) << got;
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(listener.clients(), 0u);  // closed after the answer
  // A query string (Prometheus's params) and HTTP/1.0 too; HEAD has the head only.
  EXPECT_TRUE(request("GET /metrics?x=1 HTTP/1.0\n\n").ends_with(body));
  const std::string head = request("HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
}

TEST_F(listener_test, other_paths_methods_and_broken_requests_are_refused) {
  EXPECT_TRUE(request("GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_TRUE(request("GET /metricsx HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  EXPECT_TRUE(request("GET /metrics/ HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
  const std::string post = request("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n")) << post;
  EXPECT_NE(post.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
  for (const char* bad : {"GET\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/2.0\r\n\r\n",
                          "GET metrics HTTP/1.1\r\n\r\n", "\x16\x03\x01 binary\r\n\r\n",
                          "GET /metrics HTTP/1.1x\r\n\r\n"})
    EXPECT_TRUE(request(bad).starts_with("HTTP/1.1 400 Bad Request\r\n")) << bad;
  EXPECT_EQ(renders, 0);  // nothing rendered for any of them
  EXPECT_EQ(listener.clients(), 0u);
}

TEST_F(listener_test, a_head_past_the_bound_gets_431_and_is_not_read_on) {
  unique_fd c = connect_client();
  send_all(c.get(), "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(2000, 'a'));
  const std::string got = read_to_close(c.get());
  EXPECT_TRUE(got.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n")) << got;
  EXPECT_EQ(renders, 0);
  EXPECT_EQ(listener.clients(), 0u);
}

TEST_F(listener_test, connections_past_max_clients_are_closed_at_once) {
  std::vector<unique_fd> held;
  for (std::size_t i = 0; i < limits.max_clients; ++i) held.push_back(connect_client());
  pump();
  EXPECT_EQ(listener.clients(), limits.max_clients);
  unique_fd extra = connect_client();
  EXPECT_EQ(read_to_close(extra.get()), "(closed)");
  EXPECT_EQ(listener.turned_away(), 1u);
  // The held ones are still served.
  send_all(held[0].get(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(read_to_close(held[0].get()).ends_with(body));
}

TEST_F(listener_test, slow_and_idle_clients_are_closed_at_their_deadline) {
  unique_fd idle = connect_client();
  unique_fd slow = connect_client();
  send_all(slow.get(), "GET /metr");  // and never more
  pump();
  EXPECT_EQ(listener.clients(), 2u);
  listener.close_old(std::chrono::steady_clock::now() + 500ms);  // not yet
  EXPECT_EQ(listener.clients(), 2u);
  listener.close_old(std::chrono::steady_clock::now() + limits.deadline);
  EXPECT_EQ(listener.clients(), 0u);
  EXPECT_EQ(read_to_close(idle.get()), "(closed)");
  EXPECT_EQ(read_to_close(slow.get()), "(closed)");
  EXPECT_EQ(renders, 0);
}

TEST_F(listener_test, a_client_that_does_not_read_never_blocks_the_listener) {
  body.assign(16 << 20, 'x');  // far more than the socket buffers hold
  unique_fd c = connect_client();
  send_all(c.get(), "GET /metrics HTTP/1.1\r\n\r\n");
  const auto t0 = std::chrono::steady_clock::now();
  pump(20);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // non-blocking writes only
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(listener.clients(), 1u);  // still sending
  EXPECT_EQ(loop.output.size(), 1u);  // waiting to be writable
  // Another client is served meanwhile.
  body = "short\n";
  EXPECT_TRUE(request("GET /metrics HTTP/1.1\r\n\r\n").ends_with("\r\n\r\nshort\n"));
  listener.close_old(std::chrono::steady_clock::now() + limits.deadline);
  EXPECT_EQ(listener.clients(), 0u);
}

}  // namespace
