// SPDX-License-Identifier: MIT
// knock inside an appliance: an SPA server composed for a small box. The firewall is the box's own
// API (a callback policy: here a stand-in that prints what it is asked), capture is a UDP socket
// (no libpcap), the replay store a file_store on flash (one append and one sync per grant; the
// bytes it writes are counted), and memory is sized for a router: a small replay store, a small
// socket buffer. fwknop's access.conf as usual.
//
//   appliance_server ACCESS_CONF REPLAY_LOG [PORT] [--count N]
// (--count: stops after N datagrams, once the grants they opened have closed)
#include <knock/capture/udp_socket.hpp>
#include <knock/cipher/any_of.hpp>
#include <knock/config/access_conf.hpp>
#include <knock/mac/any_of.hpp>
#include <knock/replay/file_store.hpp>
#include <knock/server.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <poll.h>
#include <sys/stat.h>

// The appliance's firewall API, as a vendor SDK offers it. On a device these call the SDK.
struct vendor_firewall_api {
  static bool allow(const knock::ip_address& source, knock::port_spec p, unsigned seconds) {
    std::printf("api: allow %s %s for %u s\n", to_string(source).c_str(), to_string(p).c_str(),
                seconds);
    return true;
  }
  static void revoke(const knock::ip_address& source, knock::port_spec p) {
    std::printf("api: revoke %s %s\n", to_string(source).c_str(), to_string(p).c_str());
  }
};

// A Firewall policy (knock/firewall/concept.hpp) over any such API: grants are kept in a fixed
// table (no allocation per packet) and revoked when they expire.
template <class Api, std::size_t Capacity = 64>
class callback_firewall {
 public:
  using role = knock::role::firewall;

  knock::result<void> open(const knock::grant& g) {
    if (count_ == Capacity)
      return knock::fail(knock::error{knock::errc::firewall_failed, "appliance: grant table full"});
    for (const auto& p : g.ports)
      if (!Api::allow(g.source, p, g.timeout))
        return knock::fail(knock::error{knock::errc::firewall_failed, "appliance: API refused"});
    grants_[count_++] = g;
    return {};
  }
  knock::result<void> expire(knock::epoch_seconds now) {
    for (std::size_t i = 0; i < count_;) {
      if (grants_[i].expires > now) {
        ++i;
        continue;
      }
      for (const auto& p : grants_[i].ports) Api::revoke(grants_[i].source, p);
      grants_[i] = grants_[--count_];
    }
    return {};
  }
  std::size_t size() const noexcept { return count_; }  // grants open

 private:
  std::array<knock::grant, Capacity> grants_{};
  std::size_t count_ = 0;
};

using appliance_server =
    knock::server<knock::cipher::any_rijndael, knock::mac::any_hmac,
                  callback_firewall<vendor_firewall_api>, knock::replay::file_store>;

static long file_size(const char* path) {
  struct stat st {};
  return ::stat(path, &st) == 0 ? static_cast<long>(st.st_size) : 0;
}

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  long count = -1;  // datagrams to serve; -1: for ever
  if (args.size() >= 2 && args[args.size() - 2] == "--count")
    count = std::atol(args.back().c_str()), args.resize(args.size() - 2);
  if (args.size() < 2 || args.size() > 3)
    return std::fputs("usage: appliance_server ACCESS_CONF REPLAY_LOG [PORT] [--count N]\n",
                      stderr),
           2;
  const auto fail = [](const auto& e) {
    return std::fprintf(stderr, "%s\n", to_string(e).c_str()), 1;
  };

  auto stanzas = knock::config::load_access_conf(args[0]);
  if (!stanzas) return fail(stanzas.error());
  const knock::epoch_seconds start = knock::now_seconds();
  auto replay = knock::replay::file_store::open(args[1], start, 4096);  // 4,096 packets: ~0.5 MB
  if (!replay) return fail(replay.error());
  knock::capture::udp_socket_options o;
  o.port = static_cast<std::uint16_t>(args.size() == 3 ? std::atoi(args[2].c_str()) : 62201);
  o.receive_buffer = 256 << 10, o.batch = 8;
  auto socket = knock::capture::udp_socket::open(o);
  if (!socket) return fail(socket.error());
  appliance_server server{{*std::move(stanzas), knock::server_options{}}, *std::move(replay)};
  std::printf("listening on %s\n", socket->describe().c_str());
  std::fflush(stdout);

  const long log_at_start = file_size(args[1].c_str());
  long grants = 0;
  std::vector<pollfd> fds;
  for (int fd : socket->fds()) fds.push_back({fd, POLLIN, 0});
  while (count != 0 || server.firewall().size() > 0) {
    ::poll(fds.data(), fds.size(), 1000);
    const auto got = socket->receive([&](const knock::datagram& d) {
      const knock::verdict v = server.handle(d, knock::now_seconds());
      if (v.accepted)
        ++grants;
      else
        std::printf("refused %s: %s\n", to_string(d.source).c_str(),
                    std::string{to_string(v.reason)}.c_str());
      if (count > 0) --count;
    });
    if (!got) return fail(got.error());
    (void)server.firewall().expire(knock::now_seconds());
    std::fflush(stdout);
  }
  const long written = file_size(args[1].c_str()) - log_at_start;
  std::printf("replay log: %ld bytes appended for %ld grants (%ld per grant)\n", written, grants,
              grants > 0 ? written / grants : 0);
}
