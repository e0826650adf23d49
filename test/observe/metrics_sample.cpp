// SPDX-License-Identifier: MIT
// Prints the exposition of a known table (test/observe/check_exposition.py reads it with Debian's
// python3-prometheus-client, as Prometheus would): 1 accepted by stanza 2, 3 bad_mac, 2
// not_base64, 1 replay_store_full, decode times 2 µs and 40 µs, 7 replay entries, 5 kernel drops.
#include <knock/observe/metrics.hpp>

#include <cstdio>
#include <string>

int main() {
  using namespace knock;
  observe::with_metrics<> o{observe::null{}, 2};
  grant g;
  g.ports.push_back({ip_protocol::udp, 53});
  packet_event ok;
  ok.accepted = true;
  ok.stanza = 2;
  ok.granted = &g;
  o.on_packet(ok);
  const auto refuse = [&](errc why, int n) {
    packet_event e;
    e.reason = why;
    for (int i = 0; i < n; ++i) o.on_packet(e);
  };
  refuse(errc::bad_mac, 3);
  refuse(errc::not_base64, 2);
  refuse(errc::replay_store_full, 1);
  o.table().decode.record(2'000);
  o.table().decode.record(40'000);
  observe::metrics_context ctx;
  ctx.replay_entries = 7;
  capture_stats c;
  c.dropped = 5;
  ctx.capture = c;
  ctx.start_time = 1700000000;
  ctx.version = "0.1.0";
  std::string text;
  observe::write_metrics(text, o.table(), ctx);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}
