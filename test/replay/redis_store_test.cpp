// SPDX-License-Identifier: MIT
// knock::replay::redis_store against a real redis-server (Debian's redis-server 7), started here on
// a unix socket or a loopback port in a temp dir: first / replay / expiry through EX, fail closed
// when Redis is down, resuming when it is back, AUTH, and two servers sharing one Redis (an HA
// pair): a packet accepted by one is refused as replayed by the other. fwknopd keeps its replay
// digests per process (digest.cache), so it has no such behaviour to match: these pin knock's own.
// Skipped, with the reason, when redis-server is not installed.
#include <knock/replay/redis_store.hpp>

#include <knock/cipher/any_of.hpp>
#include <knock/firewall/recording.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/server.hpp>

#include "replay/redis_server.hpp"
#include "support/vectors.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace {
using namespace knock;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

using namespace knock::test_redis;

TEST_F(redis_store, first_then_replay_over_a_unix_socket_and_tcp) {
  redis_server redis;
  for (bool tcp : {false, true}) {
    auto options = tcp ? redis.tcp_options() : redis.unix_options();
    options.prefix = tcp ? "tcp:" : "unix:";
    replay::redis_store s{std::move(options)};
    ASSERT_TRUE(s.connect()) << s.last_error();
    EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first");
    EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "replay");
    EXPECT_EQ(seen(s.remember(key(2), t0 + 241, t0)), "first");
  }
  EXPECT_EQ(redis.command("DBSIZE"), "4");
}

TEST_F(redis_store, a_second_store_on_the_same_redis_sees_the_first_ones_keys) {
  redis_server redis;
  replay::redis_store a{redis.unix_options()}, b{redis.tcp_options()};
  EXPECT_EQ(seen(a.remember(key(7), t0 + 241, t0)), "first");
  const long sets = redis.sets();
  EXPECT_EQ(seen(b.remember(key(7), t0 + 241, t0)), "replay");
  EXPECT_EQ(redis.sets(), sets + 1) << "b asked Redis, it did not answer from memory";
  // Once Redis said so, b's local filter answers without a round trip.
  EXPECT_EQ(seen(b.remember(key(7), t0 + 241, t0)), "replay");
  EXPECT_EQ(redis.sets(), sets + 1);
}

TEST_F(redis_store, the_key_is_named_by_the_prefix_and_lives_for_the_window) {
  redis_server redis;
  auto o = redis.unix_options();
  o.prefix = "gw:";
  replay::redis_store s{std::move(o)};
  replay_key k{};
  k.bytes[0] = 0xab;
  k.bytes[31] = 0x01;
  ASSERT_EQ(seen(s.remember(k, t0 + 241, t0)), "first");
  const std::string name = "gw:ab" + std::string(60, '0') + "01";
  EXPECT_EQ(redis.command("GET " + name), "1");
  const long ttl = std::stol(redis.command("TTL " + name));
  EXPECT_GE(ttl, 239);
  EXPECT_LE(ttl, 241);
}

TEST_F(redis_store, a_key_expires_through_ex_and_is_new_again) {
  redis_server redis;
  replay::redis_store a{redis.unix_options()}, b{redis.unix_options()};
  ASSERT_EQ(seen(a.remember(key(3), t0 + 1, t0)), "first");  // EX 1
  EXPECT_EQ(seen(b.remember(key(3), t0 + 1, t0)), "replay");
  std::this_thread::sleep_for(2100ms);
  // Redis let it go; a fresh store (no local memory of it) sees it as new.
  replay::redis_store c{redis.unix_options()};
  EXPECT_EQ(seen(c.remember(key(3), t0 + 3, t0 + 2)), "first");
}

TEST_F(redis_store, without_packet_aging_the_key_has_no_ttl) {
  redis_server redis;
  auto o = redis.unix_options();
  o.prefix = "k:";
  replay::redis_store s{std::move(o)};
  replay_key k{};
  ASSERT_EQ(seen(s.remember(k, never_expires, t0)), "first");
  EXPECT_EQ(redis.command("TTL k:" + std::string(64, '0')), "-1");
}

TEST_F(redis_store, down_fails_closed_backs_off_and_resumes_by_itself) {
  redis_server redis;
  replay::redis_store s{redis.unix_options()};  // retry_after 100 ms
  ASSERT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first");
  redis.stop();
  auto r = s.remember(key(2), t0 + 241, t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_NE(r.error().message.find(redis.socket()), std::string::npos) << r.error().message;
  // Backing off: refused at once, without touching the network.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(s.remember(key(100 + i), t0 + 241, t0));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_FALSE(s.connected());
  // A key the local filter holds is still a replay (from memory, Redis or not).
  EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "replay");

  redis.start();  // a fresh Redis (nothing persisted): back after the back-off
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(seen(s.remember(key(2), t0 + 241, t0)), "first");
  EXPECT_TRUE(s.connected());
}

TEST_F(redis_store, a_restarted_redis_is_reconnected_on_the_next_packet) {
  redis_server redis;
  auto o = redis.unix_options();
  o.retry_after = 10s;  // the reconnection must not wait for a back-off
  replay::redis_store s{std::move(o)};
  ASSERT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first");
  redis.stop();
  redis.start();
  EXPECT_EQ(seen(s.remember(key(2), t0 + 241, t0)), "first") << s.last_error();
}

TEST_F(redis_store, a_slow_redis_is_refused_within_the_deadline) {
  redis_server redis;
  auto o = redis.tcp_options();
  o.timeout = 50ms;
  replay::redis_store s{std::move(o)};
  ASSERT_TRUE(s.connect());
  ASSERT_EQ(redis.command("CLIENT PAUSE 500 ALL"), "OK");  // Redis stalls (a fork, a slow disk)
  const auto start = std::chrono::steady_clock::now();
  auto r = s.remember(key(1), t0 + 241, t0);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_NE(r.error().message.find("no reply within the deadline"), std::string::npos)
      << r.error().message;
  EXPECT_LT(took, 400ms);
}

TEST_F(redis_store, nothing_listening_is_a_clear_error) {
  replay::redis_options o;
  o.address.endpoints.push_back({.host = "127.0.0.1", .port = free_port(), .unix_path = {}});
  replay::redis_store s{std::move(o)};
  auto r = s.remember(key(1), t0 + 241, t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_NE(r.error().message.find("Connection refused"), std::string::npos) << r.error().message;
}

TEST_F(redis_store, auth_with_the_right_password_works_a_wrong_one_is_a_clear_error) {
  redis_server redis{"s3cret-pw"};
  auto good = redis.unix_options();
  good.password = secret_bytes{std::string_view{"s3cret-pw"}};
  replay::redis_store ok{std::move(good)};
  EXPECT_EQ(seen(ok.remember(key(1), t0 + 241, t0)), "first") << ok.last_error();

  auto bad = redis.unix_options();
  bad.password = secret_bytes{std::string_view{"wrong-pw"}};
  replay::redis_store wrong{std::move(bad)};
  auto r = wrong.remember(key(2), t0 + 241, t0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("AUTH refused: WRONGPASS"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("wrong-pw"), std::string::npos) << "the password is in it";

  replay::redis_store none{redis.unix_options()};  // no password where one is required
  r = none.remember(key(3), t0 + 241, t0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("NOAUTH"), std::string::npos) << r.error().message;
}

TEST_F(redis_store, endpoints_are_tried_in_order) {
  redis_server redis;
  auto o = redis.tcp_options();
  o.address.endpoints.insert(o.address.endpoints.begin(),
                             {.host = "127.0.0.1", .port = free_port(), .unix_path = {}});
  replay::redis_store s{std::move(o)};
  EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first") << s.last_error();
  EXPECT_EQ(s.endpoint(), "127.0.0.1:" + std::to_string(redis.port()));
}

// A packet's keys go in one write: Redis reads both commands in one read event (INFO stats
// total_reads_processed), where a command at a time would take two.
TEST_F(redis_store, remember_all_pipelines_the_keys_in_one_round_trip) {
  redis_server redis;
  replay::redis_store s{redis.tcp_options()};
  ASSERT_TRUE(s.connect()) << s.last_error();
  redis_reads reads{redis};
  ASSERT_TRUE(reads.ok()) << "no total_reads_processed in INFO stats";
  const std::array<replay_key, 2> keys{key(1), key(2)};
  long before = reads.mark();
  EXPECT_EQ(seen(s.remember_all(keys, t0 + 241, t0)), "first");
  EXPECT_EQ(reads.since(before), 1) << "the 2 SETs took more than one read: not pipelined";
  EXPECT_EQ(redis.sets(), 2);
  // Sent one at a time, they take two.
  before = reads.mark();
  EXPECT_EQ(seen(s.remember(key(3), t0 + 241, t0)), "first");
  EXPECT_EQ(seen(s.remember(key(4), t0 + 241, t0)), "first");
  EXPECT_EQ(reads.since(before), 2);
}

// `replay` when any key was held; every key not held is now in Redis. All held locally: no
// round trip at all.
TEST_F(redis_store, remember_all_is_a_replay_if_any_key_was_held_and_keeps_the_others) {
  redis_server redis;
  auto o = redis.unix_options();
  o.prefix = "k:";
  replay::redis_store a{redis.unix_options()}, b{std::move(o)};
  const std::array<replay_key, 2> keys{key(5), key(6)};
  ASSERT_EQ(seen(b.remember(key(5), t0 + 241, t0)), "first");
  EXPECT_EQ(seen(b.remember_all(keys, t0 + 241, t0)), "replay");
  EXPECT_EQ(seen(b.remember(key(6), t0 + 241, t0)), "replay") << "the new key was not kept";
  const long sets = redis.sets();
  EXPECT_EQ(seen(b.remember_all(keys, t0 + 241, t0)), "replay");
  EXPECT_EQ(redis.sets(), sets) << "both keys are in the local filter: no round trip";
  EXPECT_EQ(seen(a.remember_all(keys, t0 + 241, t0)), "first") << "another prefix";
}

// Down, a batch fails closed as one key does: the reason, and the endpoint in the message.
TEST_F(redis_store, remember_all_fails_closed_when_redis_is_down) {
  redis_server redis;
  replay::redis_store s{redis.unix_options()};
  ASSERT_TRUE(s.connect());
  redis.stop();
  const std::array<replay_key, 2> keys{key(7), key(8)};
  auto r = s.remember_all(keys, t0 + 241, t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::replay_store_unavailable);
  EXPECT_NE(r.error().message.find(redis.socket()), std::string::npos) << r.error().message;
  redis.start();
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(seen(s.remember_all(keys, t0 + 241, t0)), "first") << s.last_error();
}

// A real redis-sentinel (Debian's redis-sentinel) watching the test's redis-server: the store asks
// it where the primary is. A master name it does not monitor is a clear error.
TEST_F(redis_store, sentinel_names_the_primary) {
  if (::access("/usr/bin/redis-sentinel", X_OK) != 0)
    GTEST_SKIP() << "redis-sentinel is not installed (apt-get install redis-sentinel)";
  redis_server redis;
  const fs::path dir = fs::temp_directory_path() / ("knock-sentinel-" + std::to_string(::getpid()) +
                                                    "-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  const std::uint16_t port = free_port();
  {
    std::ofstream conf{dir / "sentinel.conf"};
    conf << "port " << port << "\nbind 127.0.0.1\ndir " << dir.string()
         << "\nsentinel monitor gw 127.0.0.1 " << redis.port() << " 1\n";
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    const std::string conf = (dir / "sentinel.conf").string(), log = (dir / "s.log").string();
    ::execl("/usr/bin/redis-sentinel", "redis-sentinel", conf.c_str(), "--logfile", log.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto via_sentinel = [&](std::string master) {
    replay::redis_options o;
    o.address.endpoints.push_back({.host = "127.0.0.1", .port = free_port(), .unix_path = {}});
    o.address.endpoints.push_back({.host = "127.0.0.1", .port = port, .unix_path = {}});
    o.address.sentinel_master = std::move(master);
    o.retry_after = 50ms;
    return o;
  };
  replay::redis_store s{via_sentinel("gw")}, none{via_sentinel("other")};
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    up = static_cast<bool>(s.connect());
    if (!up) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(up) << s.last_error();
  EXPECT_EQ(s.endpoint(), "127.0.0.1:" + std::to_string(redis.port()));
  EXPECT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first");
  EXPECT_EQ(redis.command("DBSIZE"), "1");
  auto r = none.connect();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("monitors no master named 'other'"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("Connection refused"), std::string::npos)
      << "the first sentinel's failure is in the message: " << r.error().message;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
}

TEST_F(redis_store, a_database_is_selected) {
  redis_server redis;
  auto o = redis.unix_options();
  o.address.db = 3;
  replay::redis_store s{std::move(o)};
  ASSERT_EQ(seen(s.remember(key(1), t0 + 241, t0)), "first");
  EXPECT_EQ(redis.command("DBSIZE"), "0");
  EXPECT_EQ(redis.command("INFO keyspace").find("db3:keys=1") != std::string::npos, true);
}

// Two servers (gateways A and B) sharing one Redis. Garbage and packets whose HMAC fails never
// reach Redis (no SET); a valid packet costs one round trip: a SET per key (the payload's and the
// message's), pipelined.
using spa_server =
    server<cipher::any_rijndael, mac::any_hmac, firewall::recording, replay::redis_store>;
using stanza_t = access::stanza<cipher::any_rijndael, mac::any_hmac>;
const auto shared = test::vectors_of(KNOCK_TEST_DATA "/fwknop-2.6.10-vectors.json", {"valid"});

spa_server gateway(const redis_server& redis) {
  const auto& v = *std::find_if(shared.begin(), shared.end(), [](const auto& v) {
    return v.at("name") == "access_cbc_hmac_sha256";
  });
  test::vector_keys keys{v};
  stanza_t st;
  st.cipher = keys.cipher;
  st.key = std::move(keys.key);
  st.mac = keys.mac;
  spa_server::rules_type rules;
  rules.stanzas.push_back(std::move(st));
  return spa_server{std::move(rules), replay::redis_store{redis.unix_options()}};
}
std::string valid_packet() {
  for (const auto& v : shared)
    if (v.at("name") == "access_cbc_hmac_sha256") return v.at("packet");
  return {};
}
datagram from(const std::string& payload) {
  return {payload, *ip_address::parse("127.0.0.1"), *ip_address::parse("0.0.0.0"), 40000, 62201};
}

TEST_F(redis_store, an_ha_pair_accepts_a_packet_once_and_garbage_never_reaches_redis) {
  redis_server redis;
  spa_server a = gateway(redis), b = gateway(redis);
  const std::string p = valid_packet();
  std::string forged = p;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';  // the HMAC fails
  EXPECT_EQ(a.handle(from(std::string(200, '!')), t0).reason, errc::not_base64);
  EXPECT_EQ(a.handle(from(forged), t0).reason, errc::bad_mac);
  EXPECT_EQ(b.handle(from(forged), t0).reason, errc::bad_mac);
  EXPECT_EQ(redis.sets(), 0) << "garbage or a forgery reached Redis";

  const verdict first = a.handle(from(p), t0);
  EXPECT_TRUE(first.accepted) << to_string(first.reason);
  EXPECT_EQ(redis.sets(), 2) << "one SET per key: the payload's and the message's";
  EXPECT_EQ(a.handle(from(p), t0 + 1000).reason, errc::stale_timestamp);
  EXPECT_EQ(redis.sets(), 2) << "a stale packet reached Redis";
  EXPECT_EQ(b.handle(from(p), t0).reason, errc::replayed);  // the same bytes at gateway B
  EXPECT_EQ(b.firewall().active().size(), 0u);

  redis.stop();  // Redis down: a valid packet is refused with its own reason, nothing opens
  spa_server c = gateway(redis);
  const verdict down = c.handle(from(p), t0);
  EXPECT_EQ(down.reason, errc::replay_store_unavailable);
  EXPECT_NE(down.detail.find("redis"), std::string::npos) << down.detail;
  EXPECT_EQ(c.firewall().active().size(), 0u);
}

}  // namespace

namespace {
using knock::replay::parse_redis_url;

TEST(redis_url, a_list_of_endpoints_and_a_database) {
  const auto a = parse_redis_url("redis://10.0.0.7:6380,gw-redis,[2001:db8::7]:7000/2");
  ASSERT_TRUE(a) << a.error();
  ASSERT_EQ(a->endpoints.size(), 3u);
  EXPECT_EQ(a->endpoints[0].describe(), "10.0.0.7:6380");
  EXPECT_EQ(a->endpoints[1].describe(), "gw-redis:6379");
  EXPECT_EQ(a->endpoints[2].describe(), "[2001:db8::7]:7000");
  EXPECT_EQ(a->db, 2);
  const auto u = parse_redis_url("unix:///run/redis/redis.sock?db=1");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->endpoints.at(0).unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(u->db, 1);
}

TEST(redis_url, sentinels_a_master_name_and_a_database) {
  const auto a = parse_redis_url("redis-sentinel://10.0.0.7,10.0.0.8:5000,[2001:db8::7]/gw-1/3");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->sentinel_master, "gw-1");
  EXPECT_EQ(a->db, 3);
  ASSERT_EQ(a->endpoints.size(), 3u);
  EXPECT_EQ(a->endpoints[0].describe(), "10.0.0.7:26379");
  EXPECT_EQ(a->endpoints[1].describe(), "10.0.0.8:5000");
  EXPECT_EQ(a->endpoints[2].describe(), "[2001:db8::7]:26379");
  const auto b = parse_redis_url("redis-sentinel://s1/mymaster");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->db, 0);
  EXPECT_EQ(b->sentinel_master, "mymaster");
  EXPECT_TRUE(parse_redis_url("redis://10.0.0.7")->sentinel_master.empty());
}

TEST(redis_url, a_password_and_bad_forms_are_refused_with_the_reason) {
  const auto refused = [](std::string_view url) {
    const auto r = parse_redis_url(url);
    return r ? std::string{"(accepted)"} : r.error();
  };
  EXPECT_NE(refused("rediss://:hunter2@10.0.0.7").find("PASSWORD_FILE"), std::string::npos);
  EXPECT_NE(refused("rediss://10.0.0.7:0").find("1..65535"), std::string::npos);
  EXPECT_NE(refused("rediss-sentinel://10.0.0.7").find("no master name"), std::string::npos);
  EXPECT_NE(refused("redisss://10.0.0.7").find("not a Redis URL"), std::string::npos);
  const std::string pw = refused("redis://:hunter2@10.0.0.7");
  EXPECT_NE(pw.find("KNOCK_REPLAY_REDIS_PASSWORD_FILE"), std::string::npos) << pw;
  EXPECT_EQ(pw.find("hunter2"), std::string::npos) << "the error repeats the password";
  EXPECT_NE(refused("redis-sentinel://10.0.0.7:26379").find("no master name"), std::string::npos);
  EXPECT_NE(refused("redis-sentinel://10.0.0.7:26379/").find("no master name"), std::string::npos);
  EXPECT_NE(refused("redis-sentinel://10.0.0.7/my master").find("a master name is"),
            std::string::npos);
  EXPECT_NE(refused("redis-sentinel://10.0.0.7/gw/x").find("database"), std::string::npos);
  EXPECT_NE(refused("redis-sentinel://:pw@10.0.0.7/gw").find("PASSWORD_FILE"), std::string::npos);
  EXPECT_NE(refused("redis-sentinel:///gw").find("no host"), std::string::npos);
  EXPECT_NE(refused("sentinel://10.0.0.7/gw").find("redis-sentinel://"), std::string::npos);
  EXPECT_NE(refused("http://10.0.0.7").find("not a Redis URL"), std::string::npos);
  EXPECT_NE(refused("redis://10.0.0.7:0").find("1..65535"), std::string::npos);
  EXPECT_NE(refused("redis://10.0.0.7:70000").find("1..65535"), std::string::npos);
  EXPECT_NE(refused("redis://10.0.0.7:").find("empty port"), std::string::npos);
  EXPECT_NE(refused("redis://").find("no host"), std::string::npos);
  EXPECT_NE(refused("redis://a,,b").find("no host"), std::string::npos);
  EXPECT_NE(refused("redis://10.0.0.7/x").find("database"), std::string::npos);
  EXPECT_NE(refused("redis://2001:db8::7").find("brackets"), std::string::npos);
  EXPECT_NE(refused("redis://a b").find("a name or an address"), std::string::npos);
  EXPECT_NE(refused("unix://run/redis.sock").find("absolute"), std::string::npos);
  EXPECT_NE(refused("unix:///run/redis.sock?timeout=3").find("?db=N"), std::string::npos);
}

}  // namespace
