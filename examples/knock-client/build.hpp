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

/// libfko keeps 63 characters of a username it finds itself (a 64-byte buffer).
inline constexpr std::size_t max_found_username = 63;
/// The longest username fwknopd decodes: its base64 may be 64 characters (fwknop's --test
/// refuses longer ones: FKO_ERROR_INVALID_DATA_DECODE_USERNAME_TOOBIG).
inline constexpr std::size_t max_sent_username = 48;

/// The username fwknop 2.6's client sends without -U: the environment's SPOOF_USER, LOGNAME, the
/// effective user's name (libfko's cuserid), USER, else "NO_USER"; at most 63 characters.
inline std::string default_username() {
  std::string name = "NO_USER";
  bool found_one = false;
  for (const char* var : {"SPOOF_USER", "LOGNAME"})
    if (const char* v = std::getenv(var); !found_one && v != nullptr && *v != '\0')
      name = v, found_one = true;
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buf;
  if (!found_one && ::getpwuid_r(::geteuid(), &entry, buf.data(), buf.size(), &found) == 0 &&
      found != nullptr && found->pw_name != nullptr && *found->pw_name != '\0')
    name = found->pw_name, found_one = true;
  if (const char* v = std::getenv("USER"); !found_one && v != nullptr && *v != '\0') name = v;
  if (name.size() > max_found_username) name.resize(max_found_username);
  return name;
}

/// fwknop's test of a NAT host: a host name of letters, digits, '-' and '.' (each label starting
/// with a letter or digit, none ending with '-' or '.', none over 63 characters, the name under
/// 255), which covers a dotted IPv4 address. ".168.10.1" is refused.
inline bool is_nat_host(std::string_view h) {
  if (h.empty() || h.size() > 254) return false;
  std::size_t label = 0;
  char prev = 0;
  for (char c : h) {
    const bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    if (label == 0 && !alnum) return false;
    if (!alnum && c != '.' && c != '-') return false;
    if (c == '.') {
      if (label > 63 || prev == '-') return false;
      label = 0;
    } else {
      ++label;
    }
    prev = c;
  }
  return prev != '-' && label <= 63;
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

  r.username = s.user.empty() ? std::string{fallback_user} : s.user;  // -U: at most 29 (apply)
  if (r.username.empty()) return knock::fail(std::string{"the username is empty"});
  if (r.username.size() > max_sent_username)
    return knock::fail("the username (SPOOF_USER, LOGNAME or USER) is " +
                       std::to_string(r.username.size()) + " characters; fwknopd decodes at most " +
                       std::to_string(max_sent_username) + " (give a shorter one with -U)");
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
    const std::string_view host = std::string_view{r.nat_access}.substr(0, r.nat_access.find(','));
    if (!is_nat_host(host))
      return knock::fail("-N: invalid NAT destination " + v::quoted(host) +
                         " (an IPv4 address or host name, as fwknop checks it)");
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
