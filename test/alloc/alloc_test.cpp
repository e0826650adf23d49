// SPDX-License-Identifier: MIT
// The receive path does not touch the heap: wire::screen + wire::open (and the split form the
// server uses, wire::authenticate + wire::decrypt) of valid packets, packets with a bad HMAC,
// base64-alphabet garbage and binary junk make zero allocations, in every mode with every HMAC (and
// none), once the thread is warm.
//
// How it counts (alloc/counting_allocator.hpp). This executable replaces every global operator
// new/delete and interposes the C allocator over glibc's. Both matter: Crypto++ allocates its
// SecBlocks (AES round keys) with malloc, not with new. Inside a counted region
// (`count_allocations`) each call on this thread adds one.
//
// Warm-up. Crypto++ keeps AES round keys in a heap block; rijndael.hpp holds one thread_local
// AES::Decryption (cbc, ecb, legacy) and one AES::Encryption (ctr, cfb, ofb, and every encrypt),
// whose blocks are allocated by their first SetKey on each thread and reused afterwards (same key
// size). So each thread must open one packet per direction before it is allocation-free; the tests
// warm up with one open per mode and measure that first-use cost separately
// (alloc_warm_up.only_the_first_open_per_aes_direction_allocates).
//
// Finding an allocation. A counted allocation prints a backtrace to stderr (the first few per
// region), and calls `knock_counted_allocation`, so
//   gdb -ex 'break knock_counted_allocation' -ex run -ex bt --args ./alloc_test --gtest_filter=...
// stops at the culprit.
#include <knock/cipher/any_of.hpp>
#include <knock/firewall/async.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/observe/metrics.hpp>
#include <knock/server.hpp>
#include <knock/wire/message_key.hpp>
#include <knock/wire/packet.hpp>

#include "alloc/counting_allocator.hpp"
#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <poll.h>

#include <array>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace {
using namespace knock;

// The counter counts.

TEST(alloc_counter, counts_every_form_of_new_and_of_malloc) {
  struct alignas(64) wide {
    char c[64];
  };
  void* p = nullptr;
  std::size_t expected = 0;
  const std::size_t counted = count_allocations(
      [&] {
        delete keep(new int{1}), ++expected;
        delete[] keep(new int[4]), ++expected;
        delete keep(new (std::nothrow) int{2}), ++expected;
        delete[] keep(new (std::nothrow) int[2]), ++expected;
        delete keep(new wide), ++expected;
        delete[] keep(new wide[2]), ++expected;
        delete keep(new (std::nothrow) wide), ++expected;
        delete[] keep(new (std::nothrow) wide[3]), ++expected;
        ::operator delete(keep(::operator new(8))), ++expected;
        std::free(keep(std::malloc(8))), ++expected;
        std::free(keep(std::calloc(2, 8))), ++expected;
        p = keep(std::malloc(8)), ++expected;
        p = keep(std::realloc(p, 4096)), ++expected;
        std::free(p);
        std::free(keep(std::aligned_alloc(64, 128))), ++expected;
        if (::posix_memalign(&p, 64, 100) == 0) std::free(keep(p)), ++expected;
      },
      /*report=*/false);
  EXPECT_EQ(counted, expected);
  EXPECT_EQ(expected, 15u);

  // A std::string too long for its small buffer allocates, through the library's operator new.
  EXPECT_GE(count_allocations(
                [] {
                  std::string s(100, 'x');
                  keep(s.data());
                },
                false),
            1u);
  // Outside a region nothing is counted; an empty region counts nothing.
  delete keep(new int{3});
  EXPECT_EQ(count_allocations([] {}), 0u);
}

// Inputs.

constexpr std::array<std::string_view, 6> all_modes{"cbc", "ctr", "cfb", "ofb", "ecb", "legacy"};
const secret_bytes enc_key{std::string_view{"an encryption key of 30 bytes."}};
const secret_bytes hmac_key{
    std::string_view{"an HMAC key, not the encryption key, long enough to be hashed once "
                     "it passes the block size of the smaller hashes: 0123456789"}};
constexpr std::array<byte, 8> salt{11, 22, 33, 44, 55, 66, 77, 88};

spa_message access_request() {
  spa_message m;
  m.rand_value.assign("9876543210123456");
  m.username.assign("alloc");
  m.timestamp = 1700000000;
  m.message.assign("198.51.100.7,tcp/22,udp/53");
  return m;
}

/// Deterministic filler (xorshift64*), so failures reproduce.
struct noise {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
};
std::string base64_garbage(std::size_t n, std::uint64_t seed) {
  noise r{seed};
  std::string s(n, 'A');
  for (char& c : s) c = codec::base64::alphabet[r.next() % 64];
  if (s.starts_with(wire::rijndael_prefix)) s[0] = 'V';
  return s;
}
std::string binary_junk(std::size_t n, std::uint64_t seed) {
  noise r{seed};
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(r.next() & 0xFF);
  return s;
}

/// What one screen + open of one input gave (recorded inside the counted region).
struct outcome {
  bool screened = false;
  bool opened = false;
  bool split_opened = false;  // by wire::authenticate + wire::decrypt, as knock::server does
  byte key_byte = 0;          // first byte of wire::message_key, so it is computed
  std::error_code error;
  inline_string<limits::max_field> message;
};

/// screen + open (and authenticate + decrypt) of every input under both long_packets settings;
/// returns the allocations they made.
template <class MacKeyed>
std::size_t open_all(const std::vector<std::string>& inputs, const cipher::any_rijndael& cipher,
                     secret_view key, const MacKeyed* mac, std::vector<outcome>& out) {
  out.assign(inputs.size() * 2, outcome{});  // before counting: assigning below never allocates
  return count_allocations([&] {
    std::size_t i = 0;
    for (const std::string& input : inputs)
      for (auto long_ones : {wire::long_packets::refuse, wire::long_packets::try_aes}) {
        outcome& o = out[i++];
        o.screened = wire::screen(input).has_value();
        const auto m = wire::open(input, cipher, key, mac, long_ones);
        o.opened = m.has_value();
        if (m)
          o.message = m->message;
        else
          o.error = m.error();
        // The server's form of the same: authenticate, decrypt, then the message's replay key.
        const auto body = wire::authenticate(input, cipher, mac, long_ones);
        const auto split = body ? wire::decrypt(*body, cipher, key, long_ones)
                                : result<spa_message, errc>{fail(body.error())};
        if (split) o.key_byte = wire::message_key(*split)[0];
        o.split_opened = split.has_value();
      }
  });
}

// Every mode × every HMAC (and none): valid, bad HMAC, base64 garbage, binary junk.

class receive_path
    : public ::testing::TestWithParam<std::tuple<std::string_view, std::optional<hash_id>>> {};

TEST_P(receive_path, does_not_allocate) {
  const auto [mode, hmac] = GetParam();
  // Everything a stanza holds is built before counting: the cipher, the keys, the keyed HMAC state.
  const auto cipher = cipher::any_rijndael::make(mode);
  ASSERT_TRUE(cipher);
  std::optional<mac::any_hmac::keyed> mac;
  if (hmac) mac.emplace(*mac::any_hmac::make(to_string(*hmac), hmac_key.view()));
  const mac::any_hmac::keyed* mac_ptr = mac ? &*mac : nullptr;

  const auto valid = wire::seal(access_request(), *cipher, enc_key.view(), mac_ptr, salt);
  ASSERT_TRUE(valid) << error_name(valid.error());
  std::string tampered = *valid;  // bad HMAC; without one, a changed ciphertext character
  char& changed = hmac ? tampered.back() : tampered[tampered.size() / 2];
  changed = changed == 'A' ? 'B' : 'A';

  std::vector<std::string> inputs{*valid, tampered};
  for (std::size_t n : {140, 257, 399, 400, 1000, 1500}) inputs.push_back(base64_garbage(n, n));
  for (std::size_t n : {0, 1, 139, 140, 300, 1500, 1501, 4096})
    inputs.push_back(binary_junk(n, n + 7));
  // Binary junk that starts like a packet: passes the first checks and fails on the first odd byte.
  inputs.push_back(valid->substr(0, 200) + std::string(40, '\xff'));

  // Warm-up: the first open per AES direction on this thread allocates the round-key block (see
  // top).
  for (std::string_view m : all_modes) {
    const auto c = *cipher::any_rijndael::make(m);
    const auto p = wire::seal(access_request(), c, enc_key.view(), mac_ptr, salt);
    ASSERT_TRUE(p && wire::open(*p, c, enc_key.view(), mac_ptr));
  }

  std::vector<outcome> out;
  EXPECT_EQ(open_all(inputs, *cipher, enc_key.view(), mac_ptr, out), 0u);

  // The work was really done: the valid packet opens, nothing else does.
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE(out[i].screened);
    ASSERT_TRUE(out[i].opened) << error_name(out[i].error);
    EXPECT_EQ(out[i].message.view(), "198.51.100.7,tcp/22,udp/53");
  }
  for (std::size_t i = 2; i < out.size(); ++i) EXPECT_FALSE(out[i].opened) << "input " << i / 2;
  for (std::size_t i = 0; i < out.size(); ++i)
    EXPECT_EQ(out[i].split_opened, out[i].opened) << i / 2;
  if (hmac) {
    EXPECT_EQ(out[2].error, errc::bad_mac);
  }
  for (std::size_t i = 2 * 8; i < 2 * 16; ++i) EXPECT_FALSE(out[i].screened) << "junk " << i / 2;
}

INSTANTIATE_TEST_SUITE_P(
    every_mode_and_mac, receive_path,
    ::testing::Combine(::testing::ValuesIn(all_modes),
                       ::testing::Values(std::nullopt, hash_id::md5, hash_id::sha1, hash_id::sha256,
                                         hash_id::sha384, hash_id::sha512, hash_id::sha3_256,
                                         hash_id::sha3_512)),
    [](const auto& info) {
      const auto h = std::get<1>(info.param);
      return std::string{std::get<0>(info.param)} + "_" +
             (h ? std::string{to_string(*h)} : "no_hmac");
    });

// The packets of the real fwknop client (valid, invalid, quirks, and the over-400 ones), as
// configured.

TEST(fwknop_packets, do_not_allocate) {
  const auto file = test::load_json(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json");
  std::size_t checked = 0;
  for (const auto& v : file.at("vectors")) {
    const test::vector_keys keys{v};  // secret_bytes and the keyed HMAC: built before counting
    std::vector<std::string> packets;
    if (v.contains("packet")) packets.push_back(v.at("packet").get<std::string>());
    if (v.contains("packets"))
      for (const auto& p : v.at("packets")) packets.push_back(p.get<std::string>());
    for (std::string_view m : all_modes) {  // warm-up, as above
      const auto c = *cipher::any_rijndael::make(m);
      (void)wire::open(*wire::seal(access_request(), c, enc_key.view(), keys.mac_ptr(), salt), c,
                       enc_key.view(), keys.mac_ptr());
    }
    std::vector<outcome> out;
    EXPECT_EQ(open_all(packets, keys.cipher, keys.key.view(), keys.mac_ptr(), out), 0u)
        << v.at("name").get<std::string>();
    checked += packets.size();
  }
  EXPECT_GE(checked, 58u);
}

// Why the warm-up: on a new thread, the first open in each AES direction allocates Crypto++'s
// round-key block; nothing after it does. Runs on fresh threads so that this thread's warm state
// cannot hide it.

TEST(alloc_warm_up, only_the_first_open_per_aes_direction_allocates) {
  const auto mac = *mac::any_hmac::make("sha256", hmac_key.view());
  std::vector<std::string> packets;
  for (std::string_view m : all_modes)
    packets.push_back(
        *wire::seal(access_request(), *cipher::any_rijndael::make(m), enc_key.view(), &mac, salt));

  for (std::size_t first = 0; first < all_modes.size(); ++first) {
    std::array<std::size_t, all_modes.size()> first_use{}, second_use{};
    std::array<bool, all_modes.size()> opened{};
    std::thread([&] {
      // `first` goes first, then the others in order; each mode is opened twice.
      for (std::size_t k = 0; k < all_modes.size(); ++k) {
        const std::size_t i = (first + k) % all_modes.size();
        const auto cipher = *cipher::any_rijndael::make(all_modes[i]);
        for (std::size_t* counted : {&first_use[i], &second_use[i]})
          *counted = count_allocations(
              [&] { opened[i] = wire::open(packets[i], cipher, enc_key.view(), &mac).has_value(); },
              /*report=*/false);
      }
    }).join();

    std::string summary;
    for (std::size_t i = 0; i < all_modes.size(); ++i) {
      EXPECT_TRUE(opened[i]) << all_modes[i];
      EXPECT_EQ(second_use[i], 0u) << all_modes[i] << " allocates on every use";
      summary += std::string{all_modes[i]} + "=" + std::to_string(first_use[i]) + " ";
    }
    // Only the first user of each of the two thread_local AES objects may allocate.
    std::size_t allocating = 0;
    for (std::size_t n : first_use) allocating += n != 0;
    EXPECT_LE(allocating, 2u) << summary;
    std::cout << "first open on a new thread, starting with " << all_modes[first]
              << ": allocations " << summary << "\n";
  }
}

// The whole server pipeline — screen, replay lookup, HMAC, decrypt, decode, message key, replay
// recording, time window, authorization, grant — allocates nothing either, accepted or refused,
// with the bounded memory_store and a firewall that allocates nothing itself.
struct counting_firewall {
  using role = knock::role::firewall;
  std::size_t opened = 0;
  result<void> open(const grant&) {
    ++opened;
    return {};
  }
  result<void> expire(epoch_seconds) { return {}; }
};

TEST(server_path, handle_does_not_allocate) {
  using spa_server = server<cipher::any_rijndael, mac::any_hmac, counting_firewall>;
  const secret_bytes aes{std::string_view{"0123456789abcdef0123456789abcdef"}};
  const secret_bytes hkey{std::string_view{"an HMAC key for the server path"}};
  access::stanza<cipher::any_rijndael, mac::any_hmac> st;
  st.key = aes.clone();
  st.mac = *mac::any_hmac::make("sha256", hkey.view());
  spa_server::rules_type rules;
  rules.stanzas.push_back(std::move(st));
  spa_server srv{std::move(rules)};

  constexpr epoch_seconds now = 1700000000;
  std::vector<std::string> valid;
  for (int i = 0; i < 64; ++i) {
    spa_message m;
    m.rand_value.assign(std::to_string(1000000000000000 + i));
    m.username.assign("alice");
    m.timestamp = now;
    m.message.assign("10.0.0.5,tcp/22");
    const std::array<byte, 8> salt{static_cast<byte>(i)};
    valid.push_back(
        *wire::seal(m, cipher::any_rijndael{}, aes.view(), &*srv.rules().stanzas[0].mac, salt));
  }
  std::string bad_mac = valid[1];
  bad_mac.back() = bad_mac.back() == 'A' ? 'B' : 'A';
  const std::string garbage(204, 'Q');
  const std::string junk(300, '\x01');
  const ip_address from = *ip_address::parse("192.0.2.1"), to = *ip_address::parse("0.0.0.0");
  ASSERT_TRUE(
      srv.handle({valid[0], from, to}, now).accepted);  // warm-up: this thread's AES objects

  std::array<errc, 4> reasons{};
  std::size_t accepted = 0;
  const std::size_t allocations = count_allocations([&] {
    for (std::size_t i = 1; i < valid.size(); ++i)
      accepted += srv.handle({valid[i], from, to}, now).accepted;
    reasons[0] = srv.handle({valid[1], from, to}, now).reason;  // replay
    reasons[1] = srv.handle({bad_mac, from, to}, now).reason;
    reasons[2] = srv.handle({garbage, from, to}, now).reason;
    reasons[3] = srv.handle({junk, from, to}, now).reason;
  });
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(accepted, valid.size() - 1);
  EXPECT_EQ(srv.firewall().opened, valid.size());
  EXPECT_EQ(reasons[0], errc::replayed);
  EXPECT_EQ(reasons[1], errc::bad_mac);
  EXPECT_EQ(reasons[2], errc::bad_mac);
  EXPECT_EQ(reasons[3], errc::not_base64);

  // A store full of live entries refuses (fails closed) without allocating either: its error is a
  // bare reason, and only a resource that says something in words costs a string.
  access::stanza<cipher::any_rijndael, mac::any_hmac> again;
  again.key = aes.clone();
  again.mac = *mac::any_hmac::make("sha256", hkey.view());
  spa_server::rules_type one_rule;
  one_rule.stanzas.push_back(std::move(again));
  spa_server full{std::move(one_rule), replay::memory_store{1}};
  errc full_reason{};
  bool has_detail = true;
  EXPECT_EQ(count_allocations([&] {
              const verdict v = full.handle({valid[2], from, to}, now);
              full_reason = v.reason;
              has_detail = !v.detail.empty();
            }),
            0u);
  EXPECT_EQ(full_reason, errc::replay_store_full);
  EXPECT_FALSE(has_detail);
}

// Issue #18: the metrics Observer (the counter table) and the decode clock add nothing to the
// heap either: counting is an increment in a fixed table indexed by the reason, one for the stanza
// and one histogram bucket, as knock-server does around each handle().
TEST(server_path, counting_metrics_does_not_allocate) {
  using counted_server = server<cipher::any_rijndael, mac::any_hmac, counting_firewall,
                                observe::with_metrics<observe::null>>;
  const secret_bytes aes{std::string_view{"0123456789abcdef0123456789abcdef"}};
  const secret_bytes hkey{std::string_view{"an HMAC key for the server path"}};
  access::stanza<cipher::any_rijndael, mac::any_hmac> st;
  st.key = aes.clone();
  st.mac = *mac::any_hmac::make("sha256", hkey.view());
  counted_server::rules_type rules;
  rules.stanzas.push_back(std::move(st));
  counted_server srv{std::move(rules), observe::with_metrics<observe::null>{observe::null{}, 1}};

  constexpr epoch_seconds now = 1700000000;
  std::vector<std::string> valid;
  for (int i = 0; i < 16; ++i) {
    spa_message m;
    m.rand_value.assign(std::to_string(2000000000000000 + i));
    m.username.assign("alice");
    m.timestamp = now;
    m.message.assign("10.0.0.5,tcp/22");
    const std::array<byte, 8> salt{static_cast<byte>(i), 1};
    valid.push_back(
        *wire::seal(m, cipher::any_rijndael{}, aes.view(), &*srv.rules().stanzas[0].mac, salt));
  }
  const std::string garbage(204, 'Q');
  const std::string junk(300, '\x01');
  const ip_address from = *ip_address::parse("192.0.2.1"), to = *ip_address::parse("0.0.0.0");
  ASSERT_TRUE(srv.handle({valid[0], from, to}, now).accepted);  // warm-up
  const auto timed = [&](const std::string& payload) {
    const std::uint64_t t0 = observe::decode_clock::now();
    (void)srv.handle({payload, from, to}, now);
    srv.observer().table().decode.record(observe::decode_clock::now() - t0);
  };
  EXPECT_EQ(count_allocations([&] {
              for (std::size_t i = 1; i < valid.size(); ++i) timed(valid[i]);
              timed(valid[1]);  // replayed
              for (int i = 0; i < 8; ++i) timed(garbage), timed(junk);
            }),
            0u);
  const observe::metrics& m = srv.observer().table();
  EXPECT_EQ(m.accepted, valid.size());
  EXPECT_EQ(m.by_stanza.at(0), valid.size());
  EXPECT_EQ(m.refused[static_cast<std::uint8_t>(errc::replayed)], 1u);
  EXPECT_EQ(m.refused[static_cast<std::uint8_t>(errc::bad_mac)], 8u);
  EXPECT_EQ(m.refused[static_cast<std::uint8_t>(errc::not_base64)], 8u);
  EXPECT_EQ(m.decode.count(), valid.size() - 1 + 1 + 16);
}

}  // namespace

// The capture thread's side of the firewall writer (knock-server's batch: a held scope, a grant
// submitted per accepted packet, the scope's end, the answers drained) allocates nothing once its
// queues have grown. Its queue was a std::deque of 328-byte jobs: a node, so a malloc, per grant.
// (What the writer thread and the backend do is their own: the recording firewall keeps grants.)
TEST(firewall_async_path, a_held_batch_and_its_answers_do_not_allocate) {
  auto fw = firewall::async<firewall::recording>::start(firewall::recording{},
                                                        {.capacity = 4096, .batch = 64});
  ASSERT_TRUE(fw);
  firewall::grant_request r;
  r.granted.timeout = 30;
  r.granted.ports.push_back(port_spec{ip_protocol::tcp, 22});
  r.packet_source = *ip_address::parse("192.0.2.7");
  r.stanza = 1;
  std::size_t answered = 0, refused = 0;
  const auto batch = [&] {
    {
      const auto held = fw->hold();
      for (int i = 0; i < 64; ++i) refused += !fw->submit(r);
    }
    const std::size_t want = answered + 64;
    for (int spins = 0; answered < want && spins < 500; ++spins) {
      pollfd p{fw->answers_fd(), POLLIN, 0};
      ::poll(&p, 1, 10);
      fw->drain([&](firewall::answer&& a) { answered += a.outcome.has_value(); });
    }
  };
  for (int warm = 0; warm < 3; ++warm) batch();  // the queues grow to a batch's size
  const std::size_t allocations = count_allocations([&] {
    for (int round = 0; round < 20; ++round) batch();
  });
  EXPECT_EQ(allocations, 0u);
  EXPECT_EQ(refused, 0u);
  EXPECT_EQ(answered, 23u * 64) << "every grant answered, as opened";
}
