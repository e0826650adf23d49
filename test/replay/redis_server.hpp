// SPDX-License-Identifier: MIT
#pragma once
// A redis-server of a test's own (Debian's redis-server 7, started in a temp dir on a unix socket
// and a loopback port, no persistence) and what the Redis replay store tests share.
#include <knock/replay/redis_store.hpp>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace knock::test_redis {
using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline replay_key key(std::uint64_t n) {
  replay_key k;
  std::mt19937_64 rng{n};
  for (auto& b : k.bytes) b = static_cast<byte>(rng());
  return k;
}

inline bool have_redis_server() { return ::access("/usr/bin/redis-server", X_OK) == 0; }

inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A redis-server of the test's own: a temp dir, a unix socket and a loopback port, no persistence.
class redis_server {
 public:
  explicit redis_server(std::string password = {}, std::vector<std::string> extra = {})
      : password_{std::move(password)}, extra_{std::move(extra)} {
    fs::create_directories(dir_);
    start();
  }
  ~redis_server() {
    stop();
    fs::remove_all(dir_);
  }
  void start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string sock = socket(), port = std::to_string(port_), d = dir_.string(),
                        log = (dir_ / "redis.log").string();
      std::vector<const char*> argv{
          "redis-server", "--port",     port.c_str(), "--bind",    "127.0.0.1", "--unixsocket",
          sock.c_str(),   "--dir",      d.c_str(),    "--save",    "",          "--appendonly",
          "no",           "--loglevel", "warning",    "--logfile", log.c_str()};
      if (!password_.empty()) argv.insert(argv.end(), {"--requirepass", password_.c_str()});
      for (const auto& arg : extra_) argv.push_back(arg.c_str());
      argv.push_back(nullptr);
      ::execv("/usr/bin/redis-server", const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    for (int i = 0; i < 500 && !fs::exists(socket()); ++i) std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(20ms);
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    fs::remove(socket());
  }
  std::string socket() const { return (dir_ / "redis.sock").string(); }
  std::uint16_t port() const { return port_; }

  replay::redis_options unix_options() const {
    replay::redis_options o;
    o.address.endpoints.push_back({.host = {}, .port = 0, .unix_path = socket()});
    o.retry_after = 100ms;
    return o;
  }
  replay::redis_options tcp_options() const {
    replay::redis_options o;
    o.address.endpoints.push_back({.host = "127.0.0.1", .port = port_, .unix_path = {}});
    o.retry_after = 100ms;
    return o;
  }

  // One command on a connection of the test's own (not the store's): its integer or string reply.
  std::string command(const std::string& cmd) const {
    redisContext* c = redisConnectUnix(socket().c_str());
    if (c == nullptr || c->err != 0) return "(no connection)";
    if (!password_.empty()) freeReplyObject(redisCommand(c, "AUTH %s", password_.c_str()));
    auto* r = static_cast<redisReply*>(redisCommand(c, cmd.c_str()));
    std::string out = r == nullptr                     ? "(no reply)"
                      : r->type == REDIS_REPLY_INTEGER ? std::to_string(r->integer)
                      : r->type == REDIS_REPLY_NIL     ? "(nil)"
                      : r->str != nullptr              ? std::string{r->str, r->len}
                                                       : "(array)";
    if (r != nullptr) freeReplyObject(r);
    redisFree(c);
    return out;
  }
  // A field of INFO (`name:<number>`), on a connection of the test's own.
  static long info_field(redisContext* c, const std::string& section, const std::string& name) {
    auto* r = static_cast<redisReply*>(redisCommand(c, "INFO %s", section.c_str()));
    long n = -1;
    if (r != nullptr && r->type == REDIS_REPLY_STRING) {
      const std::string info{r->str, r->len};
      const std::size_t at = info.find(name + ":");
      if (at != std::string::npos) n = std::stol(info.substr(at + name.size() + 1));
    }
    if (r != nullptr) freeReplyObject(r);
    return n;
  }
  // How many SET commands the server has run (INFO commandstats).
  long sets() const {
    const std::string info = command("INFO commandstats");
    const std::size_t at = info.find("cmdstat_set:calls=");
    return at == std::string::npos ? 0 : std::stol(info.substr(at + 18));
  }

 private:
  fs::path dir_ = fs::temp_directory_path() / ("knock-redis-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::random_device{}()));
  std::uint16_t port_ = free_port();
  std::string password_;
  std::vector<std::string> extra_;  // more of redis-server's options (--replicaof ...)
  pid_t pid_ = -1;
};

// Redis's read events (INFO stats total_reads_processed), counted on a connection of the test's
// own: commands written at once are read in one event. `since(mark())`: the reads others caused
// in between, the counting INFO's own read taken out.
class redis_reads {
 public:
  explicit redis_reads(const redis_server& redis) : c_{redisConnectUnix(redis.socket().c_str())} {
    if (c_ != nullptr && c_->err == 0) {
      const long r0 = now();
      if (r0 >= 0) idle_ = now() - r0;
    }
  }
  ~redis_reads() {
    if (c_ != nullptr) redisFree(c_);
  }
  redis_reads(const redis_reads&) = delete;
  redis_reads& operator=(const redis_reads&) = delete;

  bool ok() const { return c_ != nullptr && c_->err == 0 && idle_ >= 0; }
  long mark() { return now(); }
  long since(long mark) { return now() - mark - idle_; }

 private:
  long now() { return redis_server::info_field(c_, "stats", "total_reads_processed"); }
  redisContext* c_;
  long idle_ = -1;
};

struct redis_store : ::testing::Test {
  void SetUp() override {
    if (!have_redis_server())
      GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)";
    std::signal(SIGPIPE, SIG_IGN);  // as knock-server: hiredis writes with write(2)
  }
};

inline constexpr epoch_seconds t0 = 1700000005;

// What a store answered, in words: "first", "replay", or "error: <message>".
inline std::string seen(const result<sighting>& r) {
  if (!r) return "error: " + to_string(r.error());
  return *r == sighting::first ? "first" : "replay";
}

}  // namespace knock::test_redis
