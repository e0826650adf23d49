// SPDX-License-Identifier: MIT
// The Capture concept: the shipped models satisfy it, a minimal archetype satisfies it, and types
// missing a requirement do not.
#include <knock/capture/concept.hpp>

#include <knock/capture/pcap.hpp>
#include <knock/capture/udp_socket.hpp>

#include <gtest/gtest.h>

#include <span>
#include <vector>

namespace {
using namespace knock;

/// Exactly the requirements: a role, descriptors, a non-blocking receive. (Belongs in
/// test/support/archetypes.hpp beside the other archetypes.)
struct capture_archetype {
  using role = knock::role::capture;
  std::vector<datagram> pending;
  std::span<const int> fds() const noexcept { return {}; }
  template <class F>
  result<std::size_t> receive(F&& on_datagram) {
    for (const datagram& d : pending) on_datagram(d);
    return std::exchange(pending, {}).size();
  }
};

struct no_role {
  std::span<const int> fds() const noexcept { return {}; }
  template <class F>
  result<std::size_t> receive(F&&) {
    return std::size_t{0};
  }
};
struct no_fds {
  using role = knock::role::capture;
  template <class F>
  result<std::size_t> receive(F&&) {
    return std::size_t{0};
  }
};
struct blocking_next {  // the old pull shape: not a capture any more
  using role = knock::role::capture;
  std::span<const int> fds() const noexcept { return {}; }
  result<datagram> next(bytes_span) { return fail(errc::capture_failed); }
};
struct wrong_role {
  using role = knock::role::firewall;
  std::span<const int> fds() const noexcept { return {}; }
  template <class F>
  result<std::size_t> receive(F&&) {
    return std::size_t{0};
  }
};

static_assert(capture_policy<capture::pcap>);
static_assert(capture_policy<capture::udp_socket>);
static_assert(counting_capture<capture::pcap>);
static_assert(counting_capture<capture::udp_socket>);
static_assert(capture_policy<capture_archetype>);
static_assert(!counting_capture<capture_archetype>);
static_assert(!capture_policy<no_role>);
static_assert(!capture_policy<no_fds>);
static_assert(!capture_policy<blocking_next>);
static_assert(!capture_policy<wrong_role>);

TEST(capture_concept, archetype_delivers_and_drains) {
  capture_archetype c;
  c.pending.push_back({"one", {}, {}, 1, 62201});
  c.pending.push_back({"two", {}, {}, 2, 62201});
  std::vector<std::string_view> got;
  const auto n = c.receive([&](const datagram& d) { got.push_back(d.payload); });
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(got, (std::vector<std::string_view>{"one", "two"}));
  EXPECT_EQ(c.receive([](const datagram&) {}).value_or(9), 0u);
}

TEST(capture_stats, sum_adds_every_count) {
  knock::capture_stats a{1, 2, 3, 4, 5, 6, 7}, b{10, 20, 30, 40, 50, 60, 70};
  a += b;
  EXPECT_EQ(a.received, 11u);
  EXPECT_EQ(a.delivered, 22u);
  EXPECT_EQ(a.dropped, 33u);
  EXPECT_EQ(a.ifdropped, 44u);
  EXPECT_EQ(a.fragments, 55u);
  EXPECT_EQ(a.malformed, 66u);
  EXPECT_EQ(a.ignored, 77u);
}

}  // namespace
