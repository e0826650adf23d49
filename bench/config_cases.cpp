// SPDX-License-Identifier: MIT
// knock-bench --access-file F [--fwknopd-conf C]: any configuration's decode/verify path.
//
// The access file is loaded as knock-server loads it (knock::config, the server's ciphers: every
// Rijndael mode and GnuPG, every HMAC), into the server knock-server runs minus the firewall
// (a null one) and the capture: knock::server::handle decides each packet, walking the stanzas in
// file order. For every stanza, packets are sealed with its own keys, ENCRYPTION_MODE and
// HMAC_DIGEST_TYPE, from an address its SOURCE holds (the one that the fewest earlier stanzas
// hold), asking for a port its OPEN_PORTS / RESTRICT_PORTS allow:
//   config/stanza N (file:line)/valid     a fresh packet each iteration (a pool sealed with
//                                         distinct rand_value and salt; the replay store is reset,
//                                         outside the timing, when the pool is used up), accepted
//   config/stanza N (file:line)/bad_hmac  the valid packet with one character of its tag changed
//   config/stanza N (file:line)/garbage   as many random base64 characters as a valid packet
//   config/stanza N (file:line)/replay    the valid packet, accepted once before: replayed
//   config/stanza N (file:line)/miss      a packet of the stanza's shape sealed under keys no
//                                         stanza has: every stanza its SOURCE holds is tried
// libfko/config/... are the same packets through what fwknopd 2.6.10 does per packet with
// libfko (server/incoming_spa.c): preprocess_spa_data, the replay digest (get_raw_digest) and its
// cache lookup (one entry here: fwknopd's list grows with its traffic, see decode/replay/libfko),
// then per stanza whose SOURCE holds the address, fko_new_with_data with its keys, mode and HMAC
// type, the field getters, the time window and the port check. GnuPG packets are not made here:
// a stanza that uses only GnuPG is listed, with the reason, and left out (knock-bench --gnupg
// measures GnuPG). Every case checks its outcome on every packet: a valid packet refused fails the
// run instead of reporting a fast refusal.
#include "config_cases.hpp"

#include "alloc_counter.hpp"
#include "cases.hpp"
#include "knock-server/ciphers.hpp"

#include <knock/config/access_conf.hpp>
#include <knock/config/fwknopd_conf.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/replay/memory_store.hpp>
#include <knock/server.hpp>

#if KNOCK_BENCH_LIBFKO
#include "libfko_steps.hpp"

#include <fko.h>
#endif

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace knock_bench {
namespace {

using namespace knock;
using cipher_t = knock_server::server_cipher;
using stanza_t = access::stanza<cipher_t, mac::any_hmac>;

/// Grants nothing and allocates nothing: only the decision is measured.
struct null_firewall {
  using role = knock::role::firewall;
  result<void> open(const grant&) noexcept { return {}; }
  result<void> open_nat(const grant&) noexcept { return {}; }
  result<void> expire(epoch_seconds) noexcept { return {}; }
};
static_assert(firewall::nat_firewall<null_firewall>);

using bench_server = server<cipher_t, mac::any_hmac, null_firewall>;

constexpr const char* case_names[] = {"valid", "bad_hmac", "garbage", "replay", "miss"};

/// One stanza of the file, as the report shows it.
struct stanza_row {
  std::size_t number = 0;  ///< 1-based, in file order (as fwknopd counts them)
  std::string file;
  std::size_t line = 0;
  std::string cipher = "–", mac = "none";
  std::string source, port;
  std::string left_out;                        ///< why it has no cases
  std::string libfko_left_out;                 ///< why libfko has no cases for it
  std::optional<std::size_t> accepted_by;      ///< the stanza that accepts its valid packet
  std::map<std::string, std::string> outcome;  ///< case -> what knock says at registration

  std::string where() const {
    const auto slash = file.rfind('/');
    return (slash == std::string::npos ? file : file.substr(slash + 1)) + ":" +
           std::to_string(line);
  }
  std::string label() const { return "stanza " + std::to_string(number) + " (" + where() + ")"; }
};

struct plan {
  std::vector<stanza_row> rows;
  std::vector<std::string> notes;  ///< stanzas the parser left out (lenient %include_keys)
  std::string access_file, fwknopd_conf;
  access::server_options options;
  bool libfko = KNOCK_BENCH_LIBFKO;
};

plan& the_plan() {
  static plan p;
  return p;
}

int outcome_of(const verdict& v) {
  if (v.accepted) return accepted;
  if (v.reason == errc::replayed) return replayed;
  return make_error_code(v.reason).value();
}

std::string outcome_name(int o) {
  if (o == accepted) return "accepted";
  if (o == replayed) return "replayed";
  return std::string{to_string(static_cast<errc>(o))};
}

datagram from(std::string_view payload, const ip_address& src, const ip_address& dst) {
  return {payload, src, dst, 40000, 62201};
}

secret_bytes random_text_key(std::mt19937_64& rng, std::size_t n) {
  static constexpr std::string_view alnum =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, '\0');
  for (char& c : s) c = alnum[rng() % alnum.size()];
  return secret_bytes{std::string_view{s}};
}

/// Where the packets of stanza `k` come from: an address its SOURCE holds, preferring one that
/// fewer earlier stanzas hold (so that the walk reaches it); and a destination its DESTINATION
/// holds.
std::pair<ip_address, ip_address> addresses_for(const std::vector<const stanza_t*>& all,
                                                std::size_t k) {
  const stanza_t& s = *all[k];
  std::vector<ip_address> candidates;
  if (s.sources.any) candidates.push_back(*ip_address::parse("192.0.2.1"));
  for (const cidr& n : s.sources.networks) {
    const unsigned bits = n.network().is_v4() ? 32 : 128;
    if (n.prefix() < bits) {  // the first host of the block, not its network address
      auto b = n.network().bytes();
      if (n.network().is_v4()) {
        candidates.push_back(ip_address::v4({b[0], b[1], b[2], static_cast<byte>(b[3] | 1)}));
      } else {
        std::array<byte, 16> v6{};
        std::copy(b.begin(), b.end(), v6.begin());
        v6[15] |= 1;
        candidates.push_back(ip_address::v6(v6));
      }
    }
    candidates.push_back(n.network());
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.is_v4() && !b.is_v4();  // IPv4 first: the message can name it
  });
  ip_address best = candidates.front();
  std::size_t fewest = all.size() + 1;
  for (const ip_address& c : candidates) {
    std::size_t earlier = 0;
    for (std::size_t j = 0; j < k; ++j) earlier += all[j]->sources.contains(c) ? 1 : 0;
    if (earlier < fewest) fewest = earlier, best = c;
  }
  ip_address dst = *ip_address::parse("198.51.100.1");
  if (!s.destinations.any && !s.destinations.networks.empty())
    dst = s.destinations.networks.front().network();
  return {best, dst};
}

/// A port the stanza grants: its first OPEN_PORTS entry, else tcp/22 (or the first tcp port
/// RESTRICT_PORTS leaves).
port_spec port_for(const stanza_t& s) {
  if (s.open_ports && !s.open_ports->empty()) return *s.open_ports->begin();
  port_spec p{ip_protocol::tcp, 22};
  while (s.restrict_ports.contains(p)) ++p.port;
  return p;
}

/// Packets for one stanza, all of the same shape.
struct stanza_packets {
  std::vector<std::string> pool;  ///< fresh valid packets
  std::string valid, bad_hmac, garbage, replay, miss;
  ip_address source, destination;
};

spa_message message_for(std::mt19937_64& rng, const stanza_t& s, const ip_address& source,
                        port_spec port, epoch_seconds stamp) {
  std::uniform_int_distribution<std::uint64_t> digits(1'000'000'000'000'000, 9'999'999'999'999'999);
  spa_message m;
  m.rand_value.assign(std::to_string(digits(rng)));
  m.username.assign(s.require_username.empty() ? "knock-bench" : s.require_username.c_str());
  m.timestamp = stamp;
  const std::string ip = source.is_v4() ? to_string(source) : "0.0.0.0";
  m.message.assign(ip + "," + to_string(port));
  return m;
}

result<std::string, errc> seal_for(std::mt19937_64& rng, const spa_message& m, const stanza_t& s) {
  std::array<byte, 8> salt;
  const auto r = rng();
  std::memcpy(salt.data(), &r, salt.size());
  return wire::seal(m, s.cipher, s.key.view(), s.mac_state(), salt);
}

// ---- the libfko side: fwknopd's per-packet path for this configuration

#if KNOCK_BENCH_LIBFKO
struct fko_stanza {
  access::address_set sources, destinations;
  std::string key, hmac_key;  ///< raw bytes, as fwknopd holds them after reading the file
  int mode = FKO_ENC_MODE_CBC;
  int hmac_type = FKO_HMAC_UNKNOWN;
  bool rijndael = false;  ///< has a KEY: fwknopd tries it on a Rijndael packet
  std::optional<port_list> open_ports;
  port_list restrict_ports;
};

std::optional<int> fko_mode(std::string_view name) {
  for (const auto& [n, m] : {std::pair{"cbc", FKO_ENC_MODE_CBC},
                             {"ctr", FKO_ENC_MODE_CTR},
                             {"cfb", FKO_ENC_MODE_CFB},
                             {"ofb", FKO_ENC_MODE_OFB},
                             {"ecb", FKO_ENC_MODE_ECB},
                             {"legacy", FKO_ENC_MODE_CBC_LEGACY_IV}})
    if (config::detail::iequals(name, n)) return m;
  return std::nullopt;
}

std::optional<int> fko_hmac(std::string_view name) {
  for (const auto& [n, m] : {std::pair{"md5", FKO_HMAC_MD5},
                             {"sha1", FKO_HMAC_SHA1},
                             {"sha256", FKO_HMAC_SHA256},
                             {"sha384", FKO_HMAC_SHA384},
                             {"sha512", FKO_HMAC_SHA512},
                             {"sha3_256", FKO_HMAC_SHA3_256},
                             {"sha3_512", FKO_HMAC_SHA3_512}})
    if (config::detail::iequals(name, n)) return m;
  return std::nullopt;
}

struct fko_config {
  std::vector<fko_stanza> stanzas;
  access::server_options options;
};

/// incoming_spa: the checks before any key, the replay digest against a cache holding `seen`
/// (may be null), then each stanza in turn.
int fko_decide(const fko_config& c, const std::string& packet, const ip_address& src,
               const ip_address& dst, epoch_seconds now, const char* seen) {
  if (!fwknopd::preprocess(packet.c_str(), packet.size())) return FKO_ERROR_INVALID_DATA;
  char* digest = nullptr;
  if (const int rc = fwknopd::get_raw_digest(&digest, packet.c_str()); rc != FKO_SUCCESS) return rc;
  const bool replay = seen != nullptr && std::strcmp(seen, digest) == 0;
  std::free(digest);
  if (replay) return replayed;
  int last = FKO_ERROR_INVALID_DATA;
  for (const fko_stanza& s : c.stanzas) {
    if (!s.rijndael || !s.sources.contains(src) || !s.destinations.contains(dst)) continue;
    fko_ctx_t ctx = nullptr;
    int rc = fko_new_with_data(&ctx, packet.c_str(), s.key.data(), static_cast<int>(s.key.size()),
                               s.mode, s.hmac_key.empty() ? nullptr : s.hmac_key.data(),
                               static_cast<int>(s.hmac_key.size()), s.hmac_type);
    if (rc == FKO_SUCCESS) rc = fwknopd::get_spa_data_fields(ctx);
    if (rc == FKO_SUCCESS) {
      time_t stamp = 0;
      char* message = nullptr;
      fko_get_timestamp(ctx, &stamp);
      fko_get_spa_message(ctx, &message);
      const epoch_seconds age = now - stamp;
      if (c.options.packet_aging &&
          (age > c.options.max_packet_age || -age > c.options.max_packet_age))
        rc = FKO_ERROR_INVALID_DATA;  // fwknopd: SPA_MSG_TOO_OLD
      // The ports asked for ("ip,proto/port"): fwknopd's acc_check_port_access.
      const char* comma = message == nullptr ? nullptr : std::strchr(message, ',');
      if (rc == FKO_SUCCESS && comma != nullptr) {
        const std::string_view asked{comma + 1};
        const auto slash = asked.find('/');
        port_spec p{asked.starts_with("udp") ? ip_protocol::udp : ip_protocol::tcp,
                    static_cast<std::uint16_t>(std::atoi(asked.data() + slash + 1))};
        if (s.restrict_ports.contains(p) || (s.open_ports && !s.open_ports->contains(p)))
          rc =
              FKO_ERROR_INVALID_DATA;  // fwknopd: "One or more requested protocol/ports was denied"
      }
    }
    if (ctx != nullptr) fko_destroy(ctx);
    if (rc == FKO_SUCCESS) return accepted;
    last = rc;
  }
  return last;
}
#endif

// ---- registration

/// Registers `f` under `name`, having checked it once: `want(outcome)` must hold for the first
/// packet and for every timed one (else the run fails with `what`).
template <class F, class Want>
bool register_case(const std::string& name, F f, Want want, const char* what,
                   std::function<void()> before_run = {}) {
  if (before_run) before_run();
  const int got = f();
  if (!want(got)) {
    std::fprintf(stderr, "knock-bench: %s: %s (outcome %s); refusing to run\n", name.c_str(), what,
                 outcome_name(got).c_str());
    return false;
  }
  cases().push_back({name, f, 2000});
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) mutable {
    if (before_run) before_run();
    const alloc_totals before = allocations();
    for (auto _ : state) {
      const int o = f();
      benchmark::DoNotOptimize(o);
      if (!want(o)) {
        state.SkipWithError((std::string{what} + ": " + outcome_name(o)).c_str());
        break;
      }
    }
    const alloc_totals after = allocations();
    state.SetItemsProcessed(state.iterations());
    state.counters["allocs_per_packet"] = benchmark::Counter(
        static_cast<double>(after.count - before.count), benchmark::Counter::kAvgIterations);
  });
  return true;
}

/// server/valid/1's pool, for one stanza of the configuration's server.
struct valid_pool {
  std::shared_ptr<bench_server> srv;
  const stanza_packets* packets = nullptr;
  std::size_t capacity = 0, next = 0;
  epoch_seconds now = 0;
  alloc_totals reset_allocs;

  void reset() {
    const alloc_totals before = allocations();
    srv->replay_store() = replay::memory_store{capacity};
    next = 0;
    const alloc_totals after = allocations();
    reset_allocs.count += after.count - before.count;
    reset_allocs.bytes += after.bytes - before.bytes;
  }
  bool exhausted() const noexcept { return next == packets->pool.size(); }
  verdict once() {
    if (exhausted()) reset();
    return srv->handle(from(packets->pool[next++], packets->source, packets->destination), now);
  }
};

bool register_valid(const std::string& name, std::shared_ptr<valid_pool> pool,
                    std::size_t expect_stanza) {
  pool->reset();
  const verdict v = pool->once();
  if (!v.accepted || v.stanza != expect_stanza) {
    std::fprintf(stderr, "knock-bench: %s: a valid packet was %s; refusing to run\n", name.c_str(),
                 v.accepted
                     ? ("accepted by another stanza (" + std::to_string(*v.stanza) + ")").c_str()
                     : ("refused: " + std::string{to_string(v.reason)}).c_str());
    return false;
  }
  cases().push_back({name, [pool] { return outcome_of(pool->once()); }, 2000});
  benchmark::RegisterBenchmark(name.c_str(), [pool, expect_stanza](benchmark::State& state) {
    pool->reset();
    pool->reset_allocs = {};
    const alloc_totals before = allocations();
    for (auto _ : state) {
      if (pool->exhausted()) {
        state.PauseTiming();
        pool->reset();
        state.ResumeTiming();
      }
      const verdict v = pool->srv->handle(from(pool->packets->pool[pool->next++],
                                               pool->packets->source, pool->packets->destination),
                                          pool->now);
      benchmark::DoNotOptimize(v);
      if (!v.accepted || v.stanza != expect_stanza) {
        state.SkipWithError(
            ("a valid packet was refused: " + std::string{to_string(v.reason)}).c_str());
        break;
      }
    }
    const alloc_totals after = allocations();
    state.SetItemsProcessed(state.iterations());
    state.counters["allocs_per_packet"] = benchmark::Counter(
        static_cast<double>(after.count - before.count - pool->reset_allocs.count),
        benchmark::Counter::kAvgIterations);
  });
  return true;
}

int config_error(const config::config_error& e) {
  std::fprintf(stderr, "knock-bench: %s\n", config::to_string(e).c_str());
  return 2;
}

bool uses_gnupg(const config::raw_stanza& r) {
  return r.gnupg.gpg_decrypt_pw.is_set() || r.gnupg.gpg_allow_no_pw.is_set();
}

}  // namespace

int add_config_cases(const config_options& o) {
  using namespace knock;
  plan& p = the_plan();
  p.access_file = o.access_file;
  p.fwknopd_conf = o.fwknopd_conf;
  config::bind_options bind{.allow_no_hmac = o.allow_no_hmac};
  if (!o.fwknopd_conf.empty()) {
    auto conf = config::load_fwknopd_conf(o.fwknopd_conf);
    if (!conf) return config_error(conf.error());
    auto read = config::read_server_options(*conf);
    if (!read) return config_error(read.error());
    p.options = *read;
    bind.gpg_home_dir = conf->text("GPG_HOME_DIR", bind.gpg_home_dir);
  }
  if (!o.gpg_home_dir.empty()) bind.gpg_home_dir = o.gpg_home_dir;
  bind.nat = p.options.nat;

  // The stanzas as the file writes them (for their numbers and raw keys), then bound one by one,
  // so that a GnuPG stanza whose keyring does not open is reported and the others still run.
  auto text = config::detail::read_config_file(o.access_file);
  if (!text) return config_error(text.error());
  std::vector<config::config_error> skipped;
  const config::include_access files = config::file_system();
  auto raw = config::parse_access_conf(*text, o.access_file, &files, &skipped);
  secure_zero(text->data(), text->size());
  if (!raw) return config_error(raw.error());
  for (const auto& e : skipped)
    p.notes.push_back(config::to_string(e) + " (left out when parsing, as fwknopd does)");
  if (raw->empty()) {
    std::fprintf(stderr, "knock-bench: %s: no stanza\n", o.access_file.c_str());
    return 2;
  }

  bench_server::rules_type rules;
  rules.options = p.options;
  std::vector<std::optional<std::size_t>> in_server;  // raw index -> server index
  for (std::size_t i = 0; i < raw->size(); ++i) {
    const config::raw_stanza& r = (*raw)[i];
    stanza_row row;
    row.number = i + 1;
    row.file = r.source.file.empty() ? o.access_file : r.source.file;
    row.line = r.source.line;
    auto bound = config::bind_access_conf<cipher_t, mac::any_hmac>({r}, o.access_file, bind);
    if (!bound) {
      if (uses_gnupg(r) && bound.error().key.starts_with("GPG")) {
        row.left_out = "its GnuPG key does not open: " + config::to_string(bound.error());
        p.rows.push_back(std::move(row));
        in_server.emplace_back();
        continue;
      }
      return config_error(bound.error());
    }
    in_server.push_back(rules.stanzas.size());
    rules.stanzas.push_back(std::move(bound->front()));
    p.rows.push_back(std::move(row));
  }

  const epoch_seconds now = std::time(nullptr);
  const epoch_seconds stamp = now - o.clock_skew;
  std::mt19937_64 rng{20261217};
  std::vector<const stanza_t*> all;
  for (const auto& s : rules.stanzas) all.push_back(&s);

  // Packets first (the server takes the stanzas over once made).
  std::vector<std::shared_ptr<stanza_packets>> packets(raw->size());
  for (std::size_t i = 0; i < raw->size(); ++i) {
    stanza_row& row = p.rows[i];
    if (!in_server[i]) continue;
    const stanza_t& s = *all[*in_server[i]];
    if (s.mac) row.mac = std::string{s.mac->name()};
    if (!s.cipher.uses_symmetric()) {
      row.cipher = "gnupg";
      row.left_out =
          "GnuPG only: its packets need the signer's secret key, which the server's keyring does "
          "not hold (knock-bench --gnupg measures GnuPG)";
      continue;
    }
    row.cipher = std::string{s.cipher.name()};
    if (s.cipher.uses_asymmetric()) row.cipher += "+gnupg";
    if (now >= s.access_expire) {
      row.left_out = "ACCESS_EXPIRE has passed: it accepts nothing";
      continue;
    }
    auto pk = std::make_shared<stanza_packets>();
    std::tie(pk->source, pk->destination) = addresses_for(all, *in_server[i]);
    if (!pk->source.is_v4() && s.require_source_address) {
      row.left_out = "REQUIRE_SOURCE_ADDRESS with IPv6 sources only: an SPA message names IPv4";
      continue;
    }
    const port_spec port = port_for(s);
    row.source = to_string(pk->source);
    row.port = to_string(port);
    const auto seal = [&](const stanza_t& with) -> std::string {
      auto w = seal_for(rng, message_for(rng, s, pk->source, port, stamp), with);
      return w ? *w : std::string{};
    };
    pk->pool.reserve(o.pool);
    for (std::size_t n = 0; n < o.pool; ++n) pk->pool.push_back(seal(s));
    pk->valid = seal(s);
    pk->replay = seal(s);
    if (pk->valid.empty() || pk->pool.front().empty()) {
      row.left_out = "knock cannot seal a packet for it";
      continue;
    }
    if (s.mac) {
      pk->bad_hmac = pk->valid;
      char& t = pk->bad_hmac[pk->valid.size() - codec::base64::encoded_size(s.mac->tag_size()) / 2];
      t = t == 'A' ? 'B' : 'A';
    }
    static constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t n = 0; n < pk->valid.size(); ++n) pk->garbage += alphabet[rng() % 64];
    // The miss: the stanza's mode and HMAC, keys of nobody's.
    stanza_t foreign;
    foreign.cipher = s.cipher;
    foreign.cipher.set_symmetric_key(foreign.key, random_text_key(rng, 16));
    if (s.mac) {
      const auto hk = random_text_key(rng, 32);
      foreign.mac.emplace(*mac::any_hmac::make(s.mac->name(), hk.view()));
    }
    pk->miss = seal(foreign);
    packets[i] = std::move(pk);
  }

#if KNOCK_BENCH_LIBFKO
  auto fko = std::make_shared<fko_config>();
  fko->options = p.options;
  for (std::size_t i = 0; i < raw->size(); ++i) {
    if (!in_server[i]) continue;
    const stanza_t& s = *all[*in_server[i]];
    const config::raw_stanza& r = (*raw)[i];
    fko_stanza f;
    f.sources = s.sources;
    f.destinations = s.destinations;
    f.open_ports = s.open_ports;
    f.restrict_ports = s.restrict_ports;
    f.rijndael = s.cipher.uses_symmetric();
    std::string why;
    if (f.rijndael) {
      f.key.assign(as_chars(s.key.symmetric.view()));
      const auto mode = fko_mode(s.cipher.name());
      if (mode)
        f.mode = *mode;
      else
        why = "libfko has no mode '" + std::string{s.cipher.name()} + "'";
    }
    if (s.mac) {
      auto hk = config::detail::read_key(o.access_file, r.hmac_key, "HMAC_KEY", r.hmac_key_base64,
                                         "HMAC_KEY_BASE64");
      if (hk && *hk) f.hmac_key.assign(as_chars((**hk).view()));
      const auto type = fko_hmac(s.mac->name());
      if (type)
        f.hmac_type = *type;
      else
        why = "libfko has no HMAC '" + std::string{s.mac->name()} + "'";
    }
    if (!why.empty()) {
      p.rows[i].libfko_left_out = why;
      f.rijndael = false;
    }
    fko->stanzas.push_back(std::move(f));
  }
#endif

  auto srv =
      std::make_shared<bench_server>(std::move(rules), replay::memory_store{4 * o.pool + 64});
  const auto capacity = 4 * o.pool + 64;

  for (std::size_t i = 0; i < raw->size(); ++i) {
    stanza_row& row = p.rows[i];
    const auto pk = packets[i];
    if (!pk) continue;
    const std::string base = "config/" + row.label() + "/";
    const std::size_t own = *in_server[i] + 1;

    // Which stanza accepts its packets: itself, unless an earlier one with the same keys takes
    // them.
    const verdict first = srv->handle(from(pk->valid, pk->source, pk->destination), now);
    srv->replay_store() = replay::memory_store{capacity};
    if (!first.accepted) {
      std::fprintf(stderr,
                   "knock-bench: %s: a valid packet (from %s, %s) was refused: %s; refusing to "
                   "run\n",
                   row.label().c_str(), row.source.c_str(), row.port.c_str(),
                   std::string{to_string(first.reason)}.c_str());
      return 1;
    }
    const std::size_t accepting = *first.stanza;
    for (std::size_t j = 0; j < in_server.size(); ++j)
      if (in_server[j] && *in_server[j] + 1 == *first.stanza) row.accepted_by = j + 1;
    if (accepting != own)
      p.notes.push_back(row.label() + ": its packets (from " + row.source + ") are accepted by " +
                        "stanza " + std::to_string(*row.accepted_by) +
                        ", which comes first and opens them too");

    auto pool = std::make_shared<valid_pool>();
    pool->srv = srv;
    pool->packets = pk.get();
    pool->capacity = capacity;
    pool->now = now;
    if (!register_valid(base + "valid", pool, accepting)) return 1;
    row.outcome["valid"] = "accepted";

    const auto refused = [](int o) { return o != accepted && o != replayed; };
    const auto decide = [srv, pk, now](const std::string* packet) {
      return [srv, pk, now, packet] {
        return outcome_of(srv->handle(from(*packet, pk->source, pk->destination), now));
      };
    };
    const auto note = [&](const char* c, const std::string* packet) {
      row.outcome[c] = outcome_name(decide(packet)());
    };
    if (!pk->bad_hmac.empty()) {
      note("bad_hmac", &pk->bad_hmac);
      if (!register_case(base + "bad_hmac", decide(&pk->bad_hmac), refused,
                         "a packet with a broken HMAC was not refused"))
        return 1;
    }
    note("garbage", &pk->garbage);
    if (!register_case(base + "garbage", decide(&pk->garbage), refused,
                       "random characters were not refused"))
      return 1;
    // Accepted once at the start of each run (the valid cases reset the store).
    const auto prime = [srv, pk, now] {
      (void)srv->handle(from(pk->replay, pk->source, pk->destination), now);
    };
    if (!register_case(
            base + "replay", decide(&pk->replay), [](int o) { return o == replayed; },
            "a replay was not refused as one", prime))
      return 1;
    row.outcome["replay"] = "replayed";
    note("miss", &pk->miss);
    if (!register_case(base + "miss", decide(&pk->miss), refused,
                       "a packet under nobody's keys was not refused"))
      return 1;

#if KNOCK_BENCH_LIBFKO
    if (!row.libfko_left_out.empty()) continue;
    const std::string lbase = "libfko/" + base;
    const auto fko_decides = [fko, pk, now](const std::string* packet, const char* seen) {
      return [fko, pk, now, packet, seen] {
        return fko_decide(*fko, *packet, pk->source, pk->destination, now, seen);
      };
    };
    if (const int got = fko_decides(&pk->valid, nullptr)(); got != accepted) {
      row.libfko_left_out = std::string{"libfko refuses its valid packet: "} + fko_errstr(got);
      continue;
    }
    if (!register_case(
            lbase + "valid", fko_decides(&pk->valid, nullptr), [](int o) { return o == accepted; },
            "libfko refused a valid packet"))
      return 1;
    if (!pk->bad_hmac.empty() &&
        !register_case(lbase + "bad_hmac", fko_decides(&pk->bad_hmac, nullptr), refused,
                       "libfko did not refuse a broken HMAC"))
      return 1;
    if (!register_case(lbase + "garbage", fko_decides(&pk->garbage, nullptr), refused,
                       "libfko did not refuse random characters"))
      return 1;
    // fwknopd's replay cache, holding this packet's digest.
    char* digest = nullptr;
    if (fwknopd::get_raw_digest(&digest, pk->replay.c_str()) != FKO_SUCCESS) return 1;
    auto seen = std::shared_ptr<char>(digest, std::free);
    const auto replay_f = fko_decides(&pk->replay, seen.get());
    if (!register_case(
            lbase + "replay", [replay_f, seen] { return replay_f(); },
            [](int o) { return o == replayed; }, "libfko did not see the replay"))
      return 1;
    if (!register_case(lbase + "miss", fko_decides(&pk->miss, nullptr), refused,
                       "libfko did not refuse nobody's keys"))
      return 1;
#else
    row.libfko_left_out = "knock-bench is built without libfko";
#endif
  }
  return 0;
}

// ---- the run and its report

namespace {

struct measured {
  std::vector<double> ns, allocs;                  ///< per run (iterations), or
  std::optional<double> median_ns, median_allocs;  ///< the median aggregate
  std::string error;
  double ns_value() const {
    if (median_ns) return *median_ns;
    auto v = ns;
    std::sort(v.begin(), v.end());
    return v.empty() ? NAN : v[v.size() / 2];
  }
  double allocs_value() const {
    if (median_allocs) return *median_allocs;
    auto v = allocs;
    std::sort(v.begin(), v.end());
    return v.empty() ? NAN : v[v.size() / 2];
  }
};

/// Passes every run to the display reporter the user chose and keeps what the report needs.
template <class Base>
class keeping_reporter : public Base {
 public:
  template <class... Args>
  explicit keeping_reporter(std::map<std::string, measured>& out, Args... args)
      : Base(args...), out_{out} {}
  bool ReportContext(const benchmark::BenchmarkReporter::Context& c) override {
    return Base::ReportContext(c);
  }
  void ReportRuns(const std::vector<benchmark::BenchmarkReporter::Run>& runs) override {
    for (const auto& r : runs) {
      measured& m = out_[r.run_name.function_name];
      if (r.error_occurred) {
        m.error = r.error_message;
        continue;
      }
      const double scale = r.time_unit == benchmark::kNanosecond    ? 1
                           : r.time_unit == benchmark::kMicrosecond ? 1e3
                           : r.time_unit == benchmark::kMillisecond ? 1e6
                                                                    : 1e9;
      const auto a = r.counters.find("allocs_per_packet");
      const double allocs = a == r.counters.end() ? NAN : a->second.value;
      if (r.run_type == benchmark::BenchmarkReporter::Run::RT_Aggregate) {
        if (r.aggregate_name == "median") {
          m.median_ns = r.GetAdjustedCPUTime() * scale;
          m.median_allocs = allocs;
        }
      } else {
        m.ns.push_back(r.GetAdjustedCPUTime() * scale);
        m.allocs.push_back(allocs);
      }
    }
    Base::ReportRuns(runs);
  }

 private:
  std::map<std::string, measured>& out_;
};

std::string format_ns(double x) {
  if (std::isnan(x)) return "–";
  char b[32];
  std::snprintf(b, sizeof b, x >= 100 ? "%.0f" : "%.1f", x);
  return b;
}

long vm_hwm_kib() {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmHWM:")) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

}  // namespace

int run_config_cases(const config_options& o) {
  std::map<std::string, measured> results;
  std::unique_ptr<benchmark::BenchmarkReporter> display;
  if (o.format == "json") {
    display = std::make_unique<keeping_reporter<benchmark::JSONReporter>>(results);
  } else {
    const bool color = !o.json && ::isatty(STDOUT_FILENO) != 0;
    display = std::make_unique<keeping_reporter<benchmark::ConsoleReporter>>(
        results, color ? benchmark::ConsoleReporter::OO_ColorTabular
                       : benchmark::ConsoleReporter::OO_Tabular);
  }
  if (o.json) display->SetOutputStream(&std::cerr);  // stdout is the JSON document's
  benchmark::RunSpecifiedBenchmarks(display.get());
  const long hwm = vm_hwm_kib();

  const plan& p = the_plan();
  nlohmann::json doc;
  doc["access_file"] = p.access_file;
  doc["fwknopd_conf"] = p.fwknopd_conf.empty() ? nlohmann::json{} : nlohmann::json{p.fwknopd_conf};
  doc["max_spa_packet_age"] =
      p.options.packet_aging ? nlohmann::json(p.options.max_packet_age) : nlohmann::json{};
  doc["vm_hwm_kib"] = hwm;
  doc["libfko"] = p.libfko;
  int status = 0;
  std::vector<std::string> failures;
  auto& rows = doc["stanzas"] = nlohmann::json::array();
  for (const stanza_row& r : p.rows) {
    nlohmann::json j;
    j["stanza"] = r.number;
    j["file"] = r.file;
    j["line"] = r.line;
    j["where"] = r.where();
    j["cipher"] = r.cipher;
    j["mac"] = r.mac;
    j["source"] = r.source;
    j["port"] = r.port;
    j["left_out"] = r.left_out.empty() ? nlohmann::json{} : nlohmann::json(r.left_out);
    j["libfko_left_out"] =
        r.libfko_left_out.empty() ? nlohmann::json{} : nlohmann::json(r.libfko_left_out);
    j["accepted_by"] = r.accepted_by ? nlohmann::json(*r.accepted_by) : nlohmann::json{};
    auto& cs = j["cases"] = nlohmann::json::object();
    for (const char* c : case_names) {
      const std::string name = "config/" + r.label() + "/" + c;
      const auto k = results.find(name);
      const auto l = results.find("libfko/" + name);
      if (k == results.end() && r.outcome.find(c) == r.outcome.end()) continue;
      nlohmann::json e;
      e["outcome"] = r.outcome.count(c) ? nlohmann::json(r.outcome.at(c)) : nlohmann::json{};
      const auto num = [](double x) {
        return std::isnan(x) ? nlohmann::json{} : nlohmann::json(x);
      };
      e["knock_ns"] = k == results.end() ? nlohmann::json{} : num(k->second.ns_value());
      e["knock_allocs_per_packet"] =
          k == results.end() ? nlohmann::json{} : num(k->second.allocs_value());
      e["libfko_ns"] = l == results.end() ? nlohmann::json{} : num(l->second.ns_value());
      e["libfko_allocs_per_packet"] =
          l == results.end() ? nlohmann::json{} : num(l->second.allocs_value());
      e["ratio"] = e["knock_ns"].is_number() && e["libfko_ns"].is_number()
                       ? nlohmann::json(l->second.ns_value() / k->second.ns_value())
                       : nlohmann::json{};
      std::string error;
      if (k != results.end() && !k->second.error.empty()) error = k->second.error;
      if (l != results.end() && !l->second.error.empty()) error += " (libfko) " + l->second.error;
      e["error"] = error.empty() ? nlohmann::json{} : nlohmann::json(error);
      if (!error.empty()) {
        status = 1;
        failures.push_back(name + ": " + error);
      }
      cs[c] = std::move(e);
    }
    rows.push_back(std::move(j));
  }
  doc["notes"] = p.notes;
  doc["failures"] = failures;

  if (o.json) {
    std::cout << doc.dump(2) << "\n";
  } else {
    std::ostringstream t;
    t << "\n" << p.access_file;
    if (!p.fwknopd_conf.empty()) t << " with " << p.fwknopd_conf;
    t << ": CPU ns per packet (medians), knock / libfko; ratio = libfko / knock\n\n";
    t << "| stanza | file:line | cipher/MAC | valid knock | valid libfko | ratio | allocs/packet "
         "knock, libfko | bad HMAC (ratio) | garbage (ratio) | replay (ratio) | miss (ratio) |\n";
    t << "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const auto& j : rows) {
      t << "| stanza " << j["stanza"].get<std::size_t>() << " | " << j["where"].get<std::string>()
        << " | " << j["cipher"].get<std::string>() << "/" << j["mac"].get<std::string>() << " | ";
      if (!j["left_out"].is_null()) {
        t << "left out: " << j["left_out"].get<std::string>() << " | | | | | | | |\n";
        continue;
      }
      const auto& cs = j["cases"];
      const auto val = [&](const char* c, const char* field) {
        return cs.contains(c) && cs[c][field].is_number() ? cs[c][field].get<double>() : NAN;
      };
      const auto ratio = [&](const char* c) {
        const double x = val(c, "ratio");
        char b[32];
        std::snprintf(b, sizeof b, "%.1fx", x);
        return std::isnan(x) ? std::string{} : std::string{b};
      };
      t << format_ns(val("valid", "knock_ns")) << " | " << format_ns(val("valid", "libfko_ns"))
        << " | " << ratio("valid") << " | " << format_ns(val("valid", "knock_allocs_per_packet"))
        << ", " << format_ns(val("valid", "libfko_allocs_per_packet")) << " | ";
      for (const char* c : {"bad_hmac", "garbage", "replay", "miss"}) {
        if (!cs.contains(c)) {
          t << "n/a |" << (std::strcmp(c, "miss") == 0 ? "" : " ");
          continue;
        }
        const std::string rr = ratio(c);
        t << format_ns(val(c, "knock_ns")) << (rr.empty() ? "" : " (" + rr + ")") << " |"
          << (std::strcmp(c, "miss") == 0 ? "" : " ");
      }
      t << "\n";
    }
    char mib[32];
    std::snprintf(mib, sizeof mib, "%.1f", static_cast<double>(hwm) / 1024.0);
    t << "\nVmHWM " << mib << " MiB (the whole knock-bench process, " << o.pool
      << " packets sealed per stanza)\n";
    for (const auto& j : rows)
      if (!j["libfko_left_out"].is_null() && j["left_out"].is_null())
        t << "stanza " << j["stanza"].get<std::size_t>()
          << ": no libfko cases: " << j["libfko_left_out"].get<std::string>() << "\n";
    for (const auto& n : p.notes) t << "note: " << n << "\n";
    for (const auto& f : failures) t << "FAILED: " << f << "\n";
    std::cout << t.str();
  }
  return status;
}

}  // namespace knock_bench
