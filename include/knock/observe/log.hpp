// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::observe::log_lines`: one line per packet, for people and for fail2ban — to a stream
/// (stderr in the foreground) or to syslog, as text or JSON. Lines carry the source address, the
/// verdict and its reason, never a key or the message. No allocation.
///
///     packet from 192.0.2.7: refused: bad_mac
///     packet from 10.0.0.5: refused: firewall_failed (nftables: Operation not permitted) …
///     packet from 10.0.0.5: accepted by stanza 1: open 10.0.0.5 tcp/22 udp/53 for 30 s
///     {"source":"192.0.2.7","accepted":false,"reason":"bad_mac","stanza":null}
///
/// Under a flood, writing a line per refused packet would make the log the bottleneck and the
/// daemon would fall behind (and lose valid packets with the garbage). So refusals are written up
/// to a budget per second (`refusal_budget`, 20 by default); the rest are only counted, per reason,
/// and summed up in one line, written before the next line of any kind (an accepted packet, the
/// first refusal of the next second) or by `tick()` / `flush()`:
///
///     suppressed 12345 refusal(s) in the last 1 s: bad_mac 12000, not_base64 345
///     {"suppressed":12345,"seconds":1,"reasons":{"bad_mac":12000,"not_base64":345}}
///
/// Suppressed refusals are counted per reason, every `errc` included (`replay_store_unavailable`,
/// a store that cannot answer, is a reason of its own). Accepted packets are always written. The
/// budget is counted on a monotonic clock in windows of one second, each opened by the first packet
/// after the previous one ended. A suppressed refusal costs a clock read and an increment.
///
/// To a stream, each line is flushed (`fflush`) as it is written, unless the owner says it
/// flushes the stream itself (`flush_each_line(false)`, with a fully buffered stream): a daemon
/// that flushes once a batch of packets pays one `write` for all the batch's lines.

#include <knock/observe/concept.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <string_view>

#include <arpa/inet.h>
#include <syslog.h>

namespace knock::observe {

/// How many refused packets `log_lines` writes per second, and the clock it counts with.
struct refusal_budget {
  static constexpr std::uint32_t unlimited = std::numeric_limits<std::uint32_t>::max();
  /// Milliseconds on a monotonic clock (`CLOCK_MONOTONIC_COARSE`: a vDSO read, no syscall).
  static std::int64_t monotonic_ms() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
  }

  std::uint32_t per_second = 20;  ///< refusal lines per window; 0: summaries only
  std::int64_t (*clock_ms)() noexcept = &monotonic_ms;  ///< tests pass their own
};

/// Writes one line per packet, refusals within a budget. Models knock::observer_policy.
/// Move-only: a pending summary is written by whichever object holds it, at the latest when it is
/// destroyed.
class log_lines {
 public:
  using role = knock::role::observer;
  enum class format : bool { text, json };
  static constexpr std::int64_t window_ms = 1000;

  /// Lines to `out` (not owned), or to syslog when `out` is null (open it with `openlog` first).
  explicit log_lines(std::FILE* out = stderr, format f = format::text,
                     refusal_budget budget = {}) noexcept
      : out_{out}, format_{f}, budget_{budget} {
    if (budget_.clock_ms == nullptr) budget_.clock_ms = &refusal_budget::monotonic_ms;
  }
  log_lines(log_lines&& o) noexcept
      : out_{o.out_},
        format_{o.format_},
        flush_each_line_{o.flush_each_line_},
        budget_{o.budget_},
        window_start_{o.window_start_},
        in_window_{o.in_window_},
        suppressed_{o.suppressed_},
        suppressed_total_{o.suppressed_total_},
        by_reason_{o.by_reason_} {
    o.forget_pending();
  }
  log_lines& operator=(log_lines&& o) noexcept {
    if (this != &o) {
      flush();
      out_ = o.out_;
      format_ = o.format_;
      flush_each_line_ = o.flush_each_line_;
      budget_ = o.budget_;
      window_start_ = o.window_start_;
      in_window_ = o.in_window_;
      suppressed_ = o.suppressed_;
      suppressed_total_ = o.suppressed_total_;
      by_reason_ = o.by_reason_;
      o.forget_pending();
    }
    return *this;
  }
  log_lines(const log_lines&) = delete;
  log_lines& operator=(const log_lines&) = delete;
  ~log_lines() { flush(); }

  void on_packet(const packet_event& e) noexcept {
    const std::int64_t now = budget_.clock_ms();
    if (window_ended(now)) {
      write_summary(now);
      window_start_ = now;
      in_window_ = 0;
    }
    if (!e.accepted) {
      if (in_window_ >= budget_.per_second) {
        ++suppressed_;
        ++suppressed_total_;
        ++by_reason_[static_cast<std::uint8_t>(e.reason)];
        return;
      }
      if (budget_.per_second != refusal_budget::unlimited) ++in_window_;
    } else {
      write_summary(now);  // before the line, so the log stays in order
    }
    write_packet(e);
  }

  /// Writes the pending summary if its window has ended (call it once a second, from a timer, so
  /// that the end of a flood is reported when no packet follows it).
  void tick() noexcept {
    if (suppressed_ == 0) return;
    const std::int64_t now = budget_.clock_ms();
    if (window_ended(now)) write_summary(now);
  }
  /// Writes the pending summary now, if there is one.
  void flush() noexcept {
    if (suppressed_ != 0) write_summary(budget_.clock_ms());
  }

  /// Whether `write` flushes the stream after each line (the default); off, its owner does (at
  /// the end of each batch of packets, say). Syslog is not concerned.
  log_lines& flush_each_line(bool on) noexcept {
    flush_each_line_ = on;
    return *this;
  }

  /// Refusals not written since construction (those summed up included).
  std::uint64_t suppressed_total() const noexcept { return suppressed_total_; }
  /// Refusals not written and not summed up yet.
  std::uint64_t suppressed_pending() const noexcept { return suppressed_; }

 private:
  static constexpr std::size_t reasons = std::size_t{1} << 8 * sizeof(errc);

  // A fixed-size line; `put` appends with printf formatting and stops at the end of the buffer.
  template <std::size_t N>
  struct line_buffer {
    char text[N];
    std::size_t n = 0;
    [[gnu::format(printf, 2, 3)]] void put(const char* fmt, ...) noexcept {
      if (n >= N) return;
      va_list args;
      va_start(args, fmt);
      const int k = std::vsnprintf(text + n, N - n, fmt, args);
      va_end(args);
      if (k > 0) n += static_cast<std::size_t>(k);
    }
    // The common pieces without printf (a line per accepted packet is on the hot path).
    void append(std::string_view s) noexcept {
      const std::size_t k = n >= N ? 0 : std::min(s.size(), N - n);
      std::memcpy(text + n, s.data(), k);
      n += k;
    }
    void append(std::uint64_t v) noexcept {
      if (n >= N) return;
      n = static_cast<std::size_t>(std::to_chars(text + n, text + N, v).ptr - text);
    }
    const char* c_str() noexcept {
      if (n >= N) n = N - 1;
      text[n] = '\0';
      return text;
    }
  };

  // `key` then `text` as a JSON string (quotes, backslashes and control characters escaped).
  template <std::size_t N>
  static void put_json_string(line_buffer<N>& line, const char* key,
                              std::string_view text) noexcept {
    line.put("%s\"", key);
    for (const char c : text) {
      if (c == '"' || c == '\\')
        line.put("\\%c", c);
      else if (static_cast<unsigned char>(c) < 0x20)
        line.put("\\u%04x", static_cast<unsigned>(c));
      else
        line.put("%c", c);
    }
    line.put("\"");
  }

  bool window_ended(std::int64_t now) const noexcept {
    return now - window_start_ >= window_ms || now < window_start_;  // a clock going back too
  }

  void forget_pending() noexcept {
    suppressed_ = 0;
    by_reason_.fill(0);
  }

  void write(bool warning, const char* line) noexcept {
    if (out_ != nullptr) {
      std::fputs(line, out_);
      std::fputc('\n', out_);
      if (flush_each_line_) std::fflush(out_);
    } else {
      ::syslog(warning ? LOG_WARNING : LOG_NOTICE, "%s", line);
    }
  }

  // The pending summary, most frequent reason first, then resets the counts.
  void write_summary(std::int64_t now) noexcept {
    if (suppressed_ == 0) return;
    const std::int64_t elapsed = now > window_start_ ? now - window_start_ : 0;
    const long long seconds = elapsed < 1500 ? 1 : static_cast<long long>((elapsed + 500) / 1000);
    const bool json = format_ == format::json;
    line_buffer<2048> line;
    if (json)
      line.put("{\"suppressed\":%llu,\"seconds\":%lld,\"reasons\":{",
               static_cast<unsigned long long>(suppressed_), seconds);
    else
      line.put("suppressed %llu refusal(s) in the last %lld s:",
               static_cast<unsigned long long>(suppressed_), seconds);
    // Selection by count, descending (ties in errc order): a few reasons, and only once a second.
    std::uint64_t below = std::numeric_limits<std::uint64_t>::max();
    std::size_t last = 0;
    for (bool first = true;; first = false) {
      std::uint64_t best = 0;
      std::size_t at = reasons;
      for (std::size_t r = 0; r < reasons; ++r) {
        const std::uint64_t c = by_reason_[r];
        if (c == 0 || c > below || (c == below && r <= last)) continue;
        if (c > best) best = c, at = r;
      }
      if (at == reasons) break;
      const std::string_view name = to_string(static_cast<errc>(at));
      const int len = static_cast<int>(name.size());
      if (json)
        line.put("%s\"%.*s\":%llu", first ? "" : ",", len, name.data(),
                 static_cast<unsigned long long>(best));
      else
        line.put("%s %.*s %llu", first ? "" : ",", len, name.data(),
                 static_cast<unsigned long long>(best));
      below = best;
      last = at;
    }
    if (json) line.put("}}");
    write(true, line.c_str());
    forget_pending();
  }

  // `a` as text into `out` (INET6_ADDRSTRLEN bytes): IPv4 without printf (glibc's inet_ntop
  // formats it with sprintf, twice a line per accepted packet), IPv6 by inet_ntop.
  static void address_text(const ip_address& a, char* out) noexcept {
    if (!a.is_v4()) {
      ::inet_ntop(AF_INET6, a.bytes().data(), out, INET6_ADDRSTRLEN);
      return;
    }
    std::size_t n = 0;  // at most "255.255.255.255": 15 characters
    for (std::size_t i = 0; i < 4; ++i) {
      const unsigned v = a.bytes()[i];
      if (i != 0) out[n++] = '.';
      if (v >= 100) out[n++] = static_cast<char>('0' + v / 100);
      if (v >= 10) out[n++] = static_cast<char>('0' + v / 10 % 10);
      out[n++] = static_cast<char>('0' + v % 10);
    }
    out[n] = '\0';
  }

  void write_packet(const packet_event& e) noexcept {
    char source[INET6_ADDRSTRLEN] = "?";
    address_text(e.source, source);
    line_buffer<512> line;
    const std::string_view reason = to_string(e.reason);
    if (format_ == format::json) {
      line.put("{\"source\":\"%s\",\"accepted\":%s", source, e.accepted ? "true" : "false");
      if (!e.accepted)
        line.put(",\"reason\":\"%.*s\"", static_cast<int>(reason.size()), reason.data());
      if (e.stanza)
        line.put(",\"stanza\":%zu", *e.stanza);
      else
        line.put(",\"stanza\":null");
      if (e.granted != nullptr) line.put(",\"timeout\":%u", e.granted->timeout);
      if (!e.detail.empty()) put_json_string(line, ",\"detail\":", e.detail);
      line.put("}");
    } else if (!e.accepted) {
      line.append("packet from "), line.append(source), line.append(": refused: ");
      line.append(reason);
      if (!e.detail.empty()) line.append(" ("), line.append(e.detail), line.append(")");
      if (e.stanza) line.append(" (decoded by stanza "), line.append(*e.stanza), line.append(")");
    } else {
      line.append("packet from "), line.append(source), line.append(": accepted by stanza ");
      line.append(e.stanza.value_or(0));
      if (const grant* g = e.granted; g != nullptr && !g->ports.empty()) {
        char granted[INET6_ADDRSTRLEN] = "?";
        address_text(g->source, granted);
        line.append(": open "), line.append(granted);
        for (const port_spec& p : g->ports) {
          line.append(p.protocol == ip_protocol::tcp ? " tcp/" : " udp/");
          line.append(std::uint64_t{p.port});
        }
        if (g->nat) {  // "NAT to 10.0.0.9:22" / "local NAT to port 22", and the source rewrite
          char to[INET_ADDRSTRLEN] = "?";
          ::inet_ntop(AF_INET, g->nat.to.bytes().data(), to, sizeof to);
          if (g->nat.kind == nat_kind::local)
            line.put(" local NAT to port %u", g->nat.to_port);
          else
            line.put(" NAT to %s:%u", to, g->nat.to_port);
          if (g->nat.rewrite != source_nat::none)
            line.put(g->nat.rewrite == source_nat::snat ? " with SNAT" : " with MASQUERADE");
        }
        line.append(" for "), line.append(std::uint64_t{g->timeout}), line.append(" s");
      } else {
        line.put(": command");
      }
    }
    write(!e.accepted, line.c_str());
  }

  std::FILE* out_;
  format format_;
  bool flush_each_line_ = true;
  refusal_budget budget_;
  std::int64_t window_start_ = std::numeric_limits<std::int64_t>::min() / 2;
  std::uint32_t in_window_ = 0;   // refusals written in the current window
  std::uint64_t suppressed_ = 0;  // pending: not written, not summed up yet
  std::uint64_t suppressed_total_ = 0;
  std::array<std::uint64_t, reasons> by_reason_{};
};

static_assert(ticking_observer<log_lines>);

}  // namespace knock::observe
