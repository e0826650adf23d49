// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// Out-of-line bodies of knock/capture/packet_socket.hpp.

#include <knock/capture/packet_socket.hpp>

#include <net/ethernet.h>

#include <cerrno>
#include <memory>

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

inline result<void> packet_socket::add(const std::string& interface,
                                       std::span<const sock_filter> filter,
                                       const packet_socket_options& o) {
  const std::string where = interface + ": ";
  unsigned index = 0;  // `any`: every interface
  if (interface != "any" && (index = ::if_nametoindex(interface.c_str())) == 0)
    return failed(interface, errno);
  // Protocol 0: the socket receives nothing until it is bound below, after the filter is set, so
  // it never queues a frame the filter would have refused.
  const int fd = ::socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return failed(where + "socket", errno);
  sockets_.fds.push_back(fd);  // owned from here (reserved: cannot throw); closed on failure
  names_.push_back(interface);
  const sock_fprog program{static_cast<unsigned short>(filter.size()),
                           const_cast<sock_filter*>(filter.data())};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0)
    return failed(where + "SO_ATTACH_FILTER", errno);
  receive_buffer_ = detail::set_receive_buffer(fd, o.receive_buffer);
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
}

inline result<packet_socket> packet_socket::open(const packet_socket_options& o) {
  if (o.interfaces.empty()) return fail(error{errc::capture_failed, "packet: no interface"});
  auto filter = detail::socket_filter::compile(o.filter, o.snaplen);
  if (!filter) return fail(filter.error());
  packet_socket out;
  out.batch_ = o.batch == 0 ? 1 : o.batch;
  out.inbound_only_ = o.inbound_only;
  out.snaplen_ = o.snaplen <= 0 ? 1 : static_cast<std::size_t>(o.snaplen);
  out.sockets_.fds.reserve(o.interfaces.size());
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
  for (const std::string& n : names_) out += (out.empty() ? "" : ", ") + n;
  return out;
}

template <class F>
result<std::size_t> packet_socket::receive(F&& on_datagram) {
  std::size_t delivered = 0;
  for (std::size_t s = 0; s < sockets_.fds.size(); ++s) {
    for (std::size_t i = 0; i < batch_; ++i) {  // the kernel rewrote lengths and flags last time
      slots_[i] = {buffer_.data() + i * snaplen_, snaplen_};
      msghdr& h = messages_[i].msg_hdr;
      h = {};
      h.msg_name = &peers_[i];
      h.msg_namelen = sizeof peers_[i];
      h.msg_iov = &slots_[i];
      h.msg_iovlen = 1;
    }
    const int n = detail::receive_batch(sockets_.fds[s], {messages_.data(), batch_});
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return failed(names_[s] + ": receive", errno);
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
      const sockaddr_ll& from = peers_[i];
      if (from.sll_pkttype == PACKET_OUTGOING && inbound_only_) continue;  // kernels before 4.20
      ++counts_.received;
      const std::uint16_t protocol = ntohs(from.sll_protocol);
      if (protocol != ETH_P_IP && protocol != ETH_P_IPV6) {
        ++counts_.ignored;
        continue;
      }
      if ((messages_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0) {
        ++counts_.malformed;
        continue;
      }
      const auto d =
          parse_frame({reinterpret_cast<const byte*>(slots_[i].iov_base), messages_[i].msg_len},
                      link_type::raw);
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
