// SPDX-License-Identifier: MIT
// load_sender: the sending side of bench/load.sh (an end-to-end load benchmark, knock-server
// against fwknopd). Seals N unique valid SPA packets with knock's wire layer (fresh salt, random
// field and timestamp each, AES-CBC + HMAC-SHA256, like `fwknop -A tcp/22 -a IP`), each asking
// access for its own address (--allow-base, counting up), all before any timing starts; then sends
// them as UDP datagrams, paced (--rate) or as fast as it can, optionally spread evenly through
// --garbage-count datagrams of binary or base64-alphabet garbage. Bounded: a count, and a
// wall-clock cap (--max-seconds) after which it stops sending. Prints one JSON object.
//
//   load_sender --dest IP [--port 62201] --key-b64 K --hmac-key-b64 H [--valid N]
//               [--allow-base 10.128.0.1] [--access tcp/22] [--rate PPS (0: unpaced)]
//               [--garbage none|bin|b64] [--garbage-count G] [--max-seconds S] [--out FILE]
//               [--sockets K (send from K source ports, round robin per batch of 64)]
//
// --out FILE also writes the valid packets, one a line (to check them elsewhere).
#include <knock/cipher/any_of.hpp>
#include <knock/codec/base64.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/wire/packet.hpp>

#include <cryptopp/osrng.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace {

int usage(const char* why) {
  std::fprintf(stderr, "load_sender: %s\n", why);
  return 2;
}

std::optional<std::vector<knock::byte>> from_b64(std::string_view s) {
  std::vector<knock::byte> out(knock::codec::base64::decoded_size(s.size()) + 3);
  auto n = knock::codec::base64::decode_padded(s, out.data());
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}

double now_s() {
  timespec t{};
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

void sleep_until(double t) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(t);
  ts.tv_nsec = static_cast<long>((t - static_cast<double>(ts.tv_sec)) * 1e9);
  while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt{
      {"--port", "62201"},      {"--valid", "0"},        {"--allow-base", "10.128.0.1"},
      {"--access", "tcp/22"},   {"--rate", "0"},         {"--garbage", "none"},
      {"--garbage-count", "0"}, {"--max-seconds", "60"}, {"--sockets", "1"}};
  for (int i = 1; i + 1 < argc; i += 2) opt[argv[i]] = argv[i + 1];
  if (argc % 2 == 0) return usage("options come in pairs");

  sockaddr_in dest{};
  dest.sin_family = AF_INET;
  dest.sin_port = htons(static_cast<std::uint16_t>(std::stoul(opt["--port"])));
  if (::inet_pton(AF_INET, opt["--dest"].c_str(), &dest.sin_addr) != 1)
    return usage("--dest must be an IPv4 address");
  in_addr allow{};
  if (::inet_pton(AF_INET, opt["--allow-base"].c_str(), &allow) != 1)
    return usage("--allow-base must be an IPv4 address");
  const std::size_t n_valid = std::stoul(opt["--valid"]);
  const std::size_t n_garbage = std::stoul(opt["--garbage-count"]);
  const double rate = std::stod(opt["--rate"]);
  const double max_seconds = std::stod(opt["--max-seconds"]);
  const std::string garbage = opt["--garbage"];
  if (garbage != "none" && garbage != "bin" && garbage != "b64")
    return usage("--garbage is none, bin or b64");
  if (garbage == "none" && n_garbage != 0) return usage("--garbage-count needs --garbage");

  // ---- everything sent is made before the clock starts -----------------------------------
  const double gen_start = now_s();
  std::vector<std::string> valid;
  valid.reserve(n_valid);
  if (n_valid > 0) {
    const auto cipher = knock::cipher::any_rijndael::make("cbc");
    const auto key = from_b64(opt["--key-b64"]);
    const auto hkey = from_b64(opt["--hmac-key-b64"]);
    if (!cipher || !key || key->empty() || !hkey || hkey->empty())
      return usage("--key-b64 / --hmac-key-b64 missing or not base64");
    const auto mac = knock::mac::any_hmac::make("sha256", *hkey);
    if (!mac) return usage("HMAC key refused");
    CryptoPP::AutoSeededRandomPool rng;
    const std::uint32_t base = ntohl(allow.s_addr);
    const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    for (std::size_t i = 0; i < n_valid; ++i) {
      knock::spa_message m;
      std::string digits(16, '0');
      for (char& d : digits) d = static_cast<char>('0' + rng.GenerateWord32(0, 9));
      m.rand_value.assign(digits);
      m.username.assign("loadtest");
      m.timestamp = stamp;
      m.type = knock::message_type::access;
      in_addr a{};
      a.s_addr = htonl(base + static_cast<std::uint32_t>(i));
      char ip[INET_ADDRSTRLEN];
      ::inet_ntop(AF_INET, &a, ip, sizeof ip);
      m.message.assign(std::string{ip} + "," + opt["--access"]);
      m.digest_type = knock::hash_id::sha256;
      std::array<knock::byte, 8> salt;
      rng.GenerateBlock(salt.data(), salt.size());
      auto packet = knock::wire::seal(m, *cipher, *key, &*mac, salt);
      if (!packet) return usage(knock::error_name(packet.error()).c_str());
      valid.push_back(*std::move(packet));
    }
  }
  if (opt.count("--out")) {
    if (std::FILE* f = std::fopen(opt["--out"].c_str(), "w")) {
      for (const auto& p : valid) std::fprintf(f, "%s\n", p.c_str());
      std::fclose(f);
    }
  }
  // A pool of garbage datagrams of the default packet's length (204), cycled.
  std::vector<std::string> pool;
  if (n_garbage > 0) {
    std::mt19937_64 g{0x6b6e6f636bULL};
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int k = 0; k < 4096; ++k) {
      std::string d(204, '\0');
      for (char& c : d)
        c = garbage == "b64" ? alphabet[g() % 64] : static_cast<char>(1 + g() % 255);
      pool.push_back(std::move(d));
    }
  }
  // The order: valid packet k goes at position floor((k + 0.5) * total / N).
  const std::size_t total = n_valid + n_garbage;
  std::vector<const std::string*> order;
  std::vector<char> is_valid;
  order.reserve(total);
  is_valid.reserve(total);
  {
    std::size_t k = 0, gi = 0;
    for (std::size_t i = 0; i < total; ++i) {
      const bool put_valid =
          k < n_valid &&
          (n_garbage == 0 || i >= static_cast<std::size_t>((static_cast<double>(k) + 0.5) *
                                                           static_cast<double>(total) /
                                                           static_cast<double>(n_valid)));
      is_valid.push_back(put_valid ? 1 : 0);
      if (put_valid)
        order.push_back(&valid[k++]);
      else
        order.push_back(&pool[gi++ % pool.size()]);
    }
  }
  const double gen_seconds = now_s() - gen_start;

  // ---- send ---------------------------------------------------------------------------------
  // --sockets K: each batch from the next of K sockets (K source ports, K flows: a receiver that
  // spreads packets by flow hash, KNOCK_WORKERS, sees more than one flow)
  std::vector<int> fds;
  for (unsigned long k = std::max(1ul, std::stoul(opt["--sockets"])); k > 0; --k) {
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return std::perror("load_sender: socket"), 1;
    fds.push_back(s);
  }
  std::size_t batches = 0;
  constexpr std::size_t batch = 64;
  std::vector<mmsghdr> msgs(batch);
  std::vector<iovec> iov(batch);
  std::size_t sent = 0, valid_sent = 0, errors = 0;
  const double start = now_s();
  timespec wall{};
  ::clock_gettime(CLOCK_REALTIME, &wall);
  const double wall_start =
      static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) * 1e-9;
  const double deadline = start + max_seconds;
  bool capped = false;
  while (sent < total) {
    double t = now_s();
    if (t >= deadline) {
      capped = true;
      break;
    }
    std::size_t due = total;
    if (rate > 0) {
      due = std::min(total, static_cast<std::size_t>((t - start) * rate) + 1);
      if (due <= sent) {
        sleep_until(start + static_cast<double>(sent) / rate);
        continue;
      }
    }
    const std::size_t n = std::min(batch, due - sent);
    for (std::size_t j = 0; j < n; ++j) {
      const std::string& p = *order[sent + j];
      iov[j].iov_base = const_cast<char*>(p.data());
      iov[j].iov_len = p.size();
      msgs[j] = {};
      msgs[j].msg_hdr.msg_name = &dest;
      msgs[j].msg_hdr.msg_namelen = sizeof dest;
      msgs[j].msg_hdr.msg_iov = &iov[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    const int fd = fds[batches++ % fds.size()];
    const int r = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (r <= 0) {  // ENOBUFS and the like: wait a little and send the same datagrams again
      if (++errors > 100000) break;
      ::usleep(50);
      continue;
    }
    for (int j = 0; j < r; ++j) valid_sent += is_valid[sent + static_cast<std::size_t>(j)] ? 1 : 0;
    sent += static_cast<std::size_t>(r);
  }
  const double seconds = now_s() - start;
  for (int s : fds) ::close(s);
  std::printf(
      "{\"sent\":%zu,\"valid_sent\":%zu,\"garbage_sent\":%zu,\"send_errors\":%zu,"
      "\"seconds\":%.6f,\"rate\":%.1f,\"capped\":%s,\"gen_seconds\":%.3f,\"t_start\":%.6f}\n",
      sent, valid_sent, sent - valid_sent, errors, seconds,
      seconds > 0 ? static_cast<double>(sent) / seconds : 0.0, capped ? "true" : "false",
      gen_seconds, wall_start);
  return 0;
}
