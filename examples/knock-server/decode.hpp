// SPDX-License-Identifier: MIT
#pragma once
// knock-server --decode: runs SPA packets through the server — HMAC, decryption, replay memory,
// the time window and the stanzas' policy — with a firewall that only records grants, and prints
// one JSON object per packet. Each FILE holds one UDP payload, exact bytes; without FILE, each line
// of stdin is one (its LF or CRLF removed). --source/--dest give the packets' addresses (default
// 0.0.0.0, which only SOURCE ANY matches, and the destination fwknopd records in UDP-server mode).
// -d keeps the replay memory in a file, across runs; KNOCK_REPLAY_REDIS in fwknopd.conf (-c) keeps
// it in Redis, shared as the daemon shares it, so two runs against one Redis act as two gateways
// (a Redis that cannot answer: `replay_store_unavailable` verdicts). Exit status: 0 once every
// packet got its line, whatever the verdicts; 1 for a configuration or output error.

#include "decoder.hpp"
#include "options.hpp"
#include "settings.hpp"

#include <knock/config/access_conf.hpp>
#include <knock/config/fwknopd_conf.hpp>
#include <knock/replay/file_store.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace knock_server {

// Enough of a payload to tell every verdict: longer ones are refused as too long either way.
inline constexpr std::size_t max_kept = knock::limits::max_packet + 2;

inline std::int64_t now(const options& o) {
  if (o.now) return *o.now;
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline void print(const verdict& v) {
  const std::string line = knock_server::to_json(v) + '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

// One packet from a file: its first `max_kept` bytes, or why it could not be read.
template <class Decoder>
verdict check_file(Decoder& d, const std::string& path, const options& o) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return verdict::refused("io_failed", path + ": " + std::generic_category().message(errno));
  std::string payload(max_kept, '\0');
  payload.resize(std::fread(payload.data(), 1, payload.size(), f));
  const int err = std::ferror(f) != 0 ? errno : 0;
  if (f != stdin) std::fclose(f);
  if (err != 0)
    return verdict::refused("io_failed", path + ": " + std::generic_category().message(err));
  return d.check(payload, now(o));
}

// One packet per line of stdin. Lines are kept to `max_kept` bytes, so a huge line costs no memory.
template <class Decoder>
void check_lines(Decoder& d, const options& o) {
  std::string line;
  bool pending = false;  // bytes seen since the last LF
  const auto finish_line = [&] {
    if (line.ends_with('\r')) line.pop_back();
    print(d.check(line, now(o)));
    line.clear();
    pending = false;
  };
  std::vector<char> buf(64 * 1024);
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), stdin)) != 0;) {
    for (std::string_view rest{buf.data(), n}; !rest.empty();) {
      const std::size_t lf = rest.find('\n');
      const std::string_view part = rest.substr(0, lf);
      line.append(part.substr(0, max_kept - std::min(max_kept, line.size())));
      pending = pending || !part.empty();
      if (lf == std::string_view::npos) break;
      finish_line();
      rest.remove_prefix(lf + 1);
    }
  }
  if (std::ferror(stdin) != 0)
    print(verdict::refused("io_failed", "<stdin>: " + std::generic_category().message(errno)));
  else if (pending)
    finish_line();  // a last line without LF is a packet too
}

inline int config_error(const knock::config::config_error& e) {
  std::fprintf(stderr, "knock-server: %s\n", knock::config::to_string(e).c_str());
  return 1;
}

template <class Decoder>
int run(Decoder& decoder, const options& o) {
  if (o.files.empty()) check_lines(decoder, o);
  for (const std::string& path : o.files) print(check_file(decoder, path, o));
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) {
    std::fprintf(stderr, "knock-server: writing the verdicts failed\n");
    return 1;
  }
  return 0;
}

/// `--decode`: fwknopd.conf (`-c`, checked against the variables `Firewalls` and `Captures` know)
/// gives the packet age; access.conf the stanzas.
template <class Firewalls, class Captures>
int decode_main(options& o) {
  if (!o.source) o.source = knock::ip_address{};
  if (!o.dest) o.dest = knock::ip_address{};
  knock::access::server_options server_options;
  knock::config::bind_options bind{.allow_no_hmac = o.allow_no_hmac};
  std::optional<redis_settings> redis;
  [[maybe_unused]] std::uint32_t replay_capacity = 65536;  // the Redis store's local filter
  if (!o.fwknopd_conf.empty()) {
    auto conf = load_conf<Firewalls, Captures>(o.fwknopd_conf);
    if (!conf) return config_error(conf.error());
    auto read = knock::config::read_server_options(*conf, o.firewall);
    if (!read) return config_error(read.error());
    server_options = *read;
    bind.gpg_home_dir = conf->text("GPG_HOME_DIR", bind.gpg_home_dir);
    auto shared = read_redis_settings(*conf);
    if (!shared) return config_error(shared.error());
    redis = *std::move(shared);
    auto capacity = conf->number("KNOCK_REPLAY_CAPACITY", 65536, 1u << 24);
    if (!capacity) return config_error(capacity.error());
    replay_capacity = *capacity;
  }
  if (redis && !o.digest_file.empty()) {
    std::fprintf(stderr,
                 "knock-server: -d and KNOCK_REPLAY_REDIS name two replay stores: give one\n");
    return 1;
  }
  if (!o.gpg_home_dir.empty()) bind.gpg_home_dir = o.gpg_home_dir;
  bind.nat = server_options.nat;
  auto stanzas =
      knock::config::load_access_conf<server_cipher, knock::mac::any_hmac>(o.access_conf, bind);
  if (!stanzas) return config_error(stanzas.error());
  knock_server::decode_server<knock::replay::memory_store>::rules_type rules{*std::move(stanzas),
                                                                             server_options};
#if KNOCK_SERVER_REDIS
  if (redis) {
    knock_server::decoder<knock::replay::redis_store> decoder{
        knock_server::decode_server<knock::replay::redis_store>{
            std::move(rules), make_redis_store(*redis, 2 * std::size_t{replay_capacity})},
        *o.source, *o.dest};
    return run(decoder, o);
  }
#endif
  if (!o.digest_file.empty()) {
    auto store = knock::replay::file_store::open(o.digest_file, now(o));
    if (!store) {
      std::fprintf(stderr, "knock-server: cannot open the digest file: %s\n",
                   to_string(store.error()).c_str());
      return 1;
    }
    knock_server::decoder<knock::replay::file_store> decoder{
        knock_server::decode_server<knock::replay::file_store>{std::move(rules), *std::move(store)},
        *o.source, *o.dest};
    return run(decoder, o);
  }
  if (!server_options.packet_aging) {
    std::fprintf(stderr,
                 "knock-server: packet aging is off: give a digest file (-d) so that "
                 "replays stay refused\n");
    return 1;
  }
  knock_server::decoder<knock::replay::memory_store> decoder{
      knock_server::decode_server<knock::replay::memory_store>{std::move(rules)}, *o.source,
      *o.dest};
  return run(decoder, o);
}

}  // namespace knock_server
