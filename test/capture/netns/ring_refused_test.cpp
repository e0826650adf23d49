// SPDX-License-Identifier: MIT
// knock::capture::packet_socket when the kernel will not have its ring (an old kernel without
// TPACKET_V2 or fanout rollover, no memory for the slots): the interface keeps the socket alone,
// frames still arrive, and `memory()` says why. The kernel cannot be made to refuse on demand, so
// this test binary (only this one) puts its own `setsockopt` in front of libc's, which fails the
// chosen packet-socket option with the chosen errno and passes every other call on. As root,
// inside network namespaces the test creates and removes (fixture.hpp).
#include <knock/capture/packet_socket.hpp>

#include "collect.hpp"
#include "fixture.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <dlfcn.h>
#include <linux/if_packet.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>

namespace {
std::atomic<int> refused_option{-1};  // the SOL_PACKET option to refuse; -1: none
std::atomic<int> refused_call{1};     // which call of it (1: the first), counted down
int refused_errno = 0;
}  // namespace

extern "C" int setsockopt(int fd, int level, int name, const void* value, socklen_t size) noexcept {
  using real_setsockopt = int (*)(int, int, int, const void*, socklen_t);
  static const auto real = reinterpret_cast<real_setsockopt>(::dlsym(RTLD_NEXT, "setsockopt"));
  if (level == SOL_PACKET && name == refused_option.load() && --refused_call == 0) {
    errno = refused_errno;
    return -1;
  }
  return real(fd, level, name, value, size);
}

namespace {
using namespace knock;
using namespace knock::test;
using capture::packet_socket;
using capture::packet_socket_options;

class ring_refused : public capture_netns {
 protected:
  // Opens a0 with the `call`th `option` refused with `errnum`; checks that it came to one socket
  // that still delivers, read by `recvmmsg`, and returns what `memory()` said.
  std::string open_refused(int option, int call, int errnum) {
    refused_errno = errnum;
    refused_call = call;
    refused_option = option;
    packet_socket_options o;
    o.interfaces = {"a0"};
    auto cap = open_capture<packet_socket>(o);
    refused_option = -1;
    if (!cap) return "not opened";
    EXPECT_EQ(cap->fds().size(), 1u) << "the ring's socket is closed";
    const auto out = sender_in(peer(), ip("192.0.2.2"));
    out->send(ip("192.0.2.1"), 62201, "no ring");
    const auto got = collect(*cap, 1);
    EXPECT_EQ(got.size(), 1u);
    EXPECT_TRUE(collect(*cap, 1, std::chrono::milliseconds{200}).empty()) << "a second copy";
    EXPECT_EQ(cap->stats().in_place, 0u);
    return cap->memory();
  }
};

TEST_F(ring_refused, no_memory_for_the_ring) {
  link_first();
  EXPECT_EQ(open_refused(PACKET_RX_RING, 1, ENOMEM),
            "socket buffer up to 64 MiB per interface (kernel, taken only while frames wait), "
            "batch buffer 109.8 KiB; no ring: packet: a0: PACKET_RX_RING: Cannot allocate memory");
}

TEST_F(ring_refused, no_tpacket_v3) {
  link_first();
  EXPECT_EQ(open_refused(PACKET_VERSION, 1, EINVAL),
            "socket buffer up to 64 MiB per interface (kernel, taken only while frames wait), "
            "batch buffer 109.8 KiB; no ring: packet: a0: PACKET_VERSION: Invalid argument");
}

// The ring's group made, the socket behind it refused: the ring is given up, and the socket,
// which took nothing until it joined, gets the real filter and takes everything.
TEST_F(ring_refused, the_socket_behind_the_ring_cannot_join_its_group) {
  link_first();
  EXPECT_EQ(open_refused(PACKET_FANOUT, 2, EINVAL),
            "socket buffer up to 64 MiB per interface (kernel, taken only while frames wait), "
            "batch buffer 109.8 KiB; no ring: packet: a0: PACKET_FANOUT (the overflow socket): "
            "Invalid argument");
}

TEST_F(ring_refused, no_fanout_rollover) {
  link_first();
  EXPECT_EQ(open_refused(PACKET_FANOUT, 1, EINVAL),
            "socket buffer up to 64 MiB per interface (kernel, taken only while frames wait), "
            "batch buffer 109.8 KiB; no ring: packet: a0: PACKET_FANOUT: Invalid argument");
}
}  // namespace
