// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/capture/packet_socket.hpp.

#include <knock/capture/packet_socket.hpp>

#include <net/ethernet.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace knock::capture {

namespace detail {

/// PCAP_FILTER compiled by libpcap for frames that start at their IP header (what a `SOCK_DGRAM`
/// packet socket's filter sees), as the kernel's socket filter takes it. Errors name the filter.
class socket_filter {
 public:
  static result<socket_filter> compile(const std::string& filter, int snaplen) {
    socket_filter out;
    const std::unique_ptr<pcap_t, void (*)(pcap_t*)> dead{pcap_open_dead(DLT_RAW, snaplen),
                                                          pcap_close};
    if (!dead) return fail(error{errc::capture_failed, "packet: libpcap: out of memory"});
    if (pcap_compile(dead.get(), &out.program_, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
      return fail(error{errc::config_invalid, "packet: filter '" + filter +
                                                  "': " + pcap_geterr(dead.get()) +
                                                  " (it sees frames from their IP header on: "
                                                  "link-layer filters need KNOCK_CAPTURE pcap)"});
    out.compiled_ = true;
    return out;
  }
  socket_filter(socket_filter&& o) noexcept
      : program_{std::exchange(o.program_, {})}, compiled_{std::exchange(o.compiled_, false)} {}
  socket_filter& operator=(socket_filter&&) = delete;
  ~socket_filter() {
    if (compiled_) pcap_freecode(&program_);
  }
  /// The instructions, laid out as the kernel's `sock_filter` (classic BPF, as libpcap's).
  std::span<const sock_filter> code() const noexcept {
    static_assert(sizeof(sock_filter) == sizeof(bpf_insn));
    return {reinterpret_cast<const sock_filter*>(program_.bf_insns), program_.bf_len};
  }

 private:
  socket_filter() = default;
  bpf_program program_{};
  bool compiled_ = false;
};

}  // namespace detail

// The fanout group's program: member 0, the ring, for a frame its slots hold whole, member 1, the
// socket, for a longer one (`len`: the frame from its IP header, as the ring would store it). The
// rollover flag sends a frame on to the other when the one chosen has no room.
inline constexpr sock_filter ring_unless_long[] = {
    {BPF_LD | BPF_W | BPF_LEN, 0, 0, 0},
    {BPF_JMP | BPF_JGT | BPF_K, 1, 0, detail::rx_ring::max_frame_bytes},
    {BPF_RET | BPF_K, 0, 0, 0},
    {BPF_RET | BPF_K, 0, 0, 1},
};
// The socket's own filter until it is in the group: it keeps 0 bytes of each frame (bound alone,
// the socket would take a second copy of what the ring takes).
inline constexpr sock_filter take_nothing[] = {{BPF_RET | BPF_K, 0, 0, 0}};

inline result<int> packet_socket::bound_socket(const std::string& interface, unsigned index,
                                               std::span<const sock_filter> filter,
                                               const packet_socket_options& o,
                                               std::optional<detail::rx_ring>* ring) {
  const std::string where = interface + ": ";
  // Protocol 0: the socket receives nothing until it is bound below, after the filter (and the
  // ring) are set, so it never queues a frame the filter would have refused.
  const int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(where + "socket", errno);
  sockets_.fds.push_back(fd);  // owned from here (reserved: cannot throw)
  auto set_up = [&]() -> result<void> {
    const sock_fprog program{static_cast<unsigned short>(filter.size()),
                             const_cast<sock_filter*>(filter.data())};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0)
      return failed(where + "SO_ATTACH_FILTER", errno);
    if (ring) {
      auto mapped = detail::rx_ring::map(fd, o.ring);
      if (!mapped)
        return fail(error{mapped.error().code, "packet: " + where + mapped.error().message});
      ring->emplace(*std::move(mapped));
    } else {
      receive_buffer_ = detail::set_receive_buffer(fd, o.receive_buffer);
    }
    if (o.inbound_only) {
      const int on = 1;  // Linux 4.20; older kernels: the frames are told apart in `receive`
      (void)::setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &on, sizeof on);
    }
    if (o.promiscuous && index != 0) {
      packet_mreq promisc{};
      promisc.mr_ifindex = static_cast<int>(index);
      promisc.mr_type = PACKET_MR_PROMISC;
      if (::setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &promisc, sizeof promisc) != 0)
        return failed(where + "promiscuous mode", errno);
    }
    sockaddr_ll address{};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(ETH_P_ALL);
    address.sll_ifindex = static_cast<int>(index);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
      return failed(where + "bind", errno);
    return {};
  };
  if (auto ok = set_up(); !ok) {
    if (ring) ring->reset();
    close_socket(fd);
    return fail(ok.error());
  }
  return fd;
}

inline void packet_socket::close_socket(int fd) noexcept {
  std::erase(sockets_.fds, fd);
  ::close(fd);
}

inline result<void> packet_socket::add(const std::string& interface,
                                       std::span<const sock_filter> filter,
                                       const packet_socket_options& o) {
  unsigned index = 0;  // `any`: every interface
  if (interface != "any" && (index = ::if_nametoindex(interface.c_str())) == 0)
    return failed(interface, errno);
  source src{interface, -1, std::nullopt};
  // The ring, alone in a fanout group of its own (its id chosen by the kernel: unique in the
  // network namespace, whatever else sniffs there).
  int ring_fd = -1;
  int group = 0;
  const auto no_ring = [&](std::string why) {  // `why` names the interface
    if (no_ring_.empty()) no_ring_ = std::move(why);
    if (ring_fd >= 0) close_socket(ring_fd);
    ring_fd = -1;
    src.ring.reset();
  };
  if (o.ring != 0) {
    if (auto fd = bound_socket(interface, index, filter, o, &src.ring); !fd) {
      no_ring(fd.error().message);
    } else {
      ring_fd = *fd;
      const int join =
          (PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_ROLLOVER | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
      socklen_t size = sizeof group;
      const sock_fprog pick{std::size(ring_unless_long),
                            const_cast<sock_filter*>(ring_unless_long)};
      const std::string where = "packet: " + interface + ": ";
      if (::setsockopt(ring_fd, SOL_PACKET, PACKET_FANOUT, &join, sizeof join) != 0)
        no_ring(system_error(errc::capture_failed, where + "PACKET_FANOUT").message);
      else if (::getsockopt(ring_fd, SOL_PACKET, PACKET_FANOUT, &group, &size) != 0)
        no_ring(system_error(errc::capture_failed, where + "PACKET_FANOUT (its id)").message);
      else if (::setsockopt(ring_fd, SOL_PACKET, PACKET_FANOUT_DATA, &pick, sizeof pick) != 0)
        no_ring(system_error(errc::capture_failed, where + "PACKET_FANOUT_DATA").message);
    }
  }
  // The socket behind it: it takes nothing until it has joined the ring's group.
  auto fd = bound_socket(interface, index, src.ring ? std::span{take_nothing} : filter, o, nullptr);
  if (!fd) return fail(fd.error());
  src.fd = *fd;
  if (src.ring) {
    const int join = (group & 0xffff) | ((PACKET_FANOUT_CBPF | PACKET_FANOUT_FLAG_ROLLOVER) << 16);
    if (::setsockopt(src.fd, SOL_PACKET, PACKET_FANOUT, &join, sizeof join) != 0)
      no_ring(system_error(errc::capture_failed,
                           "packet: " + interface + ": PACKET_FANOUT (the overflow socket)")
                  .message);
    const sock_fprog program{static_cast<unsigned short>(filter.size()),
                             const_cast<sock_filter*>(filter.data())};
    if (::setsockopt(src.fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0)
      return failed(interface + ": SO_ATTACH_FILTER", errno);
  }
  sources_.push_back(std::move(src));
  return {};
}

inline result<packet_socket> packet_socket::open(const packet_socket_options& o) {
  if (o.interfaces.empty()) return fail(error{errc::capture_failed, "packet: no interface"});
  auto filter = detail::socket_filter::compile(o.filter, o.snaplen);
  if (!filter) return fail(filter.error());
  packet_socket out;
  out.batch_ = o.batch == 0 ? 1 : o.batch;
  out.inbound_only_ = o.inbound_only;
  out.snaplen_ = o.snaplen <= 0 ? 1 : static_cast<std::size_t>(o.snaplen);
  out.sockets_.fds.reserve(2 * o.interfaces.size());
  out.sources_.reserve(o.interfaces.size());
  for (const std::string& interface : o.interfaces)
    if (auto added = out.add(interface, filter->code(), o); !added) return fail(added.error());
  out.peers_.resize(out.batch_);
  out.messages_.resize(out.batch_);
  out.slots_.resize(out.batch_);
  out.buffer_.resize(out.batch_ * out.snaplen_);
  return out;
}

inline std::string packet_socket::describe() const {
  std::string out;
  for (const source& s : sources_) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

inline std::string packet_socket::memory() const {
  std::size_t ring = 0;
  for (const source& s : sources_)
    if (s.ring) ring = s.ring->size();
  std::string out = ring ? "ring " + size_text(ring) + " per interface (resident), then " : "";
  out += "socket buffer up to " + size_text(receive_buffer_) + " per interface " +
         "(kernel, taken only while frames wait), batch buffer " + size_text(buffer_.size());
  if (!no_ring_.empty()) out += "; no ring: " + no_ring_;
  return out;
}

template <class F>
bool packet_socket::deliver(std::span<const byte> frame, const sockaddr_ll& from, bool truncated,
                            bool in_place, F& on_datagram) {
  if (from.sll_pkttype == PACKET_OUTGOING && inbound_only_) return false;  // kernels before 4.20
  ++counts_.received;
  counts_.in_place += in_place;
  const std::uint16_t protocol = ntohs(from.sll_protocol);
  if (protocol != ETH_P_IP && protocol != ETH_P_IPV6) {
    ++counts_.ignored;
    return false;
  }
  if (truncated) {
    ++counts_.malformed;
    return false;
  }
  const auto d = parse_frame(frame, link_type::raw);
  if (!d) {
    counts_.count(d.error());
    return false;
  }
  ++counts_.delivered;
  on_datagram(*d);
  return true;
}

template <class F>
result<std::size_t> packet_socket::receive(F&& on_datagram) {
  std::size_t delivered = 0;
  for (source& src : sources_) {
    if (src.ring)
      src.ring->read(batch_, [&](const detail::rx_ring::frame& f) {
        delivered += deliver(f.bytes, f.from, f.truncated, true, on_datagram);
      });
    for (std::size_t i = 0; i < batch_; ++i) {  // the kernel rewrote lengths and flags last time
      slots_[i] = {buffer_.data() + i * snaplen_, snaplen_};
      msghdr& h = messages_[i].msg_hdr;
      h = {};
      h.msg_name = &peers_[i];
      h.msg_namelen = sizeof peers_[i];
      h.msg_iov = &slots_[i];
      h.msg_iovlen = 1;
    }
    const int n = detail::receive_batch(src.fd, {messages_.data(), batch_});
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return failed(src.name + ": receive", errno);
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i)
      delivered +=
          deliver({reinterpret_cast<const byte*>(slots_[i].iov_base), messages_[i].msg_len},
                  peers_[i], (messages_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, false, on_datagram);
  }
  return delivered;
}

inline capture_stats packet_socket::stats() const noexcept {
  for (int fd : sockets_.fds) {  // the kernel's counts since the last read
    tpacket_stats st{};
    socklen_t size = sizeof st;
    if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &size) == 0)
      kernel_drops_ += st.tp_drops;
  }
  capture_stats out = counts_;
  out.dropped += kernel_drops_;
  return out;
}

}  // namespace knock::capture
