// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// SPA over HTTP, as fwknop's client sends it (`-P http`, `-H PROXY`): the packet is the path of
/// a GET request, in base64's URL alphabet ('+' as '-', '/' as '_', which fwknopd turns back),
/// with fwknop's User-Agent (fwknopd refuses others unless ALLOW_ANY_USER_AGENT). Through a
/// proxy the request names the full URL `http://SERVER/PACKET` and goes to the proxy.
/// Pure functions; the connection is send.hpp's.

#include <knock/core/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace knock {

/// Where an HTTP proxy listens.
struct http_proxy {
  std::string host;
  std::uint16_t port = 0;
};

/// Reads fwknop's -H value: `[http://]host[:port][/path]` (the path is not used); without a port
/// the proxy is on `default_port` (fwknop: the SPA server port). An error says what is wrong.
inline result<http_proxy, std::string> parse_http_proxy(std::string_view v,
                                                        std::uint16_t default_port) {
  if (v.size() >= 7 && (v.substr(0, 7) == "http://" || v.substr(0, 7) == "HTTP://"))
    v.remove_prefix(7);
  v = v.substr(0, v.find('/'));
  http_proxy out{std::string{v.substr(0, v.find(':'))}, default_port};
  if (out.host.empty()) return fail(std::string{"the HTTP proxy has no host name"});
  for (char c : out.host)
    if (c <= 0x20 || c > 0x7e)
      return fail(std::string{"the HTTP proxy's host name is not printable"});
  if (const auto colon = v.find(':'); colon != std::string_view::npos) {
    const std::string_view digits = v.substr(colon + 1);
    std::uint32_t port = 0;
    for (char c : digits)
      port = c >= '0' && c <= '9' && port <= 65535 ? port * 10 + static_cast<std::uint32_t>(c - '0')
                                                   : 70000;
    if (digits.empty() || port == 0 || port > 65535)
      return fail(std::string{"the HTTP proxy's port is not 1..65535"});
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

/// The GET request carrying `packet` (an SPA wire string) to `server`; through a proxy when
/// `via_proxy` (the request line then names the whole URL).
inline std::string http_request(std::string_view packet, std::string_view server,
                                std::string_view user_agent, bool via_proxy) {
  std::string r = "GET ";
  if (via_proxy) r.append("http://").append(server);
  r += '/';
  for (char c : packet) r += c == '+' ? '-' : c == '/' ? '_' : c;
  r.append(" HTTP/1.1\r\nUser-Agent: ").append(user_agent);
  r.append("\r\nAccept: */*\r\nHost: ").append(server);
  r.append("\r\nConnection: close\r\n\r\n");
  return r;
}

}  // namespace knock
