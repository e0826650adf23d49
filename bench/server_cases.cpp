// SPDX-License-Identifier: MIT
// The server around the decode path: knock::server<any_rijndael, any_hmac, null_firewall>::handle
// (screen, SOURCE match, SHA-256 of the payload, replay lookup, then per stanza HMAC, decrypt,
// message key, time window, authorisation, grant), the replay store alone, and the firewalls.
//   server/miss/<N>        N stanzas (SOURCE ANY, HMAC-SHA256, keys of their own) and the default
//                          packet, sealed under other keys: every stanza's HMAC is tried and fails
//                          (refused bad_mac). Nothing is remembered, so every packet is the same.
//   server/valid/1         one stanza, a fresh valid packet each iteration from a pool of 32 k
//                          packets pre-sealed with distinct random rand_value and salt; when the
//                          pool is used up the replay store is replaced, outside the timing.
//   server/replay          the default packet, already accepted once: refused at the replay lookup.
//   server/miss/1/metrics  server/miss/1 and server/replay with knock-server's metrics (issue #18):
//   server/replay/metrics  the with_metrics Observer counting the verdict, and two decode_clock
//                          reads around handle() feeding the latency histogram.
//   replay/lookup/<N>/hit  memory_store::contains for keys it holds, N keys remembered, looked up
//   in
//                          a random order (so the 1 M case really walks a 48 MB table)
//   replay/lookup/<N>/miss the same for keys it does not hold
//   firewall/nftables/grant   (root) nftables::open(grant) for a new source address each time, in
//   firewall/iptables/grant   a network namespace of its own (in_private_netns); real time. Only
//                             with `knock-bench --firewall`, which registers nothing else: iptables
//                             forks twice per grant, and a fork costs more the more memory the
//                             parent maps (the other cases' tables, ~100 MB, made it 3.5x slower).
//   firewall/*/nat_grant      the same grant forwarded (-N 192.168.1.10:22): nftables adds the
//                             forward and DNAT elements in one transaction; iptables runs -C and -A
//                             for the FWKNOP_FORWARD and FWKNOP_PREROUTING rules (4 processes)
#include "cases.hpp"
#include "corpus.hpp"

#include <knock/cipher/any_of.hpp>
#include <knock/firewall/iptables.hpp>
#include <knock/firewall/nftables.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/observe/metrics.hpp>
#include <knock/replay/memory_store.hpp>
#include <knock/server.hpp>

#include "support/vectors.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace knock_bench {
namespace {

using namespace knock;

/// A firewall that does nothing and allocates nothing: only the server is measured.
struct null_firewall {
  using role = knock::role::firewall;
  result<void> open(const grant&) noexcept { return {}; }
  result<void> expire(epoch_seconds) noexcept { return {}; }
};
static_assert(firewall_policy<null_firewall>);

using spa_server = server<cipher::any_rijndael, mac::any_hmac, null_firewall>;
using stanza_t = access::stanza<cipher::any_rijndael, mac::any_hmac>;

constexpr epoch_seconds t0 = 1700000005;  // the vectors' server clock

int outcome(const verdict& v) {
  if (v.accepted) return accepted;
  if (v.reason == errc::replayed) return replayed;
  return make_error_code(v.reason).value();
}

secret_bytes random_key(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return secret_bytes{std::string_view{s}};
}

/// A stanza with SOURCE ANY and the shared vector's keys (the default packet's).
stanza_t vector_stanza(const test::vector_keys& keys) {
  stanza_t s;
  s.cipher = keys.cipher;
  s.key = keys.key.clone();
  s.mac = keys.mac;
  return s;
}

/// A stanza with SOURCE ANY and random AES and HMAC-SHA256 keys.
stanza_t random_stanza(std::mt19937_64& rng) {
  stanza_t s;
  s.key = random_key(rng, 32);
  const auto hk = random_key(rng, 32);
  auto m = mac::any_hmac::make("sha256", hk.view());
  if (!m) throw std::runtime_error{"no HMAC-SHA256"};
  s.mac = *m;
  return s;
}

datagram from(std::string_view payload, std::string_view src) {
  return {payload, *ip_address::parse(src), *ip_address::parse("0.0.0.0"), 40000, 62201};
}

// ---- server/valid/1

struct valid_pool {
  static constexpr std::size_t size = std::size_t{1} << 15;
  static constexpr std::size_t store_capacity = std::size_t{1} << 17;  // 2 keys per packet
  static constexpr epoch_seconds now = 1700000000;
  std::vector<std::string> packets;
  std::unique_ptr<spa_server> srv;
  std::size_t next = 0;
  alloc_totals reset_allocs;  ///< made by reset(), to take out of the per-packet count

  valid_pool() {
    std::mt19937_64 rng{20261127};
    spa_server::rules_type rules;
    rules.stanzas.push_back(random_stanza(rng));
    srv = std::make_unique<spa_server>(std::move(rules), replay::memory_store{store_capacity});
    const stanza_t& s = srv->rules().stanzas[0];
    packets.reserve(size);
    std::uniform_int_distribution<std::uint64_t> digits(1'000'000'000'000'000,
                                                        9'999'999'999'999'999);
    for (std::size_t i = 0; i < size; ++i) {
      spa_message m;
      m.rand_value.assign(std::to_string(digits(rng)));
      m.username.assign("alice");
      m.timestamp = now;
      m.message.assign("10.0.0.5,tcp/22");
      std::array<byte, 8> salt;
      const auto r = rng();
      std::memcpy(salt.data(), &r, salt.size());
      auto p = wire::seal(m, s.cipher, s.key.view(), s.mac_state(), salt);
      if (!p) throw std::runtime_error{"cannot seal the pool"};
      packets.push_back(std::move(*p));
    }
  }
  bool exhausted() const noexcept { return next == packets.size(); }
  void reset() {
    const alloc_totals before = allocations();
    srv->replay_store() = replay::memory_store{store_capacity};
    next = 0;
    const alloc_totals after = allocations();
    reset_allocs.count += after.count - before.count;
    reset_allocs.bytes += after.bytes - before.bytes;
  }
  int once() {
    if (exhausted()) reset();  // only in --callgrind mode, which runs far fewer packets
    return outcome(srv->handle(from(packets[next++], "192.0.2.1"), now));
  }
};

void add_valid_case() {
  auto pool = std::make_shared<valid_pool>();
  const std::string name = "server/valid/1";
  const int got = pool->once();
  if (got != accepted) {
    std::fprintf(stderr, "knock-bench: %s gave outcome %d, expected 0; refusing to run\n",
                 name.c_str(), got);
    std::exit(1);
  }
  cases().push_back({name, [pool] { return pool->once(); }, 2000});
  benchmark::RegisterBenchmark(name.c_str(), [pool](benchmark::State& state) {
    pool->reset_allocs = {};
    const alloc_totals before = allocations();
    for (auto _ : state) {
      if (pool->exhausted()) {
        state.PauseTiming();
        pool->reset();
        state.ResumeTiming();
      }
      int o = outcome(
          pool->srv->handle(from(pool->packets[pool->next++], "192.0.2.1"), valid_pool::now));
      benchmark::DoNotOptimize(o);
      if (o != accepted) {
        state.SkipWithError("a pool packet was refused");
        break;
      }
    }
    const alloc_totals after = allocations();
    state.SetItemsProcessed(state.iterations());
    state.counters["allocs_per_packet"] = benchmark::Counter(
        static_cast<double>(after.count - before.count - pool->reset_allocs.count),
        benchmark::Counter::kAvgIterations);
    state.counters["alloc_bytes_per_packet"] = benchmark::Counter(
        static_cast<double>(after.bytes - before.bytes - pool->reset_allocs.bytes),
        benchmark::Counter::kAvgIterations);
  });
}

// ---- replay/lookup/<N>

void add_lookup_cases() {
  constexpr std::size_t probes = std::size_t{1} << 16;  // lookup keys cycled through
  for (const auto& [label, n] : {std::pair{"1k", std::size_t{1'000}},
                                 {"100k", std::size_t{100'000}},
                                 {"1M", std::size_t{1'000'000}}}) {
    std::mt19937_64 rng{n};
    const auto random_key = [&] {
      replay_key k;
      for (std::size_t i = 0; i < k.bytes.size(); i += 8) {
        const auto r = rng();
        std::memcpy(k.bytes.data() + i, &r, 8);
      }
      return k;
    };
    auto store = std::make_shared<replay::memory_store>(n);
    std::vector<replay_key> held;
    held.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      held.push_back(random_key());
      if (!store->remember(held.back(), never_expires, t0))
        throw std::runtime_error{"memory_store refused a key"};
    }
    if (store->size() != n) throw std::runtime_error{"memory_store lost keys"};
    auto hits = std::make_shared<std::vector<replay_key>>();
    auto misses = std::make_shared<std::vector<replay_key>>();
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    for (std::size_t i = 0; i < probes; ++i) {
      hits->push_back(held[pick(rng)]);
      misses->push_back(random_key());
    }
    for (auto [kind, keys, expected] :
         {std::tuple{"hit", hits, replayed}, std::tuple{"miss", misses, accepted}}) {
      add_case(
          std::string{"replay/lookup/"} + label + "/" + kind,
          [store, probe = keys,
           i = std::size_t{0}]() mutable {  // (clang 14 cannot capture a binding)
            const bool seen = store->contains((*probe)[i], t0);
            i = (i + 1) & (probes - 1);
            return seen ? replayed : accepted;
          },
          expected, 100'000);
    }
  }
}

// ---- firewall/*/grant

/// Runs `body` on a thread of its own that first moves into a new, anonymous network namespace
/// (unshare(CLONE_NEWNET) affects the calling thread only). The thread never returns to the host's
/// namespace, so nothing it does (a netlink socket, a forked iptables) can reach the host's
/// ruleset; the namespace goes away with the thread and the sockets it opened.
template <class Body>
void in_private_netns(benchmark::State& state, Body body) {
  if (::geteuid() != 0) {
    state.SkipWithError("needs root");
    return;
  }
  std::thread t{[&] {
    const auto netns_inode = [] {
      struct stat st {};
      return ::stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : ino_t{0};
    };
    const ino_t host = netns_inode();
    if (host == 0 || ::unshare(CLONE_NEWNET) != 0 || netns_inode() == host) {
      state.SkipWithError("unshare(CLONE_NEWNET) failed");
      return;
    }
    body();
  }};
  t.join();
}

grant grant_for(std::uint32_t i) {
  grant g;
  // 10.0.0.0/8, host part i + 1: a new source address for every grant.
  g.source = ip_address::v4({byte{10}, static_cast<byte>((i + 1) >> 16),
                             static_cast<byte>((i + 1) >> 8), static_cast<byte>(i + 1)});
  g.ports.push_back({ip_protocol::tcp, 22});
  g.timeout = 30;
  g.expires = t0 + 30;
  return g;
}

/// `grant_for(i)` forwarded to 192.168.1.10:22 (`fwknop -N 192.168.1.10:22`): DNAT + forward.
grant nat_grant_for(std::uint32_t i) {
  grant g = grant_for(i);
  g.nat.kind = nat_kind::forward;
  g.nat.to = ip_address::v4({byte{192}, byte{168}, byte{1}, byte{10}});
  g.nat.to_port = 22;
  return g;
}

template <class Firewall>
void time_grants(benchmark::State& state, Firewall& fw, bool nat = false) {
  std::uint32_t i = 0;
  const alloc_totals before = allocations();
  for (auto _ : state) {
    if (auto ok = nat ? fw.open_nat(nat_grant_for(i++)) : fw.open(grant_for(i++)); !ok) {
      state.SkipWithError(("grant refused: " + ok.error().message).c_str());
      break;
    }
  }
  const alloc_totals after = allocations();
  state.SetItemsProcessed(state.iterations());
  state.counters["allocs_per_grant"] = benchmark::Counter(
      static_cast<double>(after.count - before.count), benchmark::Counter::kAvgIterations);
}

}  // namespace

void add_firewall_cases() {
  benchmark::RegisterBenchmark("firewall/nftables/grant", [](benchmark::State& state) {
    in_private_netns(state, [&] {
      firewall::nftables_options o;
      o.table = "knock_bench";
      o.protected_ports = {{ip_protocol::tcp, 22}};
      auto fw = firewall::nftables::open(std::move(o));
      if (!fw) {
        state.SkipWithError(fw.error().message.c_str());
        return;
      }
      time_grants(state, *fw);
      // Outside the timing: the kernel holds one element per grant (the namespace is ours).
      if (auto all = fw->grants()) {
        state.counters["elements"] = static_cast<double>(all->size());
        if (all->size() != static_cast<std::size_t>(state.iterations()))
          state.SkipWithError("the set does not hold one element per grant");
      }
    });
  })->UseRealTime();

  benchmark::RegisterBenchmark("firewall/nftables/nat_grant", [](benchmark::State& state) {
    in_private_netns(state, [&] {
      firewall::nftables_options o;
      o.table = "knock_bench";
      o.protected_ports = {{ip_protocol::tcp, 22}};
      o.nat = true;
      auto fw = firewall::nftables::open(std::move(o));
      if (!fw) {
        state.SkipWithError(fw.error().message.c_str());
        return;
      }
      time_grants(state, *fw, true);
    });
  })->UseRealTime();

  benchmark::RegisterBenchmark("firewall/iptables/nat_grant",
                               [](benchmark::State& state) {
                                 in_private_netns(state, [&] {
                                   firewall::iptables_options o;
                                   o.ip6tables.clear();
                                   o.nat.enabled = true;  // ENABLE_IPT_FORWARDING Y
                                   auto fw = firewall::iptables::open(std::move(o));
                                   if (!fw) {
                                     state.SkipWithError(fw.error().message.c_str());
                                     return;
                                   }
                                   time_grants(state, *fw, true);
                                 });
                               })
      ->UseRealTime()
      ->MinTime(2.0);

  benchmark::RegisterBenchmark("firewall/iptables/grant",
                               [](benchmark::State& state) {
                                 in_private_netns(state, [&] {
                                   firewall::iptables_options o;
                                   o.ip6tables.clear();  // IPv4 grants only
                                   auto fw = firewall::iptables::open(std::move(o));
                                   if (!fw) {
                                     state.SkipWithError(fw.error().message.c_str());
                                     return;
                                   }
                                   time_grants(state, *fw);
                                 });
                               })
      ->UseRealTime()
      ->MinTime(2.0);
}

void add_server_cases(const corpus& c) {
  const test::vector_keys keys{c.vector};
  std::mt19937_64 rng{42};

  // server/miss/<N>: the default packet against N stanzas of other keys.
  const std::string_view valid = c.valid;
  const int bad_mac = make_error_code(errc::bad_mac).value();
  for (std::size_t n : {1, 10, 100, 1000}) {
    spa_server::rules_type rules;
    for (std::size_t i = 0; i < n; ++i) rules.stanzas.push_back(random_stanza(rng));
    auto srv = std::make_shared<spa_server>(std::move(rules));
    add_case(
        "server/miss/" + std::to_string(n),
        [srv, valid] { return outcome(srv->handle(from(valid, "127.0.0.1"), t0)); }, bad_mac,
        n >= 100 ? 200 : 2000);
  }

  // The same two with metrics, as knock-server counts them.
  {
    using metered_server = server<cipher::any_rijndael, mac::any_hmac, null_firewall,
                                  observe::with_metrics<observe::null>>;
    const auto timed = [](metered_server& srv, std::string_view packet) {
      const std::uint64_t start = observe::decode_clock::now();
      const int out = outcome(srv.handle(from(packet, "127.0.0.1"), t0));
      srv.observer().table().decode.record(observe::decode_clock::now() - start);
      return out;
    };
    metered_server::rules_type miss;
    miss.stanzas.push_back(random_stanza(rng));
    auto m1 = std::make_shared<metered_server>(std::move(miss));
    add_case(
        "server/miss/1/metrics", [m1, valid, timed] { return timed(*m1, valid); }, bad_mac);
    metered_server::rules_type rules;
    rules.stanzas.push_back(vector_stanza(keys));
    auto m2 = std::make_shared<metered_server>(std::move(rules));
    if (!m2->handle(from(valid, "127.0.0.1"), t0).accepted)
      throw std::runtime_error{"the server refuses the default packet"};
    add_case(
        "server/replay/metrics", [m2, valid, timed] { return timed(*m2, valid); }, replayed);
  }

  add_valid_case();

  // server/replay: the default packet, accepted once, then again and again.
  {
    spa_server::rules_type rules;
    rules.stanzas.push_back(vector_stanza(keys));
    auto srv = std::make_shared<spa_server>(std::move(rules));
    if (!srv->handle(from(valid, "127.0.0.1"), t0).accepted)
      throw std::runtime_error{"the server refuses the default packet"};
    add_case(
        "server/replay",
        [srv, valid] { return outcome(srv->handle(from(valid, "127.0.0.1"), t0)); }, replayed);
  }

  add_lookup_cases();
}

}  // namespace knock_bench
