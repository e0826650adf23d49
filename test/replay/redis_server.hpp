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
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
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

inline bool have_openssl_cli() { return ::access("/usr/bin/openssl", X_OK) == 0; }

// Certificates for the TLS tests, made once per test program with the openssl CLI (EC P-256, valid
// two days) in a temp dir removed at exit: a CA; a server certificate it signs for `localhost` and
// 127.0.0.1 (subjectAltName DNS and IP); a client certificate it signs; and a second, unrelated CA.
class tls_material {
 public:
  static const tls_material& get() {
    static const tls_material made;
    return made;
  }
  tls_material(const tls_material&) = delete;
  tls_material& operator=(const tls_material&) = delete;

  /// Why they could not be made (empty: they were).
  const std::string& error() const { return error_; }
  std::string ca() const { return file("ca.crt"); }
  std::string other_ca() const { return file("other-ca.crt"); }
  std::string server_cert() const { return file("server.crt"); }
  std::string server_key() const { return file("server.key"); }
  std::string client_cert() const { return file("client.crt"); }
  std::string client_key() const { return file("client.key"); }
  /// CRLs of the CA: one that revokes nothing, one that revokes the server's certificate.
  std::string crl_empty() const { return file("ca-empty.crl"); }
  std::string crl_revoking_server() const { return file("ca-revoked.crl"); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }

 private:
  tls_material() {
    if (!have_openssl_cli()) {
      error_ = "the openssl CLI is not installed (apt-get install openssl)";
      return;
    }
    fs::create_directories(dir_);
    std::ofstream{dir_ / "server.ext"} << "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                                       << "extendedKeyUsage=serverAuth\n";
    std::ofstream{dir_ / "client.ext"} << "extendedKeyUsage=clientAuth\n";
    std::ofstream{dir_ / "index.txt"};  // `openssl ca`'s database, for the CRLs
    std::ofstream{dir_ / "crlnumber"} << "01\n";
    std::ofstream{dir_ / "ca.cnf"}
        << "[ca]\ndefault_ca = knock\n[knock]\ndatabase = " << file("index.txt")
        << "\ncrlnumber = " << file("crlnumber") << "\ndefault_md = sha256\ndefault_crl_days = 2\n";
    const auto q = [&](const std::string& name) { return " '" + file(name) + "'"; };
    const std::string new_key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const auto self_signed = [&](const std::string& name, const std::string& cn) {
      return "req -x509" + new_key + " -days 2 -subj '/CN=" + cn + "' -keyout" + q(name + ".key") +
             " -out" + q(name + ".crt");
    };
    const auto request = [&](const std::string& name, const std::string& cn) {
      return "req" + new_key + " -subj '/CN=" + cn + "' -keyout" + q(name + ".key") + " -out" +
             q(name + ".csr");
    };
    const auto signed_by_ca = [&](const std::string& name) {
      return "x509 -req -days 2 -in" + q(name + ".csr") + " -CA" + q("ca.crt") + " -CAkey" +
             q("ca.key") + " -CAcreateserial -extfile" + q(name + ".ext") + " -out" +
             q(name + ".crt");
    };
    const std::string ca =
        "ca -config" + q("ca.cnf") + " -keyfile" + q("ca.key") + " -cert" + q("ca.crt");
    for (const std::string& step :
         {self_signed("ca", "knock test CA"), self_signed("other-ca", "knock unrelated CA"),
          request("server", "localhost"), signed_by_ca("server"), request("client", "knock test"),
          signed_by_ca("client"), ca + " -gencrl -out" + q("ca-empty.crl"),
          ca + " -revoke" + q("server.crt"), ca + " -gencrl -out" + q("ca-revoked.crl")}) {
      const std::string cmd = "/usr/bin/openssl " + step + " >" + q("openssl.log") + " 2>&1";
      if (std::system(cmd.c_str()) != 0) {
        std::ostringstream log;
        log << std::ifstream{dir_ / "openssl.log"}.rdbuf();
        error_ = "openssl " + step + " failed: " + log.str();
        return;
      }
    }
  }
  ~tls_material() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  fs::path dir_ = fs::temp_directory_path() / ("knock-tls-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(std::random_device{}()));
  std::string error_;
};

// Whether a TLS redis-server asks for the client's certificate (`--tls-auth-clients`).
enum class client_certs { not_asked, required };

// A redis-server of the test's own: a temp dir, a unix socket and a loopback port, no persistence.
// With TLS the port speaks only TLS (`--port 0 --tls-port`); the unix socket stays plain, for the
// fixture's own commands.
class redis_server {
 public:
  explicit redis_server(std::string password = {}, std::vector<std::string> extra = {})
      : password_{std::move(password)}, extra_{std::move(extra)} {
    fs::create_directories(dir_);
    start();
  }
  explicit redis_server(const tls_material& tls, client_certs certs = client_certs::not_asked)
      : tls_{&tls}, certs_{certs} {
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
      // With TLS the port is the TLS one and there is no plain TCP port.
      const std::string sock = socket(), port = std::to_string(port_), d = dir_.string(),
                        log = (dir_ / "redis.log").string(), plain = tls_ ? "0" : port;
      std::vector<const char*> argv{
          "redis-server", "--port",     plain.c_str(), "--bind",    "127.0.0.1", "--unixsocket",
          sock.c_str(),   "--dir",      d.c_str(),     "--save",    "",          "--appendonly",
          "no",           "--loglevel", "warning",     "--logfile", log.c_str()};
      const std::string cert = tls_ ? tls_->server_cert() : "",
                        key = tls_ ? tls_->server_key() : "", ca = tls_ ? tls_->ca() : "";
      if (tls_ != nullptr)
        argv.insert(argv.end(),
                    {"--tls-port", port.c_str(), "--tls-cert-file", cert.c_str(), "--tls-key-file",
                     key.c_str(), "--tls-ca-cert-file", ca.c_str(), "--tls-auth-clients",
                     certs_ == client_certs::required ? "yes" : "no"});
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
  /// The loopback port: TLS only when the server was started with TLS.
  std::uint16_t port() const { return port_; }
  /// Whether it came up (its unix socket is there).
  bool up() const { return fs::exists(socket()); }
  /// What it wrote to its log (`--loglevel warning`): why it did not start, refused a handshake.
  std::string log() const {
    std::ostringstream text;
    text << std::ifstream{dir_ / "redis.log"}.rdbuf();
    return text.str();
  }

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
  /// `rediss://127.0.0.1:<port>`: TLS to the loopback port, the server's certificate checked
  /// against `tls`'s CA (no client certificate). A handshake has a deadline of 1 s: a slow
  /// (sanitized) build still makes it.
  replay::redis_options tls_options(const tls_material& tls) const {
    replay::redis_options o = tcp_options();
    o.address.tls = true;
    o.tls.ca_file = tls.ca();
    o.timeout = 1s;
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
  std::vector<std::string> extra_;     // more of redis-server's options (--replicaof ...)
  const tls_material* tls_ = nullptr;  // set: the port speaks TLS with these certificates
  client_certs certs_ = client_certs::not_asked;
  pid_t pid_ = -1;
};

// Why this machine cannot run the TLS tests (empty: it can): no openssl CLI, certificates that
// could not be made, or a redis-server without TLS (checked once, with `openssl s_client`, so
// that a refusal there is not taken for the store's).
inline const std::string& tls_unsupported() {
  static const std::string why = [] {
    const tls_material& tls = tls_material::get();
    if (!tls.error().empty()) return tls.error();
    redis_server probe{tls};
    if (!probe.up())
      return "redis-server did not start with --tls-port (built without TLS?): " + probe.log();
    const std::string out = tls.file("probe.log");
    const std::string cmd = "/usr/bin/openssl s_client -brief -verify_return_error -CAfile '" +
                            tls.ca() + "' -connect 127.0.0.1:" + std::to_string(probe.port()) +
                            " </dev/null >'" + out + "' 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::ostringstream log;
      log << std::ifstream{out}.rdbuf();
      return "redis-server's TLS port did not complete a handshake with openssl s_client: " +
             log.str() + probe.log();
    }
    return std::string{};
  }();
  return why;
}

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

// The Redis fixture (skips without redis-server) that also skips without TLS on this machine.
struct redis_tls : redis_store {
  void SetUp() override {
    redis_store::SetUp();
    if (IsSkipped()) return;
    if (const std::string& why = tls_unsupported(); !why.empty()) GTEST_SKIP() << why;
  }
  const tls_material& tls = tls_material::get();
};

// A key's name in Redis under the default prefix.
inline std::string name_of(const replay_key& k) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = replay::redis_options{}.prefix;
  for (byte b : k.bytes) out += digits[b >> 4], out += digits[b & 15];
  return out;
}

// What a store answered, in words: "first", "replay", or "error: <message>".
inline std::string seen(const result<sighting>& r) {
  if (!r) return "error: " + to_string(r.error());
  return *r == sighting::first ? "first" : "replay";
}

}  // namespace knock::test_redis
