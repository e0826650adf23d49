// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Counters for Prometheus: `knock::observe::metrics` (a fixed table of plain integers, counted
/// per packet without allocating), `knock::observe::with_metrics<Inner>` (an Observer that counts
/// into that table and then hands the event on to `Inner`, e.g. `log_lines`), and
/// `write_metrics`, which renders the table in the Prometheus text exposition format (0.0.4).
///
///     using my_server = knock::server<...,
///     knock::observe::with_metrics<knock::observe::log_lines>>; auto t0 =
///     knock::observe::decode_clock::now(); server.handle(d); // counts the verdict
///     server.observer().table().decode.record(knock::observe::decode_clock::now() - t0);
///     std::string text;
///     knock::observe::write_metrics(text, server.observer().table(), {.replay_entries = ...});
///
/// Per packet: one increment in a table indexed by `errc`, one for the stanza, one histogram bucket
/// (a scan of 11 bounds); no string, no lock (the table belongs to the thread that handles packets;
/// render it from that thread). The names are listed in docs/METRICS.md.

#include <knock/capture/concept.hpp>
#include <knock/observe/concept.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::observe {

/// Nanoseconds on CLOCK_MONOTONIC (a vDSO read, ~20 ns): what the decode histogram is fed with.
struct decode_clock {
  static std::uint64_t now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
  }
};

/// A histogram of durations in nanoseconds with fixed buckets, 1 µs to 100 ms.
struct latency_histogram {
  /// Upper bounds (`le`), inclusive, in nanoseconds; one more bucket is +Inf.
  static constexpr std::array<std::uint64_t, 11> bounds_ns{
      1'000,   2'500,   5'000,     10'000,     25'000,     50'000,
      100'000, 250'000, 1'000'000, 10'000'000, 100'000'000};
  std::array<std::uint64_t, bounds_ns.size() + 1> counts{};  ///< per bucket, not cumulative
  std::uint64_t sum_ns = 0;

  void record(std::uint64_t ns) noexcept {
    std::size_t i = 0;
    while (i < bounds_ns.size() && ns > bounds_ns[i]) ++i;
    ++counts[i];
    sum_ns += ns;
  }
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const std::uint64_t c : counts) n += c;
    return n;
  }
};

/// The counter table. Plain integers; copyable; nothing allocates once `stanzas(n)` has sized it.
struct metrics {
  static constexpr std::size_t reasons = std::size_t{1} << 8 * sizeof(errc);

  std::uint64_t accepted = 0;
  std::array<std::uint64_t, reasons> refused{};  ///< indexed by the `errc` of the refusal
  std::uint64_t grants = 0;                      ///< accepted packets that opened ports or NAT
  std::vector<std::uint64_t> by_stanza;          ///< accepted, by stanza (0-based)
  std::uint64_t other_stanza = 0;  ///< accepted by a stanza past `by_stanza` (not sized yet)
  latency_histogram decode;        ///< fed by the caller, around `server.handle`
  /// Replay store failures outside packet handling (a timer's sync); those that refused a packet
  /// are counted by reason (`replay_store_full`, `replay_store_unavailable`, `io_failed`).
  std::uint64_t replay_errors = 0;

  /// Room for `n` stanzas' counters (at start-up and after a reload: counts of the first ones
  /// stay). Allocates; never called per packet.
  void stanzas(std::size_t n) { by_stanza.resize(n); }

  void count(const packet_event& e) noexcept {
    if (!e.accepted) {
      ++refused[static_cast<std::uint8_t>(e.reason)];
      return;
    }
    ++accepted;
    if (e.granted != nullptr && (!e.granted->ports.empty() || e.granted->nat)) ++grants;
    if (e.stanza && *e.stanza >= 1 && *e.stanza <= by_stanza.size())
      ++by_stanza[*e.stanza - 1];
    else
      ++other_stanza;
  }

  /// Refusals in all.
  std::uint64_t refused_total() const noexcept {
    std::uint64_t n = 0;
    for (const std::uint64_t c : refused) n += c;
    return n;
  }
  /// Replay store failures: those that refused packets and `replay_errors`.
  std::uint64_t replay_errors_total() const noexcept {
    return replay_errors + refused[static_cast<std::uint8_t>(errc::replay_store_full)] +
           refused[static_cast<std::uint8_t>(errc::replay_store_unavailable)] +
           refused[static_cast<std::uint8_t>(errc::io_failed)];
  }
};

/// An Observer that counts every event into a `metrics` table, then hands it on to `Inner`.
/// Models knock::observer_policy, and knock::ticking_observer when `Inner` does.
template <class Inner = null>
class with_metrics {
 public:
  using role = knock::role::observer;
  static_assert(observer_policy<Inner>,
                "knock::observe::with_metrics: Inner must model knock::observer_policy");

  with_metrics() = default;
  explicit with_metrics(Inner inner, std::size_t stanzas = 0) : inner_{std::move(inner)} {
    table_.stanzas(stanzas);
  }

  void on_packet(const packet_event& e) noexcept {
    table_.count(e);
    inner_.on_packet(e);
  }
  void tick() noexcept requires ticking_observer<Inner> { inner_.tick(); }

  metrics& table() noexcept { return table_; }
  const metrics& table() const noexcept { return table_; }
  Inner& inner() noexcept { return inner_; }

 private:
  metrics table_;
  Inner inner_;
};

static_assert(observer_policy<with_metrics<>>);

/// What only the program knows, read when the text is rendered; a part left unset is left out.
struct metrics_context {
  std::optional<std::size_t> replay_entries;  ///< the replay store's `size()`
  std::optional<capture_stats> capture;       ///< a `counting_capture`'s `stats()`
  std::optional<std::size_t> grants_open;     ///< when the firewall can tell
  std::optional<double> start_time;           ///< process start, seconds since the epoch
  std::string_view version;                   ///< for `knock_build_info`; empty: left out
};

namespace detail {
// Appends Prometheus text: families (HELP, TYPE) and samples with escaped label values.
class exposition {
 public:
  explicit exposition(std::string& out) : out_{out} {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
    out_.append(name).append(" ").append(type).append("\n");
  }
  template <class Value>
  void sample(std::string_view name,
              std::initializer_list<std::pair<std::string_view, std::string_view>> labels,
              Value v) {
    out_.append(name);
    if (labels.size() != 0) {
      out_.push_back('{');
      bool first = true;
      for (const auto& [key, value] : labels) {
        if (!first) out_.push_back(',');
        first = false;
        out_.append(key).append("=\"");
        for (const char c : value) {  // the format's three escapes
          if (c == '\\')
            out_.append("\\\\");
          else if (c == '"')
            out_.append("\\\"");
          else if (c == '\n')
            out_.append("\\n");
          else
            out_.push_back(c);
        }
        out_.push_back('"');
      }
      out_.push_back('}');
    }
    out_.push_back(' ');
    number(v);
    out_.push_back('\n');
  }

  void number(std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }
  void number(double v) {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip
    out_.append(buf, r.ptr);
  }

 private:
  std::string& out_;
};

inline std::string seconds_text(std::uint64_t ns) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, static_cast<double>(ns) / 1e9);
  return std::string(buf, r.ptr);
}
}  // namespace detail

/// Appends the exposition of `m` (and of what `ctx` holds) to `out`: every family with HELP and
/// TYPE, every refusal reason (zeros included, so that rates start from the first scrape).
inline void write_metrics(std::string& out, const metrics& m, const metrics_context& ctx = {}) {
  detail::exposition x{out};
  x.family("knock_packets_total", "counter",
           "Datagrams decided, by verdict and reason (the errc name the log uses; none when "
           "accepted).");
  x.sample("knock_packets_total", {{"verdict", "accepted"}, {"reason", "none"}}, m.accepted);
  for (std::size_t r = 1; r < metrics::reasons; ++r) {
    const std::string_view name = to_string(static_cast<errc>(r));
    if (name == "unknown") continue;  // past the last errc
    x.sample("knock_packets_total", {{"verdict", "refused"}, {"reason", name}}, m.refused[r]);
  }
  x.family("knock_grants_total", "counter",
           "Grants opened in the firewall (accepted access and NAT requests).");
  x.sample("knock_grants_total", {}, m.grants);
  if (ctx.grants_open) {
    x.family("knock_grants_open", "gauge", "Grants open in the firewall now.");
    x.sample("knock_grants_open", {}, std::uint64_t{*ctx.grants_open});
  }
  x.family("knock_stanza_accepted_total", "counter",
           "Accepted packets by access.conf stanza (1-based, in file order).");
  for (std::size_t i = 0; i < m.by_stanza.size(); ++i)
    x.sample("knock_stanza_accepted_total", {{"stanza", std::to_string(i + 1)}}, m.by_stanza[i]);
  if (m.other_stanza != 0)
    x.sample("knock_stanza_accepted_total", {{"stanza", "other"}}, m.other_stanza);
  if (ctx.replay_entries) {
    x.family("knock_replay_entries", "gauge", "Keys the replay store holds.");
    x.sample("knock_replay_entries", {}, std::uint64_t{*ctx.replay_entries});
  }
  x.family("knock_replay_errors_total", "counter",
           "Replay store failures (full, unavailable, I/O), each failing closed.");
  x.sample("knock_replay_errors_total", {}, m.replay_errors_total());

  x.family("knock_decode_seconds", "histogram",
           "Time to decide one datagram (server.handle: screen to grant, log line included).");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency_histogram::bounds_ns.size(); ++i) {
    cumulative += m.decode.counts[i];
    x.sample("knock_decode_seconds_bucket",
             {{"le", detail::seconds_text(latency_histogram::bounds_ns[i])}}, cumulative);
  }
  cumulative += m.decode.counts.back();
  x.sample("knock_decode_seconds_bucket", {{"le", "+Inf"}}, cumulative);
  x.sample("knock_decode_seconds_sum", {}, static_cast<double>(m.decode.sum_ns) / 1e9);
  x.sample("knock_decode_seconds_count", {}, cumulative);

  if (const auto& c = ctx.capture) {
    x.family("knock_capture_received_total", "counter",
             "Frames (pcap) or datagrams (socket) the capture read.");
    x.sample("knock_capture_received_total", {}, c->received);
    x.family("knock_capture_dropped_total", "counter",
             "Packets lost before knock read them: kernel = the capture buffer was full "
             "(pcap_stats ps_drop), interface = dropped by the interface or its driver "
             "(ps_ifdrop).");
    x.sample("knock_capture_dropped_total", {{"where", "kernel"}}, c->dropped);
    x.sample("knock_capture_dropped_total", {{"where", "interface"}}, c->ifdropped);
    x.family("knock_capture_discarded_total", "counter",
             "Frames read and not handed on: IP fragments, malformed or truncated frames, frames "
             "without a UDP/TCP payload.");
    x.sample("knock_capture_discarded_total", {{"reason", "fragment"}}, c->fragments);
    x.sample("knock_capture_discarded_total", {{"reason", "malformed"}}, c->malformed);
    x.sample("knock_capture_discarded_total", {{"reason", "ignored"}}, c->ignored);
    x.family("knock_capture_read_in_place_total", "counter",
             "Of the frames received, those read where the kernel wrote them (a mapped ring); "
             "the others were copied out by a system call.");
    x.sample("knock_capture_read_in_place_total", {}, c->in_place);
  }
  if (ctx.start_time) {
    x.family("process_start_time_seconds", "gauge",
             "Start time of the process since unix epoch in seconds.");
    x.sample("process_start_time_seconds", {}, *ctx.start_time);
  }
  if (!ctx.version.empty()) {
    x.family("knock_build_info", "gauge", "Always 1; the version in a label.");
    x.sample("knock_build_info", {{"version", ctx.version}}, std::uint64_t{1});
  }
}

}  // namespace knock::observe
