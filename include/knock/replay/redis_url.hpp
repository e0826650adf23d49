// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Where a Redis replay store lives (knock/replay/redis_store.hpp), written as a URL:
///
///     redis://host[:port][,host[:port]...][/db]     TCP, endpoints tried in order (port 6379)
///     redis://[2001:db8::7]:6379,10.0.0.8/2          IPv6 in brackets; database 2
///     unix:///run/redis/redis.sock[?db=N]            a unix socket
///     redis-sentinel://host[:port][,host[:port]...]/MASTER[/db]
///                                                    Sentinel (port 26379): the sentinels, asked
///                                                    in order where MASTER's primary is
///     rediss://...  rediss-sentinel://...            the same over TLS (every connection:
///                                                    sentinels and data servers alike)
///
/// Refused, with a message that says why: a password in the URL (it would sit in the
/// configuration and in logs: the store reads it from a file), any other scheme, an empty host, a
/// port outside 1..65535, a database outside 0..65535, a Sentinel URL without a master name or
/// with one that is not letters, digits, `.`, `-`, `_`.
/// Parsing needs no Redis library: a program checks its configuration without one.

#include <knock/core/result.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace knock::replay {

/// One Redis server: a TCP host and port, or a unix socket (`unix_path` set).
struct redis_endpoint {
  std::string host;
  std::uint16_t port = 6379;
  std::string unix_path;

  /// `host:port`, `[v6]:port` or the socket's path, for log lines.
  std::string describe() const {
    if (!unix_path.empty()) return unix_path;
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  friend bool operator==(const redis_endpoint&, const redis_endpoint&) = default;
};

/// The endpoints, in the order they are tried, and the database to `SELECT`. With
/// `sentinel_master` set, the endpoints are Redis Sentinels, asked in order for that primary.
struct redis_address {
  std::vector<redis_endpoint> endpoints;
  std::uint16_t db = 0;
  std::string sentinel_master;  ///< not empty: Sentinel addressing (`redis-sentinel://`)
  bool tls = false;             ///< `rediss://`, `rediss-sentinel://`: every connection over TLS
};

namespace detail {

inline bool redis_number(std::string_view text, std::uint32_t max, std::uint32_t& out) noexcept {
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, out);
  return !text.empty() && r.ec == std::errc{} && r.ptr == end && out <= max;
}

inline bool redis_host_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

// `host[:port]` or `[v6][:port]`; the error says which item is wrong.
inline result<redis_endpoint, std::string> redis_host_port(std::string_view item,
                                                           std::uint16_t default_port = 6379) {
  redis_endpoint e;
  e.port = default_port;
  std::string_view host = item, port;
  if (item.starts_with('[')) {
    const std::size_t close = item.find(']');
    if (close == std::string_view::npos) return fail("'" + std::string{item} + "': no ']'");
    host = item.substr(1, close - 1);
    const std::string_view rest = item.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':'))
      return fail("'" + std::string{item} + "': expected ':port' after ']'");
    if (!rest.empty()) port = rest.substr(1);
    for (char c : host)
      if (!(c == ':' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
            (c >= 'A' && c <= 'F')))
        return fail("'" + std::string{item} + "': not an IPv6 address in brackets");
  } else {
    const std::size_t colon = item.find(':');
    if (colon != std::string_view::npos && item.find(':', colon + 1) != std::string_view::npos)
      return fail("'" + std::string{item} + "': an IPv6 address goes in brackets ([::1]:6379)");
    if (colon != std::string_view::npos)
      host = item.substr(0, colon), port = item.substr(colon + 1);
    for (char c : host)
      if (!redis_host_char(c))
        return fail("'" + std::string{item} +
                    "': a host is a name or an address (an IPv6 address goes in brackets)");
  }
  if (host.empty()) return fail("'" + std::string{item} + "': no host");
  e.host = std::string{host};
  if (item.find(':') != std::string_view::npos && !item.starts_with('[') && port.empty())
    return fail("'" + std::string{item} + "': empty port");
  if (!port.empty()) {
    std::uint32_t p = 0;
    if (!redis_number(port, 65535, p) || p == 0)
      return fail("'" + std::string{item} + "': the port is not a number in 1..65535");
    e.port = static_cast<std::uint16_t>(p);
  }
  return e;
}

}  // namespace detail

/// Parses a Redis URL (see the file comment). The error is a sentence for
/// `file:line: KNOCK_REPLAY_REDIS: <it>`; it never repeats a password.
inline result<redis_address, std::string> parse_redis_url(std::string_view url) {
  redis_address a;
  // TLS: the same URLs with `rediss` for `redis`, parsed alike.
  std::string tls_url;
  if (url.starts_with("rediss://") || url.starts_with("rediss-sentinel://")) {
    tls_url = "redis" + std::string{url.substr(6)};
    url = tls_url;
    a.tls = true;
  }
  if (url.starts_with("sentinel://"))
    return fail(std::string{
        "not a Redis URL: Sentinel is redis-sentinel://host[:port][,host[:port]...]/MASTER[/db]"});
  const bool sentinel = url.starts_with("redis-sentinel://");
  if (url.starts_with("unix://")) {
    std::string_view path = url.substr(7);
    if (const std::size_t q = path.find('?'); q != std::string_view::npos) {
      const std::string_view query = path.substr(q + 1);
      std::uint32_t db = 0;
      if (!query.starts_with("db=") || !detail::redis_number(query.substr(3), 65535, db))
        return fail("'" + std::string{query} + "': the only option is ?db=N (0..65535)");
      a.db = static_cast<std::uint16_t>(db);
      path = path.substr(0, q);
    }
    if (!path.starts_with('/'))
      return fail(
          std::string{"unix://: the socket's path must be absolute (unix:///run/redis.sock)"});
    a.endpoints.push_back({.host = {}, .port = 0, .unix_path = std::string{path}});
    return a;
  }
  if (!url.starts_with("redis://") && !sentinel)
    return fail(std::string{
        "not a Redis URL: redis://host[:port][,host[:port]...][/db], "
        "redis-sentinel://host[:port][,host[:port]...]/MASTER[/db], the same with rediss "
        "(TLS), or unix:///path[?db=N]"});
  std::string_view rest = url.substr(sentinel ? 17 : 8);
  if (rest.find('@') != std::string_view::npos)
    return fail(std::string{
        "a user or password in the URL is refused (it would sit in the configuration and in "
        "logs): put the password in a file named by KNOCK_REPLAY_REDIS_PASSWORD_FILE"});
  std::string_view db_text;
  bool has_db = false;
  if (sentinel) {  // hosts/MASTER[/db]: the master's name after the first '/'
    const std::size_t slash = rest.find('/');
    std::string_view master =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (const std::size_t db_slash = master.find('/'); db_slash != std::string_view::npos) {
      db_text = master.substr(db_slash + 1);
      has_db = true;
      master = master.substr(0, db_slash);
    }
    if (master.empty())
      return fail(std::string{
          "redis-sentinel://: no master name (redis-sentinel://host[:26379][,host...]/MASTER[/db], "
          "MASTER as named in the sentinels' 'sentinel monitor MASTER ...')"});
    for (char c : master)
      if (!detail::redis_host_char(c))
        return fail("'" + std::string{master} +
                    "': a master name is letters, digits, '.', '-' and '_'");
    a.sentinel_master = std::string{master};
    rest = rest.substr(0, slash);
  } else if (const std::size_t slash = rest.rfind('/'); slash != std::string_view::npos) {
    // The database: a trailing /N (the only '/' outside brackets).
    db_text = rest.substr(slash + 1);
    has_db = true;
    rest = rest.substr(0, slash);
  }
  if (has_db) {
    std::uint32_t db = 0;
    if (!detail::redis_number(db_text, 65535, db))
      return fail("'/" + std::string{db_text} + "': the database is a number in 0..65535");
    a.db = static_cast<std::uint16_t>(db);
  }
  while (true) {
    const std::size_t comma = rest.find(',');
    auto e = detail::redis_host_port(rest.substr(0, comma), sentinel ? 26379 : 6379);
    if (!e) return fail(e.error());
    a.endpoints.push_back(*std::move(e));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return a;
}

}  // namespace knock::replay
