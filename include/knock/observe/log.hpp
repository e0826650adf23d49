// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::observe::log_lines`: one line per packet, for people and for fail2ban — to a stream
/// (stderr in the foreground) or to syslog, as text or JSON. Lines carry the source address, the
/// verdict and its reason, never a key or the message. No allocation.
///
///     packet from 192.0.2.7: refused: bad_mac
///     packet from 10.0.0.5: accepted by stanza 1: open 10.0.0.5 tcp/22 udp/53 for 30 s
///     {"source":"192.0.2.7","accepted":false,"reason":"bad_mac","stanza":null}

#include <knock/observe/concept.hpp>

#include <cstdarg>
#include <cstdio>
#include <string_view>

#include <arpa/inet.h>
#include <syslog.h>

namespace knock::observe {

/// Writes one line per packet. Models knock::observer_policy.
class log_lines {
 public:
  using role = knock::role::observer;
  enum class format : bool { text, json };

  /// Lines to `out` (not owned), or to syslog when `out` is null (open it with `openlog` first).
  explicit log_lines(std::FILE* out = stderr, format f = format::text) noexcept
      : out_{out}, format_{f} {}

  void on_packet(const packet_event& e) noexcept {
    char source[INET6_ADDRSTRLEN] = "?";
    ::inet_ntop(e.source.is_v4() ? AF_INET : AF_INET6, e.source.bytes().data(), source,
                sizeof source);
    char line[512];
    std::size_t n = 0;
    const auto put = [&](const char* fmt, ...) {
      if (n >= sizeof line) return;
      va_list args;
      va_start(args, fmt);
      const int k = std::vsnprintf(line + n, sizeof line - n, fmt, args);
      va_end(args);
      if (k > 0) n += static_cast<std::size_t>(k);
    };
    const std::string_view reason = to_string(e.reason);
    if (format_ == format::json) {
      put("{\"source\":\"%s\",\"accepted\":%s", source, e.accepted ? "true" : "false");
      if (!e.accepted) put(",\"reason\":\"%.*s\"", static_cast<int>(reason.size()), reason.data());
      if (e.stanza)
        put(",\"stanza\":%zu", *e.stanza);
      else
        put(",\"stanza\":null");
      if (e.granted != nullptr) put(",\"timeout\":%u", e.granted->timeout);
      put("}");
    } else if (!e.accepted) {
      put("packet from %s: refused: %.*s", source, static_cast<int>(reason.size()), reason.data());
      if (e.stanza) put(" (decoded by stanza %zu)", *e.stanza);
    } else {
      put("packet from %s: accepted by stanza %zu", source, e.stanza.value_or(0));
      if (const grant* g = e.granted; g != nullptr && !g->ports.empty()) {
        char granted[INET6_ADDRSTRLEN] = "?";
        ::inet_ntop(g->source.is_v4() ? AF_INET : AF_INET6, g->source.bytes().data(), granted,
                    sizeof granted);
        put(": open %s", granted);
        for (const port_spec& p : g->ports)
          put(" %s/%u", p.protocol == ip_protocol::tcp ? "tcp" : "udp", p.port);
        put(" for %u s", g->timeout);
      } else {
        put(": command");
      }
    }
    if (n >= sizeof line) n = sizeof line - 1;
    line[n] = '\0';
    if (out_ != nullptr) {
      std::fprintf(out_, "%s\n", line);
      std::fflush(out_);
    } else {
      ::syslog(e.accepted ? LOG_NOTICE : LOG_WARNING, "%s", line);
    }
  }

 private:
  std::FILE* out_;
  format format_;
};

static_assert(observer_policy<log_lines>);

}  // namespace knock::observe
