// SPDX-License-Identifier: MIT
// FIREWALL_TYPE none (`knock::firewall::recording`): made from fwknopd.conf it reads no variable,
// has nothing to list or flush, and counts grants without keeping them (knock-server -t);
// constructed, it keeps each grant until it expires.
#include <knock/firewall/recording.hpp>

#include <knock/config/fwknopd_conf.hpp>

#include <gtest/gtest.h>

#include <iterator>
#include <string_view>

namespace {
using knock::ip_address;
using knock::ip_protocol;

knock::config::fwknopd_conf conf(std::string_view text) {
  auto c = knock::config::parse_fwknopd_conf(text, "f.conf");
  EXPECT_TRUE(c) << (c ? "" : knock::config::to_string(c.error()));
  return c ? *c : knock::config::fwknopd_conf{};
}

TEST(recording_make, is_firewall_type_none_with_nothing_to_list_or_flush) {
  using knock::firewall::recording;
  EXPECT_EQ(recording::name, "none");
  EXPECT_EQ(std::size(recording::variables), 0u);
  const auto c = conf("");
  auto fw = recording::make({c, {}, knock::firewall::mode::install});
  ASSERT_TRUE(fw);
  knock::grant g;
  g.source = *ip_address::parse("10.0.0.5");
  g.ports.push_back({ip_protocol::tcp, 22});
  g.expires = 100;
  ASSERT_TRUE(fw->open(g));
  EXPECT_TRUE(fw->active().empty()) << "made from the configuration, it counts and keeps none";
  const auto lines = fw->list();
  ASSERT_TRUE(lines);
  EXPECT_TRUE(lines->empty());
  EXPECT_TRUE(fw->flush());
  EXPECT_EQ(fw->opened(), 1u);

  recording kept;  // constructed: keeps each grant until it expires
  ASSERT_TRUE(kept.open(g));
  ASSERT_EQ(kept.active().size(), 1u);
  EXPECT_EQ(kept.active()[0].source, g.source);
  ASSERT_TRUE(kept.expire(99));
  EXPECT_EQ(kept.active().size(), 1u);
  ASSERT_TRUE(kept.expire(100));
  EXPECT_TRUE(kept.active().empty());
  EXPECT_EQ(kept.opened(), 1u);
}

TEST(recording_make, reads_no_variable) {
  EXPECT_TRUE(knock::firewall::recording::check(conf("ANYTHING_AT_ALL x\n")));
}

}  // namespace
