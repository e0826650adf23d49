// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::redis_socket`: one connection to a Redis server — TCP, a unix socket, or TCP
/// with TLS — that writes commands already in RESP and reads replies with hiredis's reply parser
/// (`redisReader`), whose replies come from the connection's own slots
/// (knock/replay/redis_reply.hpp: no allocation for a packet's reply). `redis_tls_context`
/// (knock/replay/redis_tls.hpp): the TLS client settings.
///
/// Why not hiredis's own connection (`redisContext`): Debian 12's hiredis is 0.14, which has no
/// TLS and no way to put one under its reads and writes. Its parser is all this needs of it.
///
/// Every wait (connecting, the TLS handshake, each write, each reply) has the deadline; a reply
/// that does not come in time is "no reply within the deadline", a connection the server closed
/// "the server closed the connection". Writes use `MSG_NOSIGNAL` on plain sockets. OpenSSL writes
/// with write(2), which raises SIGPIPE on a connection the server reset: each OpenSSL call runs
/// with SIGPIPE blocked in its thread, and a SIGPIPE it raised is taken before the mask is put
/// back (`detail::sigpipe_guard`), so a program need not ignore SIGPIPE to use TLS.
///
/// OpenSSL is not linked: knock/replay/openssl_runtime.hpp loads it when the first TLS context is
/// made (a program that never asks for TLS never maps it).
///
/// TLS: 1.2 or later, the server's certificate verified against `ca_file` (or the system's CAs),
/// and its name checked: `server_name` when set, else the endpoint's host (an address is checked
/// against the certificate's IP addresses). `cert_file` and `key_file` give a client certificate,
/// for servers with `tls-auth-clients yes`. Errors name what failed ("TLS handshake: certificate
/// verify failed (hostname mismatch)") and never hold key material.

#include <knock/core/bytes.hpp>
#include <knock/core/error.hpp>
#include <knock/core/result.hpp>
#include <knock/detail/sigpipe_guard.hpp>
#include <knock/replay/redis_reply.hpp>
#include <knock/replay/redis_tls.hpp>
#include <knock/replay/redis_url.hpp>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace knock::replay {

namespace detail {
struct reader_free {
  void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
};
}  // namespace detail

/// One connection to a Redis server. Move-only; closes itself.
class redis_socket {
 public:
  using milliseconds = std::chrono::milliseconds;
  /// How the last read or write failed.
  enum class failure : std::uint8_t { none, timeout, closed, io, protocol };

  redis_socket(redis_socket&& o) noexcept
      : fd_{std::exchange(o.fd_, -1)},
        ssl_{std::move(o.ssl_)},
        pool_{std::move(o.pool_)},
        reader_{std::move(o.reader_)},
        timeout_{o.timeout_},
        out_{std::move(o.out_)},
        wipe_{o.wipe_},
        failed_{o.failed_},
        error_{std::move(o.error_)} {}
  redis_socket& operator=(redis_socket&&) = delete;
  ~redis_socket() {
    if (ssl_) {  // a close_notify, not waited for
      const knock::detail::sigpipe_guard quiet;
      detail::openssl().SSL_shutdown(ssl_.get());
    }
    if (fd_ >= 0) ::close(fd_);
  }

  /// Connects to `e` within `timeout` (and, with `tls`, does the handshake); the error names what
  /// failed ("Connection refused", "TLS handshake: certificate verify failed (...)").
  static result<redis_socket, std::string> connect(const redis_endpoint& e,
                                                   const redis_tls_context* tls,
                                                   milliseconds timeout) {
    redis_socket s{timeout};
    if (!s.reader_) return fail(std::string{"out of memory"});
    const auto deadline = clock::now() + timeout;
    if (auto ok = e.unix_path.empty() ? s.connect_tcp(e, deadline) : s.connect_unix(e, deadline);
        !ok)
      return fail(ok.error());
    if (tls != nullptr)
      if (auto ok = s.handshake(*tls, e.host, deadline); !ok) return fail(ok.error());
    return s;
  }

  /// The deadline of each wait from now on.
  void set_timeout(milliseconds t) noexcept { timeout_ = t; }
  milliseconds timeout() const noexcept { return timeout_; }

  /// Queues `resp` (commands in RESP) for the next `reply()` to write; `secret`: it holds a
  /// password, zeroed in the buffer once written. May throw std::bad_alloc.
  void append(std::string_view resp, bool secret = false) {
    out_.append(resp);
    wipe_ = wipe_ || secret;
  }

  /// Writes what is queued, then reads the next reply; null when either fails (`failed()`,
  /// `error()`: then the connection is of no more use). The reply must go before the connection.
  redis_reply reply() {
    if (failed_ != failure::none) return nullptr;
    if (!out_.empty() && !write_all()) return nullptr;
    for (;;) {
      void* got = nullptr;
      if (redisReaderGetReply(reader_.get(), &got) != REDIS_OK)
        return failed(failure::protocol,
                      "a reply that is not RESP: " + std::string{reader_->errstr});
      if (got != nullptr) return redis_reply{static_cast<redisReply*>(got)};
      if (!read_some()) return nullptr;
    }
  }
  /// `append(resp, secret)`, then `reply()`.
  redis_reply command(std::string_view resp, bool secret = false) {
    append(resp, secret);
    return reply();
  }

  failure failed() const noexcept { return failed_; }
  /// Why the last read or write failed.
  const std::string& error() const noexcept { return error_; }

 private:
  using clock = std::chrono::steady_clock;

  explicit redis_socket(milliseconds timeout)
      : pool_{new (std::nothrow) detail::reply_pool},
        reader_{pool_ ? pool_->make_reader() : nullptr},
        timeout_{timeout} {}

  std::nullptr_t failed(failure f, std::string why) {
    failed_ = f;
    error_ = std::move(why);
    return nullptr;
  }
  static std::string system_text(int err) { return std::strerror(err); }

  // Waits until the socket is ready for `events`, at most until `deadline`; false at the deadline
  // (errno ETIMEDOUT) or on an error.
  bool wait(short events, clock::time_point deadline) const noexcept {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - clock::now()).count() + 1;
      if (left <= 0) return errno = ETIMEDOUT, false;
      pollfd p{fd_, events, 0};
      const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
      if (n > 0) return true;
      if (n == 0) return errno = ETIMEDOUT, false;
      if (errno != EINTR) return false;
    }
  }

  // A nonblocking connect to one address, finished within `deadline`.
  result<void, std::string> connect_to(const sockaddr* a, socklen_t len, int family,
                                       clock::time_point deadline) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail(system_text(errno));
    if (::connect(fd_, a, len) == 0) return {};
    if (errno != EINPROGRESS) return fail(system_text(errno));
    if (!wait(POLLOUT, deadline)) return fail(system_text(errno));
    int err = 0;
    socklen_t err_len = sizeof err;
    if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0) err = errno;
    if (err != 0) return fail(system_text(err));
    return {};
  }

  result<void, std::string> connect_tcp(const redis_endpoint& e, clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(e.port);
    if (const int rc = ::getaddrinfo(e.host.c_str(), port.c_str(), &hints, &found); rc != 0)
      return fail("cannot resolve: " + std::string{::gai_strerror(rc)});
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list{found, &::freeaddrinfo};
    std::string why = "no address";
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
      auto ok = connect_to(a->ai_addr, a->ai_addrlen, a->ai_family, deadline);
      if (ok) {
        const int on = 1;  // commands go out whole: no waiting for more to fill a segment
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        return {};
      }
      why = ok.error();
    }
    return fail(why);
  }

  result<void, std::string> connect_unix(const redis_endpoint& e, clock::time_point deadline) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (e.unix_path.size() >= sizeof a.sun_path) return fail(std::string{"the path is too long"});
    std::memcpy(a.sun_path, e.unix_path.c_str(), e.unix_path.size() + 1);
    return connect_to(reinterpret_cast<const sockaddr*>(&a), sizeof a, AF_UNIX, deadline);
  }

  // Runs an OpenSSL call until it completes, waiting (within `deadline`) whenever it wants to
  // read or write; its result, or <= 0 with the SSL error in `ssl_error`.
  template <class Call>
  int ssl_io(Call&& call, clock::time_point deadline, int& ssl_error) {
    const auto& ssl = detail::openssl();
    const knock::detail::sigpipe_guard quiet;  // OpenSSL writes with write(2)
    for (;;) {
      ssl.ERR_clear_error();
      const int n = call();
      if (n > 0) return n;
      ssl_error = ssl.SSL_get_error(ssl_.get(), n);
      const short events = ssl_error == SSL_ERROR_WANT_READ    ? POLLIN
                           : ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                               : 0;
      if (events == 0 || !wait(events, deadline)) return n;
    }
  }

  result<void, std::string> handshake(const redis_tls_context& tls, const std::string& host,
                                      clock::time_point deadline) {
    const auto& ssl = detail::openssl();
    auto store = tls.verify_store();  // the CRLs as they are on disk now
    if (!store) return fail(store.error());
    ssl_.reset(ssl.SSL_new(tls.get()));
    if (!ssl_ || ssl.SSL_set_fd(ssl_.get(), fd_) != 1 ||
        (*store && ssl.SSL_ctrl(ssl_.get(), SSL_CTRL_SET_VERIFY_CERT_STORE, 1, store->get()) != 1))
      return fail("TLS: " + detail::openssl_errors("cannot make a connection"));
    const std::string& name = tls.server_name().empty() ? host : tls.server_name();
    in6_addr ip;
    const bool is_ip = ::inet_pton(AF_INET, name.c_str(), &ip) == 1 ||
                       ::inet_pton(AF_INET6, name.c_str(), &ip) == 1;
    const bool named =
        is_ip ? ssl.X509_VERIFY_PARAM_set1_ip_asc(ssl.SSL_get0_param(ssl_.get()), name.c_str()) == 1
              : ssl.SSL_set1_host(ssl_.get(), name.c_str()) == 1 &&
                    ssl.SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                                 TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str())) == 1;
    if (!named) return fail("TLS: '" + name + "': " + detail::openssl_errors("not a usable name"));
    int ssl_error = 0;
    if (ssl_io([&] { return ssl.SSL_connect(ssl_.get()); }, deadline, ssl_error) > 0) return {};
    std::string why = ssl_failure(ssl_error, "the handshake failed");
    if (const long v = ssl.SSL_get_verify_result(ssl_.get()); v != X509_V_OK)
      why += " (" + std::string{ssl.X509_verify_cert_error_string(v)} + ")";
    ssl_.reset();  // no close_notify on a connection that never was
    return fail("TLS handshake: " + why);
  }

  // What a failed SSL call means, in words.
  std::string ssl_failure(int ssl_error, std::string_view otherwise) const {
    const auto& ssl = detail::openssl();
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE)
      return errno == ETIMEDOUT ? "no answer within the deadline" : system_text(errno);
    if (ssl_error == SSL_ERROR_ZERO_RETURN) return "the server closed the connection";
    if (ssl_error == SSL_ERROR_SYSCALL && ssl.ERR_peek_error() == 0)
      return errno == 0 ? "the server closed the connection" : system_text(errno);
    return detail::openssl_errors(otherwise);
  }

  // Writes `out_` whole, each wait within the deadline.
  bool write_all() {
    const auto deadline = clock::now() + timeout_;
    std::size_t done = 0;
    while (done < out_.size()) {
      const char* p = out_.data() + done;
      const std::size_t left = out_.size() - done;
      if (ssl_) {  // (OpenSSL is asked for only here: a plain connection never loads it)
        const auto& ssl = detail::openssl();
        int ssl_error = 0;
        const int n = ssl_io(
            [&] {
              return ssl.SSL_write(ssl_.get(), p,
                                   static_cast<int>(std::min<std::size_t>(left, 1 << 30)));
            },
            deadline, ssl_error);
        if (n <= 0)
          return clear_output(), failed(io_kind(ssl_error), ssl_failure(ssl_error, "write")), false;
        done += static_cast<std::size_t>(n);
        continue;
      }
      const ssize_t n = ::send(fd_, p, left, MSG_NOSIGNAL);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!wait(POLLOUT, deadline))
          return clear_output(),
                 failed(errno == ETIMEDOUT ? failure::timeout : failure::io,
                        errno == ETIMEDOUT ? "no reply within the deadline" : system_text(errno)),
                 false;
      } else {
        const int err = errno;
        return clear_output(),
               failed(err == EPIPE || err == ECONNRESET ? failure::closed : failure::io,
                      err == EPIPE || err == ECONNRESET ? "the server closed the connection"
                                                        : system_text(err)),
               false;
      }
    }
    clear_output();
    return true;
  }

  // Empties the output buffer, zeroing it first when it held a password.
  void clear_output() noexcept {
    if (std::exchange(wipe_, false)) secure_zero(out_.data(), out_.size());
    out_.clear();
  }

  failure io_kind(int ssl_error) const noexcept {
    if ((ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) &&
        errno == ETIMEDOUT)
      return failure::timeout;
    if (ssl_error == SSL_ERROR_ZERO_RETURN ||
        (ssl_error == SSL_ERROR_SYSCALL && (errno == 0 || errno == ECONNRESET || errno == EPIPE)))
      return failure::closed;
    return failure::io;
  }

  // Reads what has come (waiting within the deadline) into the reply parser.
  bool read_some() {
    const auto deadline = clock::now() + timeout_;
    char buffer[16 * 1024];
    for (;;) {
      ssize_t n = 0;
      if (ssl_) {
        const auto& ssl = detail::openssl();
        int ssl_error = 0;
        n = ssl_io([&] { return ssl.SSL_read(ssl_.get(), buffer, sizeof buffer); }, deadline,
                   ssl_error);
        if (n <= 0) {
          const failure f = io_kind(ssl_error);
          return failed(f, f == failure::timeout ? "no reply within the deadline"
                                                 : ssl_failure(ssl_error, "read")),
                 false;
        }
      } else {
        n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n == 0) return failed(failure::closed, "the server closed the connection"), false;
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (wait(POLLIN, deadline)) continue;
            return failed(errno == ETIMEDOUT ? failure::timeout : failure::io,
                          errno == ETIMEDOUT ? "no reply within the deadline" : system_text(errno)),
                   false;
          }
          const int err = errno;
          return failed(err == ECONNRESET ? failure::closed : failure::io,
                        err == ECONNRESET ? "the server closed the connection" : system_text(err)),
                 false;
        }
      }
      if (redisReaderFeed(reader_.get(), buffer, static_cast<std::size_t>(n)) != REDIS_OK)
        return failed(failure::protocol, "out of memory"), false;
      return true;
    }
  }

  int fd_ = -1;
  std::unique_ptr<SSL, detail::ssl_free> ssl_;
  std::unique_ptr<detail::reply_pool> pool_;  // before the reader, which gives replies back to it
  std::unique_ptr<redisReader, detail::reader_free> reader_;
  milliseconds timeout_;
  std::string out_;    // RESP waiting for the next write
  bool wipe_ = false;  // out_ holds a password: zeroed when written
  failure failed_ = failure::none;
  std::string error_;
};

}  // namespace knock::replay
