// SPDX-License-Identifier: MIT
#pragma once
// The fixture of the capture tests on real interfaces (pcap, packet sockets), as root: a "server"
// namespace that captures and a "peer" namespace that sends, created and removed by each test.
// The peer has only its veth subnets (no default route), so nothing can leave the machine.

#include "collect.hpp"
#include "netns.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string_view>

namespace knock::test {

inline ip_address ip(std::string_view text) { return *ip_address::parse(text); }

class capture_netns : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!is_root()) GTEST_SKIP() << "needs root: creates network namespaces and veth pairs";
    if (!run({"ip", "-V"})) GTEST_SKIP() << "needs iproute2's ip";
    server_.emplace("s");
    peer_.emplace("p");
    ASSERT_TRUE(server_->ok() && peer_->ok()) << "ip netns add failed";
  }
  const netns& server() const { return *server_; }
  const netns& peer() const { return *peer_; }

  /// The first veth pair: server a0 192.0.2.1 / 2001:db8::1, peer b0 192.0.2.2 / 2001:db8::2.
  void link_first(int mtu = 1500) {
    ASSERT_TRUE(veth(server(), "a0", "192.0.2.1/24", peer(), "b0", "192.0.2.2/24", mtu));
    ASSERT_TRUE(server().ip({"addr", "add", "2001:db8::1/64", "dev", "a0", "nodad"}));
    ASSERT_TRUE(peer().ip({"addr", "add", "2001:db8::2/64", "dev", "b0", "nodad"}));
  }

  /// Opens a `Capture` inside the server namespace.
  template <class Capture, class Options>
  std::optional<Capture> open_capture(const Options& o) const {
    inside in{server()};
    EXPECT_TRUE(in.ok());
    auto p = Capture::open(o);
    EXPECT_TRUE(p) << p.error().message;
    return p ? std::optional<Capture>{*std::move(p)} : std::nullopt;
  }

  /// A UDP sender bound to `from`, in namespace `ns`.
  static std::unique_ptr<sender> sender_in(const netns& ns, const ip_address& from) {
    inside in{ns};
    EXPECT_TRUE(in.ok());
    return std::make_unique<sender>(from);
  }

 private:
  std::optional<netns> server_, peer_;  // declared after nothing that outlives them
};

}  // namespace knock::test
