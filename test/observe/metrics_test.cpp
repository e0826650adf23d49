// SPDX-License-Identifier: MIT
// knock::observe::metrics / with_metrics / write_metrics: the counts an Observer keeps per verdict,
// reason and stanza, the latency histogram, and the text exposition format (Prometheus 0.0.4):
// every sample line is `name{label="value",...} number`, every family has HELP and TYPE before its
// samples, label values are escaped, histogram buckets are cumulative and end at +Inf = _count.
// metrics_sample.cpp prints a known table for Debian's python3-prometheus-client parser
// (check_exposition.py), which reads the text as Prometheus itself would.
#include <knock/observe/metrics.hpp>

#include <knock/observe/log.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {
using namespace knock;
using observe::metrics;
using observe::with_metrics;

packet_event refusal(errc why) {
  packet_event e;
  e.source = *ip_address::parse("192.0.2.7");
  e.reason = why;
  return e;
}

TEST(metrics_table, counts_verdicts_reasons_stanzas_and_grants) {
  with_metrics<> o{observe::null{}, 2};
  grant g;
  g.ports.push_back({ip_protocol::tcp, 22});
  packet_event ok;
  ok.accepted = true;
  ok.stanza = 2;
  ok.granted = &g;
  o.on_packet(ok);
  o.on_packet(ok);
  packet_event command = ok;  // a command message opens nothing
  grant none;
  command.granted = &none;
  command.stanza = 1;
  o.on_packet(command);
  packet_event later = ok;  // a stanza past the table (not sized after a reload)
  later.stanza = 3;
  o.on_packet(later);
  for (int i = 0; i < 5; ++i) o.on_packet(refusal(errc::bad_mac));
  o.on_packet(refusal(errc::replay_store_unavailable));
  o.on_packet(refusal(errc::not_base64));

  const metrics& m = o.table();
  EXPECT_EQ(m.accepted, 4u);
  EXPECT_EQ(m.grants, 3u);
  EXPECT_EQ(m.by_stanza, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(m.other_stanza, 1u);
  EXPECT_EQ(m.refused[static_cast<std::uint8_t>(errc::bad_mac)], 5u);
  EXPECT_EQ(m.refused_total(), 7u);
  EXPECT_EQ(m.replay_errors_total(), 1u);

  o.table().stanzas(3);  // a reload with one stanza more keeps the counts
  EXPECT_EQ(o.table().by_stanza, (std::vector<std::uint64_t>{1, 2, 0}));
}

TEST(metrics_table, forwards_events_and_ticks_to_the_inner_observer) {
  char* buffer = nullptr;
  std::size_t size = 0;
  std::FILE* f = ::open_memstream(&buffer, &size);
  {
    observe::refusal_budget b;
    b.per_second = 0;  // every refusal suppressed: only the summary is written
    with_metrics<observe::log_lines> o{observe::log_lines{f, observe::log_lines::format::text, b}};
    static_assert(ticking_observer<with_metrics<observe::log_lines>>);
    static_assert(!ticking_observer<with_metrics<observe::null>>);
    o.on_packet(refusal(errc::bad_mac));
    EXPECT_EQ(o.inner().suppressed_pending(), 1u);
    EXPECT_EQ(o.table().refused_total(), 1u);
    o.inner().flush();
  }
  std::fclose(f);
  EXPECT_NE(std::string(buffer, size).find("suppressed 1 refusal(s)"), std::string::npos);
  std::free(buffer);
}

TEST(latency_histogram, buckets_are_inclusive_upper_bounds) {
  observe::latency_histogram h;
  h.record(0);
  h.record(1'000);          // le 1 µs
  h.record(1'001);          // le 2.5 µs
  h.record(7'000'000);      // le 10 ms
  h.record(5'000'000'000);  // +Inf
  EXPECT_EQ(h.counts[0], 2u);
  EXPECT_EQ(h.counts[1], 1u);
  EXPECT_EQ(h.counts[9], 1u);
  EXPECT_EQ(h.counts.back(), 1u);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sum_ns, 5'007'002'001u);
}

// The exposition's grammar, as the text format defines it.
struct parsed {
  std::map<std::string, std::string> type;  // family -> type
  std::set<std::string> help;
  std::vector<std::pair<std::string, std::string>> samples;  // "name{labels}", value
};

parsed parse(const std::string& text) {
  static const std::regex help{R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+)"};
  static const std::regex type{
      R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))"};
  static const std::regex sample{
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})?) ([-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf)|NaN))"};
  parsed p;
  std::istringstream in{text};
  std::string current;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      EXPECT_TRUE(p.help.insert(m[1]).second) << "HELP twice: " << line;
      current = m[1];
    } else if (std::regex_match(line, m, type)) {
      EXPECT_EQ(m[1], current) << "TYPE without its HELP just before: " << line;
      EXPECT_TRUE(p.type.emplace(m[1], m[2]).second) << "TYPE twice: " << line;
    } else if (std::regex_match(line, m, sample)) {
      const std::string name = m[1].str().substr(0, m[1].str().find('{'));
      EXPECT_TRUE(name.starts_with(current)) << "a sample outside its family: " << line;
      p.samples.emplace_back(m[1], m[5]);
    } else {
      ADD_FAILURE() << "not a line of the text format: '" << line << "'";
    }
  }
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  return p;
}

std::string value_of(const parsed& p, const std::string& key) {
  for (const auto& [k, v] : p.samples)
    if (k == key) return v;
  return "(missing)";
}

TEST(write_metrics, follows_the_text_format_and_says_every_count) {
  with_metrics<> o{observe::null{}, 2};
  packet_event ok;
  ok.accepted = true;
  ok.stanza = 1;
  grant g;
  g.ports.push_back({ip_protocol::tcp, 22});
  ok.granted = &g;
  o.on_packet(ok);
  for (int i = 0; i < 3; ++i) o.on_packet(refusal(errc::bad_mac));
  o.table().decode.record(1'500);
  o.table().decode.record(30'000);
  o.table().decode.record(900'000'000);
  observe::metrics_context ctx;
  ctx.replay_entries = 42;
  capture_stats c;
  c.received = 10;
  c.dropped = 2;
  c.ifdropped = 1;
  ctx.capture = c;
  ctx.start_time = 1700000000.5;
  ctx.version = "0.1.0 \"x\"\\y\nz";  // escaped as a label value
  std::string text;
  observe::write_metrics(text, o.table(), ctx);
  const parsed p = parse(text);

  EXPECT_EQ(p.type.at("knock_packets_total"), "counter");
  EXPECT_EQ(p.type.at("knock_decode_seconds"), "histogram");
  EXPECT_EQ(p.type.at("knock_replay_entries"), "gauge");
  EXPECT_EQ(value_of(p, R"(knock_packets_total{verdict="accepted",reason="none"})"), "1");
  EXPECT_EQ(value_of(p, R"(knock_packets_total{verdict="refused",reason="bad_mac"})"), "3");
  EXPECT_EQ(value_of(p, R"(knock_packets_total{verdict="refused",reason="replayed"})"), "0");
  EXPECT_EQ(value_of(p, R"(knock_grants_total)"), "1");
  EXPECT_EQ(value_of(p, R"(knock_stanza_accepted_total{stanza="1"})"), "1");
  EXPECT_EQ(value_of(p, R"(knock_stanza_accepted_total{stanza="2"})"), "0");
  EXPECT_EQ(value_of(p, R"(knock_replay_entries)"), "42");
  EXPECT_EQ(value_of(p, R"(knock_replay_errors_total)"), "0");
  EXPECT_EQ(value_of(p, R"(knock_capture_dropped_total{where="kernel"})"), "2");
  EXPECT_EQ(value_of(p, R"(knock_capture_dropped_total{where="interface"})"), "1");
  EXPECT_EQ(value_of(p, R"(knock_build_info{version="0.1.0 \"x\"\\y\nz"})"), "1");
  EXPECT_EQ(value_of(p, R"(process_start_time_seconds)"), "1700000000.5");
  // Cumulative buckets: 1.5 µs is le 2.5e-06, 30 µs le 5e-05, 0.9 s only +Inf.
  EXPECT_EQ(value_of(p, R"(knock_decode_seconds_bucket{le="1e-06"})"), "0");
  EXPECT_EQ(value_of(p, R"(knock_decode_seconds_bucket{le="2.5e-06"})"), "1");
  EXPECT_EQ(value_of(p, R"(knock_decode_seconds_bucket{le="5e-05"})"), "2");
  EXPECT_EQ(value_of(p, R"(knock_decode_seconds_bucket{le="0.1"})"), "2");
  EXPECT_EQ(value_of(p, R"(knock_decode_seconds_bucket{le="+Inf"})"), "3");
  EXPECT_EQ(value_of(p, R"(knock_decode_seconds_count)"), "3");
  EXPECT_EQ(std::stod(value_of(p, R"(knock_decode_seconds_sum)")), 0.9000315);
  // Every refusal reason is there, zero or not; none twice.
  std::set<std::string> keys;
  for (const auto& [k, v] : p.samples) EXPECT_TRUE(keys.insert(k).second) << k;
  std::size_t reasons = 0;
  for (const auto& [k, v] : p.samples)
    reasons += k.starts_with("knock_packets_total{verdict=\"refused\"");
  EXPECT_GE(reasons, 40u);
}

TEST(write_metrics, leaves_out_what_the_program_did_not_say) {
  std::string text;
  observe::write_metrics(text, metrics{});
  const parsed p = parse(text);
  EXPECT_FALSE(p.type.contains("knock_replay_entries"));
  EXPECT_FALSE(p.type.contains("knock_capture_dropped_total"));
  EXPECT_FALSE(p.type.contains("knock_grants_open"));
  EXPECT_FALSE(p.type.contains("knock_build_info"));
  EXPECT_TRUE(p.type.contains("knock_packets_total"));
}

}  // namespace
