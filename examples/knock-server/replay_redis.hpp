// SPDX-License-Identifier: MIT
#pragma once
// knock-server's Redis replay store (knock/replay/redis_store.hpp), shared by a pair of gateways:
//   KNOCK_REPLAY_REDIS                redis://host:port[,host:port...][/db], unix:///path[?db=N]
//                                     or redis-sentinel://host:port[,host:port...]/MASTER[/db];
//                                     rediss:// and rediss-sentinel:// for TLS
//   KNOCK_REPLAY_REDIS_TLS_CA         rediss: the PEM CAs that sign Redis's certificate (default:
//                                     the system's)
//   KNOCK_REPLAY_REDIS_TLS_CERT       rediss: a client certificate (tls-auth-clients), with
//   KNOCK_REPLAY_REDIS_TLS_KEY        its private key (not readable by every user)
//   KNOCK_REPLAY_REDIS_TLS_NAME       rediss: the name Redis's certificate must carry (default:
//                                     each endpoint's host)
//   KNOCK_REPLAY_REDIS_TLS_CRL        rediss: PEM CRLs, one for each CA of Redis's chain: a revoked
//                                     certificate is refused (read at start-up, and again by a new
//                                     connection when the file changed)
//   KNOCK_REPLAY_REDIS_PASSWORD_FILE  a file whose first line is the AUTH password (not readable
//                                     by every user); the password is never logged
//   KNOCK_REPLAY_REDIS_TIMEOUT        the deadline in ms, to connect and for each reply (50)
//   KNOCK_REPLAY_REDIS_PREFIX         of every key (knock:replay:); one per fleet sharing a Redis
//   KNOCK_REPLAY_REDIS_WAIT           1..64: replicas that must hold a batch's keys (WAIT, within
//                                     3/4 of the deadline) before its packets count as new; unset,
//                                     none is waited for
// Set, it replaces the replay log (DIGEST_FILE) in the daemon and in --decode. A build without
// hiredis (KNOCK_WITH_REDIS=OFF) refuses KNOCK_REPLAY_REDIS with a message saying so.

#include "log.hpp"

#include <knock/config/fwknopd_conf.hpp>
#include <knock/config/values.hpp>
#include <knock/replay/redis_url.hpp>

#ifndef KNOCK_SERVER_REDIS  // set by CMake when the knock::redis component (hiredis) exists
#define KNOCK_SERVER_REDIS 0
#endif
#if KNOCK_SERVER_REDIS
#include <knock/replay/redis_store.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>

#include <sys/stat.h>

namespace knock_server {

inline constexpr bool built_with_redis = KNOCK_SERVER_REDIS != 0;

/// KNOCK_REPLAY_REDIS and its companions, checked.
struct redis_settings {
  std::string url;  ///< as configured (a password in it is refused)
  knock::replay::redis_address address;
  std::shared_ptr<const knock::secret_bytes> password;  ///< empty: no AUTH
  std::uint32_t timeout_ms = 50;
  std::string prefix = "knock:replay:";
  std::uint32_t wait_replicas = 0;                           ///< KNOCK_REPLAY_REDIS_WAIT
  std::string tls_ca, tls_cert, tls_key, tls_name, tls_crl;  ///< KNOCK_REPLAY_REDIS_TLS_*
#if KNOCK_SERVER_REDIS
  /// Made from those files when the settings are read: before the daemon drops privileges, so a
  /// key only root may read still serves the unprivileged daemon.
  std::optional<knock::replay::redis_tls_context> tls_context;
#endif
};

namespace detail {
inline constexpr const char* redis_tls_variables[] = {
    "KNOCK_REPLAY_REDIS_TLS_CA", "KNOCK_REPLAY_REDIS_TLS_CERT", "KNOCK_REPLAY_REDIS_TLS_KEY",
    "KNOCK_REPLAY_REDIS_TLS_NAME", "KNOCK_REPLAY_REDIS_TLS_CRL"};
}  // namespace detail

/// KNOCK_REPLAY_REDIS_TLS_* into `r`: only with a rediss URL; the files are loaded once here (as
/// each connection will load them), so a bad one is an error at its own line.
inline knock::result<void, knock::config::config_error> read_redis_tls(
    const knock::config::fwknopd_conf& c, redis_settings& r) {
  using knock::fail;
  using knock::config::printable;
  if (!r.address.tls) {
    for (const char* v : detail::redis_tls_variables)
      if (c.has(v))
        return fail(c.error(v, "set, but KNOCK_REPLAY_REDIS is not a rediss:// URL (TLS)"));
    return {};
  }
  r.tls_ca = c.text("KNOCK_REPLAY_REDIS_TLS_CA");
  r.tls_cert = c.text("KNOCK_REPLAY_REDIS_TLS_CERT");
  r.tls_key = c.text("KNOCK_REPLAY_REDIS_TLS_KEY");
  r.tls_name = c.text("KNOCK_REPLAY_REDIS_TLS_NAME");
  r.tls_crl = c.text("KNOCK_REPLAY_REDIS_TLS_CRL");
  if (r.tls_cert.empty() != r.tls_key.empty())
    return fail(
        c.error(r.tls_cert.empty() ? "KNOCK_REPLAY_REDIS_TLS_KEY" : "KNOCK_REPLAY_REDIS_TLS_CERT",
                "a client certificate needs both KNOCK_REPLAY_REDIS_TLS_CERT and "
                "KNOCK_REPLAY_REDIS_TLS_KEY"));
  if (!r.tls_key.empty()) {
    struct stat st {};
    if (::stat(r.tls_key.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0)
      return fail(c.error("KNOCK_REPLAY_REDIS_TLS_KEY",
                          "'" + printable(r.tls_key) +
                              "' is readable by every user: chmod o-r it (a private key)"));
  }
#if KNOCK_SERVER_REDIS
  auto made = knock::replay::redis_tls_context::make({.ca_file = r.tls_ca,
                                                      .cert_file = r.tls_cert,
                                                      .key_file = r.tls_key,
                                                      .server_name = r.tls_name,
                                                      .crl_file = r.tls_crl});
  if (!made) {
    const std::string& why = made.error();  // "TLS: <file>: <what>"
    const auto about = [&](const std::string& file) {
      return !file.empty() && why.starts_with("TLS: " + file + ":");
    };
    const char* variable = about(r.tls_key)    ? "KNOCK_REPLAY_REDIS_TLS_KEY"
                           : about(r.tls_cert) ? "KNOCK_REPLAY_REDIS_TLS_CERT"
                           : about(r.tls_ca)   ? "KNOCK_REPLAY_REDIS_TLS_CA"
                           : about(r.tls_crl)  ? "KNOCK_REPLAY_REDIS_TLS_CRL"
                                               : "KNOCK_REPLAY_REDIS";
    return fail(c.error(variable, printable(why)));
  }
  r.tls_context = *std::move(made);
#endif
  return {};
}

/// The Redis settings of `c`: nullopt when KNOCK_REPLAY_REDIS is not set; errors name
/// `file:line: VARIABLE`.
inline knock::result<std::optional<redis_settings>, knock::config::config_error>
read_redis_settings(const knock::config::fwknopd_conf& c) {
  using knock::fail;
  using knock::config::printable;
  if (!c.has("KNOCK_REPLAY_REDIS")) {
    for (const char* companion : {"KNOCK_REPLAY_REDIS_PASSWORD_FILE", "KNOCK_REPLAY_REDIS_TIMEOUT",
                                  "KNOCK_REPLAY_REDIS_PREFIX", "KNOCK_REPLAY_REDIS_WAIT"})
      if (c.has(companion)) return fail(c.error(companion, "set without KNOCK_REPLAY_REDIS"));
    for (const char* companion : detail::redis_tls_variables)
      if (c.has(companion)) return fail(c.error(companion, "set without KNOCK_REPLAY_REDIS"));
    return std::nullopt;
  }
  redis_settings r;
  r.url = c.text("KNOCK_REPLAY_REDIS");
  if (!built_with_redis)
    return fail(c.error("KNOCK_REPLAY_REDIS",
                        "this knock-server was built without Redis support (KNOCK_WITH_REDIS=OFF, "
                        "or libhiredis-dev was missing)"));
  auto address = knock::replay::parse_redis_url(r.url);
  if (!address) return fail(c.error("KNOCK_REPLAY_REDIS", address.error()));
  r.address = *std::move(address);
  auto timeout = c.number("KNOCK_REPLAY_REDIS_TIMEOUT", 50, 10000);
  if (!timeout) return fail(timeout.error());
  r.timeout_ms = *timeout;
  auto wait = c.number("KNOCK_REPLAY_REDIS_WAIT", 0, 64);
  if (!wait) return fail(wait.error());
  r.wait_replicas = *wait;
  r.prefix = c.text("KNOCK_REPLAY_REDIS_PREFIX", r.prefix);
  for (char ch : r.prefix)
    if (ch <= ' ' || ch == 0x7f)
      return fail(c.error("KNOCK_REPLAY_REDIS_PREFIX",
                          "'" + printable(r.prefix) + "' has a space or a control character"));
  if (c.has("KNOCK_REPLAY_REDIS_PASSWORD_FILE")) {
    const std::string path = c.text("KNOCK_REPLAY_REDIS_PASSWORD_FILE");
    const auto bad = [&](const std::string& why) {
      return fail(c.error("KNOCK_REPLAY_REDIS_PASSWORD_FILE", "'" + printable(path) + "' " + why));
    };
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      return bad(std::string{"cannot be read: "} + std::strerror(errno));
    if ((st.st_mode & S_IROTH) != 0)
      return bad("is readable by every user: chmod o-r it (it holds the Redis password)");
    auto text = knock::config::read_config_file(path);
    if (!text) return bad(text.error().message);
    std::string_view line{*text};
    line = line.substr(0, line.find('\n'));
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) {
      knock::secure_zero(text->data(), text->size());
      return bad("is empty: its first line is the password");
    }
    r.password = std::make_shared<const knock::secret_bytes>(line);
    knock::secure_zero(text->data(), text->size());
  }
  if (auto tls = read_redis_tls(c, r); !tls) return fail(tls.error());
  return r;
}

/// Logs a shared replay store going down and coming back, at most a line per tick (1 s): the
/// packets refused meanwhile carry the reason (`replay_store_unavailable`) in their own lines,
/// within the refusal budget. Does nothing for a store without `failures()` (memory, file).
struct replay_store_watch {
  template <class Store>
  void tick(const Store& store, const logger& log) {
    if constexpr (requires { store.failures(); }) {
      const std::uint64_t failures = store.failures();
      if (!down_ && failures != seen_) {
        down_ = true;
        log(LOG_ERR, "replay store unavailable: " + store.last_error() +
                         " (valid packets are refused until it answers; it is tried again "
                         "every second)");
      } else if (down_ && store.connected() && failures == seen_) {
        down_ = false;
        log(LOG_NOTICE, "replay store: Redis answers again at " + store.endpoint() + " (" +
                            std::to_string(failures - since_) +
                            " packet(s) refused while it was unavailable)");
      }
      if (!down_) since_ = failures;
      seen_ = failures;
    }
  }

 private:
  bool down_ = false;
  std::uint64_t seen_ = 0, since_ = 0;
};

#if KNOCK_SERVER_REDIS
/// The store for `r`, with a local filter of `local_keys` keys. It does not connect yet.
inline knock::replay::redis_store make_redis_store(const redis_settings& r,
                                                   std::size_t local_keys) {
  std::signal(SIGPIPE, SIG_IGN);  // the connection keeps SIGPIPE from us already; belt and braces
  knock::replay::redis_options o;
  o.address = r.address;
  o.tls = {.ca_file = r.tls_ca,
           .cert_file = r.tls_cert,
           .key_file = r.tls_key,
           .server_name = r.tls_name,
           .crl_file = r.tls_crl};
  o.tls_context = r.tls_context;
  if (r.password) o.password = r.password->clone();
  o.timeout = std::chrono::milliseconds{r.timeout_ms};
  o.prefix = r.prefix;
  o.local_capacity = local_keys;
  // WAIT has three quarters of the deadline: its answer must arrive before the read times out.
  o.wait_replicas = r.wait_replicas;
  o.wait_timeout = std::chrono::milliseconds{std::max<std::uint32_t>(1, r.timeout_ms * 3 / 4)};
  return knock::replay::redis_store{std::move(o)};
}

/// The daemon's store: connects once now, to say in the log where it writes (or that it cannot
/// yet: it starts anyway, refusing valid packets until Redis answers).
inline knock::replay::redis_store open_redis_store(const redis_settings& r, std::size_t local_keys,
                                                   const logger& log) {
  auto store = make_redis_store(r, local_keys);
  if (auto ok = store.connect(); ok)
    log(LOG_NOTICE,
        "replay store: Redis at " + store.endpoint() + " (db " + std::to_string(r.address.db) +
            ", keys " + r.prefix + "<sha256>, deadline " + std::to_string(r.timeout_ms) + " ms" +
            (r.wait_replicas == 0
                 ? std::string{}
                 : ", waiting for " + std::to_string(r.wait_replicas) + " replica(s) per batch") +
            (r.address.sentinel_master.empty()
                 ? std::string{}
                 : "; the primary of '" + r.address.sentinel_master + "', from Sentinel") +
            ")");
  else
    log(LOG_ERR, "replay store unavailable: " + store.last_error() +
                     " (valid packets are refused until it answers; it is tried again every "
                     "second)");
  return store;
}
#endif

}  // namespace knock_server
