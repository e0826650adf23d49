// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::capture::pcap`: sniffs SPA datagrams with libpcap, as fwknopd does, on one or more
/// interfaces (or `any`) at once — or reads them from a savefile. Models
/// `knock::capture::configurable_capture` (name `pcap`, made from PCAP_INTF, PCAP_FILTER,
/// ENABLE_PCAP_PROMISC, ENABLE_PCAP_ANY_DIRECTION, MAX_SNIFF_BYTES) and counts.
///
/// Each interface gets a nonblocking handle with a TPACKET_V3 ring (`KNOCK_CAPTURE_BUFFER`,
/// default 3 MiB; smaller when the kernel cannot give that much), the BPF filter (fwknopd's
/// `PCAP_FILTER`, default `udp port 62201`) and, by default, inbound traffic only. Frames are
/// parsed by `parse_frame` (knock/capture/frame.hpp): Ethernet, Linux cooked (SLL, SLL2), raw IP
/// and BSD loopback links; IPv4 and IPv6; UDP and TCP payloads. Fragments and broken frames are
/// counted in `stats()`, never delivered. Errors name the interface and libpcap's reason: "pcap:
/// eth9: No such device exists".

#include <knock/capture/concept.hpp>
#include <knock/capture/frame.hpp>
#include <knock/config/byte_size.hpp>
#include <knock/config/error.hpp>
#include <knock/core/error.hpp>
#include <knock/core/size_text.hpp>

#include <pcap/pcap.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock::capture {

/// fwknopd's default `PCAP_FILTER`.
inline constexpr std::string_view default_filter = "udp port 62201";

/// How `pcap::open` captures. The defaults are fwknopd's, but for a snap length that never cuts
/// an SPA packet (fwknopd keeps 1500 bytes of the frame) and a shorter block timeout.
///
/// The ring is the room for a burst, and for the packet loop to stall under a flood (a firewall
/// transaction, the scheduler giving the core to someone else). It is memory the kernel allocates
/// whole when the capture opens and maps into the daemon: all of it is resident from start-up.
/// TPACKET_V3 (not immediate mode) packs frames at their captured size into 256 KiB blocks: a
/// 204-byte SPA datagram takes ~320 bytes, so each MiB holds ~3,300 of them (~9 ms of a 380,000
/// datagrams/s flood), where immediate mode (TPACKET_V2, a ~2 KiB slot per frame whatever its
/// size) held ~575. A block goes to the daemon when full or after `block_timeout_ms`, so a lone
/// packet waits at most that long. The default, 3 MiB, is the smallest that kept every valid
/// packet through bench/load.sh's floods in these measurements (2 MiB lost a few in 3 of 36 on
/// a busy machine; docs/PERFORMANCE.md, "Memory").
struct pcap_options {
  std::vector<std::string> interfaces;  ///< names, or `any` (all interfaces); one handle each
  std::string file;                     ///< `PCAP_FILE` (`--pcap-file`): a savefile instead
  std::string filter{default_filter};   ///< BPF, as `PCAP_FILTER`; empty: everything
  int buffer_bytes = 3 << 20;           ///< `KNOCK_CAPTURE_BUFFER`: the ring per interface
  int min_buffer_bytes = 256 << 10;     ///< the smallest ring tried when the kernel refuses one
  int block_timeout_ms = 10;            ///< the longest a frame waits in a block that is not full
  int snaplen = 1500 + 256;             ///< the largest SPA payload, plus every header
  bool inbound_only = true;             ///< false: `ENABLE_PCAP_ANY_DIRECTION Y`
  bool promiscuous = false;             ///< `ENABLE_PCAP_PROMISC Y`
  bool sll2 = false;                    ///< on `any`: Linux cooked v2 instead of v1
  std::size_t batch = 256;              ///< the most frames read per interface per `receive`
};

/// libpcap captures on live interfaces or a savefile. Move-only; closes its handles.
class pcap {
 public:
  using role = knock::role::capture;
  /// What `KNOCK_CAPTURE` says to choose it.
  static constexpr std::string_view name = "pcap";
  /// The fwknopd.conf variables `make` reads. PCAP_DISPATCH_COUNT and PCAP_LOOP_SLEEP are read
  /// and range-checked as fwknopd does (1..8388608) but change nothing: knock polls and reads
  /// what is ready, in batches, instead of sleeping.
  static constexpr std::string_view variables[] = {
      "PCAP_INTF",           "PCAP_FILTER",
      "ENABLE_PCAP_PROMISC", "ENABLE_PCAP_ANY_DIRECTION",
      "MAX_SNIFF_BYTES",     "PCAP_DISPATCH_COUNT",
      "PCAP_LOOP_SLEEP",     "PCAP_FILE",
      "KNOCK_CAPTURE_BUFFER"};

  /// What fwknopd.conf says (fwknopd's defaults): PCAP_INTF (a comma list; `eth0`), PCAP_FILTER
  /// (`udp port 62201`), ENABLE_PCAP_PROMISC (N), ENABLE_PCAP_ANY_DIRECTION (N), MAX_SNIFF_BYTES
  /// (1..32768: the snap length; unset: knock's, which never cuts an SPA packet),
  /// KNOCK_CAPTURE_BUFFER (knock's: the ring per interface, `3M`, `512K`, or bytes; 64 KiB..1 GiB).
  /// A bad value is an error at its file:line. Opens nothing.
  static result<pcap_options, config::config_error> settings(const config::fwknopd_conf& c);
  /// `settings(c)`, for its error only.
  static result<void, config::config_error> check(const config::fwknopd_conf& c) {
    if (auto o = settings(c); !o) return fail(o.error());
    return {};
  }
  /// `settings(s.conf)`, then opens.
  static result<pcap> make(const setup& s) {
    auto o = settings(s.conf);
    if (!o) return fail(error{o.error().code, config::to_string(o.error())});
    return o->file.empty() ? open(*o) : open_file(o->file, o->filter);
  }
  /// Opens every interface in `o`.
  static result<pcap> open(const pcap_options& o);
  /// One interface, otherwise the defaults.
  static result<pcap> open(std::string_view interface, std::string_view filter = default_filter) {
    pcap_options o;
    o.interfaces.emplace_back(interface);
    o.filter = filter;
    return open(o);
  }
  /// A savefile (pcap or pcapng): no descriptor to poll; one `receive` reads it to its end.
  static result<pcap> open_file(const std::string& path, std::string_view filter = default_filter);

  /// The selectable descriptors, one per live interface; poll them for input.
  std::span<const int> fds() const noexcept { return fds_; }
  /// Live captures alike join one fanout group; a savefile (no descriptor) is read once.
  share_mode shared_by() const noexcept {
    return fds_.empty() ? share_mode::none : share_mode::fanout;
  }

  /// Calls `on_datagram(const datagram&)` for each datagram ready now, without blocking: at most
  /// `batch` frames per interface or savefile (a savefile is read through by calling it until
  /// `stats().received` stops moving). Returns how many were delivered, or
  /// `errc::capture_failed` (an interface went down or away: "pcap: eth0: The interface went
  /// down").
  template <class F>
  result<std::size_t> receive(F&& on_datagram);

  /// Counters since opening; `dropped` is the kernel's count (`pcap_stats`).
  capture_stats stats() const noexcept;

  /// What the capture costs: the rings, all resident from start-up; "capture ring 3 MiB (eth0)",
  /// and when the kernel could not give the ring asked for, what it gave instead.
  std::string memory() const;

 private:
  struct closer {
    void operator()(pcap_t* p) const noexcept { pcap_close(p); }
  };
  using handle = std::unique_ptr<pcap_t, closer>;
  struct source {
    handle h;
    link_type link;
    bool live;
    std::string name;  // the interface or file, for errors
    int ring = 0;      // bytes of the ring asked for and got (live)
    int wanted = 0;    // bytes asked for first (more when the kernel refused that)
  };

  pcap() = default;
  static std::optional<link_type> link_of(int dlt) noexcept;
  static failure<error> failed(std::string_view message) {
    return fail(error{errc::capture_failed, "pcap: " + std::string{message}});
  }
  // The filter, link type check and nonblocking mode every source gets.
  result<void> add(handle h, std::string_view name, std::string_view filter, bool live);

  // Activates `name` with the largest ring the kernel gives, from `o.buffer_bytes` halving down to
  // `o.min_buffer_bytes`; sets `ring` to the size it got.
  static result<handle> activate(const std::string& name, const pcap_options& o, int& ring);

  std::vector<source> sources_;
  std::vector<int> fds_;
  capture_stats counts_;
  std::size_t batch_ = 256;
};

static_assert(configurable_capture<pcap> && checked_capture<pcap> && counting_capture<pcap>);
static_assert(memory_reporting_capture<pcap>);

inline result<pcap_options, config::config_error> pcap::settings(const config::fwknopd_conf& c) {
  const auto bad = [](const config::config_error& e) { return fail(e); };
  pcap_options o;
  const std::string interfaces = c.text("PCAP_INTF", "eth0");
  for (std::string_view list = interfaces;;) {
    const std::size_t comma = list.find(',');
    std::string_view one = list.substr(0, comma);
    while (!one.empty() && (one.front() == ' ' || one.front() == '\t')) one.remove_prefix(1);
    while (!one.empty() && (one.back() == ' ' || one.back() == '\t')) one.remove_suffix(1);
    if (!one.empty()) o.interfaces.emplace_back(one);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  if (o.interfaces.empty()) return bad(c.error("PCAP_INTF", "no interface named"));
  o.filter = c.text("PCAP_FILTER", default_filter);
  o.file = c.text("PCAP_FILE");
  auto promisc = c.yes_no("ENABLE_PCAP_PROMISC", false);
  if (!promisc) return bad(promisc.error());
  auto any_direction = c.yes_no("ENABLE_PCAP_ANY_DIRECTION", false);
  if (!any_direction) return bad(any_direction.error());
  o.promiscuous = *promisc;
  o.inbound_only = !*any_direction;
  auto snap = c.number("MAX_SNIFF_BYTES", static_cast<std::uint32_t>(o.snaplen), 32768);
  if (!snap) return bad(snap.error());
  o.snaplen = static_cast<int>(*snap);
  auto ring =
      config::byte_size(c, "KNOCK_CAPTURE_BUFFER", std::uint64_t{64} << 10, std::uint64_t{1} << 30);
  if (!ring) return bad(ring.error());
  if (*ring) o.buffer_bytes = static_cast<int>(**ring);
  for (const char* unused : {"PCAP_DISPATCH_COUNT", "PCAP_LOOP_SLEEP"})
    if (auto n = c.number(unused, 1, 8388608); !n) return bad(n.error());
  return o;
}

inline std::optional<link_type> pcap::link_of(int dlt) noexcept {
  switch (dlt) {
    case DLT_NULL: return link_type::null;
    case DLT_EN10MB: return link_type::ethernet;
    case DLT_RAW: return link_type::raw;
    case DLT_LOOP: return link_type::loop;
    case DLT_LINUX_SLL: return link_type::linux_sll;
#ifdef DLT_LINUX_SLL2  // libpcap 1.10
    case DLT_LINUX_SLL2: return link_type::linux_sll2;
#endif
    case DLT_IPV4: return link_type::ipv4;
    case DLT_IPV6: return link_type::ipv6;
    default: return std::nullopt;
  }
}

inline result<void> pcap::add(handle h, std::string_view name, std::string_view filter, bool live) {
  const std::string where = std::string{name} + ": ";
  const auto link = link_of(pcap_datalink(h.get()));
  if (!link) {
    const char* dlt = pcap_datalink_val_to_name(pcap_datalink(h.get()));
    return failed(where + "link type " + (dlt ? dlt : "?") + " is not supported");
  }
  bpf_program program{};
  if (pcap_compile(h.get(), &program, std::string{filter}.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    return failed(where + "filter '" + std::string{filter} + "': " + pcap_geterr(h.get()));
  const int set = pcap_setfilter(h.get(), &program);
  pcap_freecode(&program);
  if (set != 0) return failed(where + pcap_geterr(h.get()));
  if (live) {
    char err[PCAP_ERRBUF_SIZE] = "";
    if (pcap_setnonblock(h.get(), 1, err) != 0) return failed(where + err);
    const int fd = pcap_get_selectable_fd(h.get());
    if (fd < 0) return failed(where + "no selectable descriptor");
    // The ring captured everything from activation until the filter was set: drop that, so
    // that only filtered frames are ever delivered.
    pcap_pkthdr* header = nullptr;
    const u_char* bytes = nullptr;
    for (int n = 0; n < 1 << 16 && pcap_next_ex(h.get(), &header, &bytes) == 1; ++n) {
    }
    fds_.push_back(fd);
  }
  sources_.push_back({std::move(h), *link, live, std::string{name}});
  return {};
}

inline result<pcap::handle> pcap::activate(const std::string& name, const pcap_options& o,
                                           int& ring) {
  const std::string where = name + ": ";
  for (ring = o.buffer_bytes;; ring /= 2) {
    char err[PCAP_ERRBUF_SIZE] = "";
    handle h{pcap_create(name.c_str(), err)};
    if (!h) return failed(where + err);
    pcap_set_snaplen(h.get(), o.snaplen);
    pcap_set_promisc(h.get(), o.promiscuous ? 1 : 0);
    pcap_set_timeout(h.get(), o.block_timeout_ms);  // TPACKET_V3: how long a block may wait
    pcap_set_buffer_size(h.get(), ring);
    const int rc = pcap_activate(h.get());
    if (rc >= 0) return h;
    const std::string detail = pcap_geterr(h.get());
    // libpcap: "can't create rx ring on packet socket: ..." / "can't mmap rx ring: ...": the
    // kernel (or RLIMIT_AS) refused that much memory; a smaller ring may do.
    if (rc == PCAP_ERROR && detail.find("rx ring") != std::string::npos &&
        ring / 2 >= o.min_buffer_bytes)
      continue;
    return failed(where + (detail.empty() ? pcap_statustostr(rc) : detail));
  }
}

inline result<pcap> pcap::open(const pcap_options& o) {
  if (o.interfaces.empty()) return failed("no interface to capture on");
  pcap out;
  out.batch_ = o.batch == 0 ? 1 : o.batch;
  for (const std::string& name : o.interfaces) {
    const std::string where = name + ": ";
    int ring = 0;
    auto h = activate(name, o, ring);
    if (!h) return fail(h.error());
#ifdef DLT_LINUX_SLL2
    if (o.sll2 && pcap_datalink(h->get()) == DLT_LINUX_SLL &&
        pcap_set_datalink(h->get(), DLT_LINUX_SLL2) != 0)
      return failed(where + pcap_geterr(h->get()));
#endif
    if (o.inbound_only && pcap_setdirection(h->get(), PCAP_D_IN) != 0)
      return failed(where + pcap_geterr(h->get()) +
                    " (capturing both directions needs inbound_only = false)");
    if (auto added = out.add(*std::move(h), name, o.filter, true); !added)
      return fail(added.error());
    out.sources_.back().ring = ring;
    out.sources_.back().wanted = o.buffer_bytes;
  }
  return out;
}

inline result<pcap> pcap::open_file(const std::string& path, std::string_view filter) {
  char err[PCAP_ERRBUF_SIZE] = "";
  handle h{pcap_open_offline(path.c_str(), err)};
  if (!h) return failed(path + ": " + err);
  pcap out;
  if (auto added = out.add(std::move(h), path, filter, false); !added) return fail(added.error());
  return out;
}

template <class F>
result<std::size_t> pcap::receive(F&& on_datagram) {
  std::size_t delivered = 0;
  for (source& s : sources_) {
    for (std::size_t n = 0; n < batch_; ++n) {
      pcap_pkthdr* header = nullptr;
      const u_char* bytes = nullptr;
      const int rc = pcap_next_ex(s.h.get(), &header, &bytes);
      if (rc == 0 || (rc == PCAP_ERROR_BREAK && !s.live)) break;  // nothing ready; end of file
      if (rc < 0) return failed(s.name + ": " + pcap_geterr(s.h.get()));
      ++counts_.received;
      const auto d = parse_frame({bytes, header->caplen}, s.link);
      if (!d) {
        counts_.count(d.error());
        continue;
      }
      ++counts_.delivered;
      ++delivered;
      on_datagram(*d);
    }
  }
  return delivered;
}

inline capture_stats pcap::stats() const noexcept {
  capture_stats out = counts_;
  for (const source& s : sources_) {
    pcap_stat ps{};
    if (s.live && pcap_stats(s.h.get(), &ps) == 0) {
      out.dropped += ps.ps_drop;
      out.ifdropped += ps.ps_ifdrop;
    }
    if (s.live) out.in_place = out.received;  // libpcap reads its ring in place
  }
  return out;
}

inline std::string pcap::memory() const {
  std::string out;
  for (const source& s : sources_) {
    if (!s.live) continue;
    out += (out.empty() ? "capture ring " : ", ") + size_text(static_cast<std::size_t>(s.ring)) +
           " (" + s.name;
    if (s.ring != s.wanted)
      out += "; " + size_text(static_cast<std::size_t>(s.wanted)) + " could not be had";
    out += ")";
  }
  return out.empty() ? "capture from a file" : out;
}

}  // namespace knock::capture
