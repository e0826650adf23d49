// SPDX-License-Identifier: MIT
#pragma once
// From settings to what the library takes: a knock::request (fwknop's rules for the message, the
// NAT forms and the username) and a knock::destination.

#include "settings.hpp"

#include <knock/client/request.hpp>
#include <knock/client/send.hpp>
#include <knock/wire/grammar.hpp>

#include <pwd.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace knock_client {

/// fwknop's client keeps 29 characters of a username (spec Q14).
inline constexpr std::size_t max_username = 29;

/// The username fwknop 2.6's client sends without -U: SPOOF_USER, LOGNAME, the effective user's
/// name (libfko's cuserid), USER, else "NO_USER".
inline std::string default_username() {
  for (const char* name : {"SPOOF_USER", "LOGNAME"})
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buf;
  if (::getpwuid_r(::geteuid(), &entry, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr && *found->pw_name != '\0')
    return found->pw_name;
  if (const char* v = std::getenv("USER"); v != nullptr && *v != '\0') return v;
  return "NO_USER";
}

/// The port of the first `proto/port` of an access list ("22" for "tcp/22,udp/53").
inline std::string_view first_port(std::string_view access) {
  access = access.substr(0, access.find(','));
  const std::size_t slash = access.find('/');
  return slash == std::string_view::npos ? std::string_view{} : access.substr(slash + 1);
}

/// fwknop's -N forms: "host:port" and "host,port" give "host,port"; a bare host takes the port of
/// the access request.
inline std::string nat_target(std::string_view spec, std::string_view access_port) {
  if (spec.find(',') != std::string_view::npos) return std::string{spec};
  const std::size_t colon = spec.rfind(':');
  if (colon != std::string_view::npos && knock::wire::parse_port(spec.substr(colon + 1)))
    return std::string{spec.substr(0, colon)} + ',' + std::string{spec.substr(colon + 1)};
  return std::string{spec} + ',' + std::string{access_port};
}

/// The request `s` and `command` (-C) describe, at `now` (before TIME_OFFSET is applied).
/// `fallback_user` is used when SPOOF_USER / -U is not set.
inline result<knock::request, std::string> make_request(const settings& s, std::string_view command,
                                                        std::int64_t now,
                                                        std::string_view fallback_user) {
  namespace v = values;
  knock::request r;
  if (s.allow_ip.empty())
    return knock::fail(
        std::string{"say which address to open: -a IP, or -s for the packet's source"});
  r.allow_ip = s.allow_ip;
  r.digest_type = s.digest;
  r.client_timeout = s.fw_timeout;
  r.timestamp = now + s.time_offset;
  if (r.timestamp < 0) return knock::fail(std::string{"the time offset reaches before 1970"});

  r.username = s.user.empty() ? std::string{fallback_user} : s.user;
  if (r.username.size() > max_username) r.username.resize(max_username);
  if (r.username.empty()) return knock::fail(std::string{"the username is empty"});
  for (char c : r.username)
    if (!knock::wire::is_username_char(c))
      return knock::fail("username " + v::quoted(r.username) +
                         " has a character fwknop refuses (\" / \\ [ ] : ; | = , + * ? < >)");

  if (!command.empty()) {
    for (char c : command)
      if (c < 0x20 || c > 0x7e)
        return knock::fail(std::string{"-C: the command must be printable ASCII"});
    r.command = command;
    return r;
  }
  if (s.access.empty())
    return knock::fail(std::string{"-A is required: the ports to open, such as -A tcp/22"});
  r.access = s.access;
  const std::string port{first_port(s.access)};
  if (s.nat_port != 0) {  // the port to translate replaces the one in -A
    if (s.access.find(',') != std::string::npos)
      return knock::fail(std::string{"--nat-port takes a single proto/port in -A (as fwknop)"});
    r.access = s.access.substr(0, s.access.find('/') + 1) + std::to_string(s.nat_port);
  }
  if (s.nat_local && !s.nat_access.empty())
    return knock::fail(std::string{"use -N or --nat-local, not both"});
  if (s.nat_local) {
    if (s.server.empty())
      return knock::fail(std::string{"--nat-local needs -D: the NAT target is the server itself"});
    r.nat = knock::nat_mode::local;
    r.nat_access = s.server + ',' + port;
  } else if (!s.nat_access.empty()) {
    r.nat = knock::nat_mode::forward;
    r.nat_access = nat_target(s.nat_access, port);
  }
  if (r.nat != knock::nat_mode::none && !knock::wire::is_nat_access(r.nat_access))
    return knock::fail("NAT access " + v::quoted(r.nat_access) +
                       " is not host,port (host without spaces or / ? \" ' \\, port 1..65535)");
  return r;
}

/// Where to send, from `s`; `ipv6` is -6.
inline result<knock::destination, std::string> make_destination(const settings& s, bool ipv6) {
  if (s.server.empty())
    return knock::fail(std::string{"-D is required (the fwknopd server) unless --test is given"});
  if (ipv6 && s.family == knock::ip_family::v4)
    return knock::fail(std::string{"use -4 or -6, not both"});
  knock::destination d;
  d.host = s.server;
  d.port = s.server_port;
  d.protocol = s.protocol;
  d.family = ipv6 ? knock::ip_family::v6 : s.family;
  d.source_port = s.source_port;
  return d;
}

}  // namespace knock_client
