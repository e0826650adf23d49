// SPDX-License-Identifier: MIT
// knock::cipher::openpgp::read_recipients: the key ids of a message's session key packets, read
// from their headers only (issue #15).

#include <knock/cipher/openpgp.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

using knock::byte;
using knock::errc;
namespace openpgp = knock::cipher::openpgp;

constexpr openpgp::key_id id_a{1, 2, 3, 4, 5, 6, 7, 8};
constexpr openpgp::key_id id_b{0xA0, 0xB1, 0xC2, 0xD3, 0xE4, 0xF5, 0x06, 0x17};

// A version 3 session key packet to `id` with `key_bytes` of encrypted session key, in the old
// format with a two-byte length (what GnuPG writes: 0x85, base64 "hQ") or the new format.
std::vector<byte> session_key_packet(const openpgp::key_id& id, std::size_t key_bytes,
                                     bool new_format = false) {
  const std::size_t body = 1 + 8 + 1 + key_bytes;
  std::vector<byte> p;
  if (new_format) {
    p.push_back(0xC1);
    if (body < 192) {
      p.push_back(static_cast<byte>(body));
    } else {
      p.push_back(static_cast<byte>(((body - 192) >> 8) + 192));
      p.push_back(static_cast<byte>((body - 192) & 0xFF));
    }
  } else {
    p.push_back(0x85);
    p.push_back(static_cast<byte>(body >> 8));
    p.push_back(static_cast<byte>(body & 0xFF));
  }
  p.push_back(3);
  for (byte x : id) p.push_back(x);
  p.push_back(1);  // RSA
  p.resize(p.size() + key_bytes, 0x5A);
  return p;
}
std::vector<byte> encrypted_data() { return {0xD2, 0x05, 1, 2, 3, 4, 5}; }
std::vector<byte> operator+(std::vector<byte> a, const std::vector<byte>& b) {
  for (byte x : b) a.push_back(x);  // (insert: a g++ 12 -O3 false -Wstringop-overflow)
  return a;
}
knock::result<openpgp::recipient_list, errc> read(const std::vector<byte>& b) {
  return openpgp::read_recipients({b.data(), b.size()});
}

TEST(openpgp, reads_the_recipient_of_a_gnupg_message) {
  const auto blob = session_key_packet(id_a, 258) + encrypted_data();
  const auto r = read(blob);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->count, 1u);
  EXPECT_EQ(r->ids[0], id_a);
  EXPECT_EQ(r->header_size, 3u + 268u);
  EXPECT_TRUE(r->may_be_for(id_a));
  EXPECT_FALSE(r->may_be_for(id_b));
}

TEST(openpgp, reads_several_recipients_and_the_new_format) {
  const auto blob =
      session_key_packet(id_a, 40, true) + session_key_packet(id_b, 300, true) + encrypted_data();
  const auto r = read(blob);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->count, 2u);
  EXPECT_EQ(r->ids[1], id_b);
  EXPECT_TRUE(r->may_be_for(id_b));
}

TEST(openpgp, a_hidden_recipient_may_be_anyone) {
  const auto r = read(session_key_packet(openpgp::key_id{}, 20) + encrypted_data());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->may_be_for(id_a));
}

TEST(openpgp, refuses_what_is_not_a_session_key_packet_whole) {
  const auto good = session_key_packet(id_a, 20) + encrypted_data();
  EXPECT_EQ(read({}).error(), errc::bad_openpgp);
  EXPECT_EQ(read(encrypted_data()).error(), errc::bad_openpgp);  // no session key packet
  EXPECT_EQ(read(session_key_packet(id_a, 20)).error(), errc::bad_openpgp);  // nothing after it
  for (std::size_t cut = 1; cut < 33; ++cut)  // every cut inside the header or the packet
    EXPECT_EQ(read({good.begin(), good.begin() + static_cast<long>(cut)}).error(),
              errc::bad_openpgp)
        << cut;
  auto v6 = good;
  v6[3] = 6;
  EXPECT_EQ(read(v6).error(), errc::bad_openpgp);
  auto long_claim = good;
  long_claim[1] = 0xFF;  // a length past the end
  EXPECT_EQ(read(long_claim).error(), errc::bad_openpgp);
  auto indeterminate = good;
  indeterminate[0] = 0x87;
  EXPECT_EQ(read(indeterminate).error(), errc::bad_openpgp);
  auto not_a_packet = good;
  not_a_packet[0] = 0x05;
  EXPECT_EQ(read(not_a_packet).error(), errc::bad_openpgp);
  std::vector<byte> many;
  for (int i = 0; i < 9; ++i) many = many + session_key_packet(id_a, 20);
  EXPECT_EQ(read(many + encrypted_data()).error(), errc::bad_openpgp);
}

}  // namespace
