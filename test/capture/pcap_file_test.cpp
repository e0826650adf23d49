// SPDX-License-Identifier: MIT
// knock::capture::pcap on savefiles (no privilege needed): frames of every supported link type are
// written with libpcap's own dumper, then read back through the BPF filter and parse_frame.
#include <knock/capture/pcap.hpp>

#include <knock/config/fwknopd_conf.hpp>

#include "frames.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {
using namespace knock;
using namespace knock::test;
using capture::pcap;

/// A directory under $TMPDIR (or /tmp), removed with everything in it.
class temp_dir {
 public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string{base ? base : "/tmp"} + "/knock-capture-XXXXXX";
    path_ = ::mkdtemp(pattern.data()) ? pattern : "";
  }
  ~temp_dir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  std::string file(std::string_view name) const { return path_ + "/" + std::string{name}; }

 private:
  std::string path_;
};

struct record {
  frame bytes;
  std::size_t wire_length = 0;  // 0: the frame's size; larger: the snap length cut it
};

/// Writes `records` as a savefile of link type `dlt` at `path`.
void write_savefile(const std::string& path, int dlt, const std::vector<record>& records) {
  pcap_t* dead = pcap_open_dead(dlt, 65535);
  ASSERT_NE(dead, nullptr);
  pcap_dumper_t* out = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(out, nullptr) << pcap_geterr(dead);
  for (const record& r : records) {
    pcap_pkthdr h{};
    h.ts.tv_sec = 1700000005;
    h.caplen = static_cast<bpf_u_int32>(r.bytes.size());
    h.len = static_cast<bpf_u_int32>(r.wire_length ? r.wire_length : r.bytes.size());
    pcap_dump(reinterpret_cast<u_char*>(out), &h, r.bytes.data());
  }
  pcap_dump_close(out);
  pcap_close(dead);
}

struct seen {
  std::string payload;
  ip_address source, destination;
  std::uint16_t source_port = 0, destination_port = 0;
};

std::vector<seen> read_all(pcap& p) {
  std::vector<seen> out;
  const auto n = p.receive([&](const datagram& d) {
    out.push_back(
        {std::string{d.payload}, d.source, d.destination, d.source_port, d.destination_port});
  });
  EXPECT_TRUE(n);
  if (n) {
    EXPECT_EQ(*n, out.size());
  }
  return out;
}

const ip_address src4 = ip("198.51.100.7"), dst4 = ip("192.0.2.1");
const ip_address src6 = ip("2001:db8::7"), dst6 = ip("2001:db8::1");
frame udp4_to(std::uint16_t port, std::string_view payload) {
  return ipv4(src4, dst4, 17, segment(17, 40000, port, payload));
}
frame udp6_to(std::uint16_t port, std::string_view payload) {
  return ipv6(src6, dst6, 17, segment(17, 40001, port, payload));
}

// KNOCK_WORKERS: a savefile is read once, by one worker; the daemon falls back on that answer.
TEST(pcap_file, cannot_be_shared_by_workers) {
  temp_dir dir;
  const std::string path = dir.file("one.pcap");
  write_savefile(path, DLT_EN10MB, {{ethernet(udp4_to(62201, "only"), 0x0800)}});
  auto file = knock::capture::pcap::open_file(path);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_TRUE(file->fds().empty());
  EXPECT_EQ(file->shared_by(), knock::capture::share_mode::none);
}

TEST(pcap_file, ethernet_filter_fragments_and_truncation) {
  temp_dir dir;
  const std::string path = dir.file("ethernet.pcap");
  frame cut = ethernet(udp4_to(62201, std::string(300, 'T')), 0x0800);
  const std::size_t wire = cut.size();
  cut.resize(100);  // the snap length kept 100 bytes
  write_savefile(path, DLT_EN10MB,
                 {{ethernet(udp4_to(62201, "first"), 0x0800)},
                  {ethernet(udp4_to(53, "not ours"), 0x0800)},  // the filter drops it
                  {real::arp},                                  // and this
                  {real::frag4_first},                          // the filter keeps it: refused
                  {cut, wire},                                  // truncated: refused
                  {ethernet(udp6_to(62201, "second"), 0x86dd)}});
  auto p = pcap::open_file(path, "udp port 62201");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->fds().empty());  // nothing to poll: one receive reads the file
  const auto got = read_all(*p);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "first");
  EXPECT_EQ(got[0].source, src4);
  EXPECT_EQ(got[0].destination, dst4);
  EXPECT_EQ(got[0].source_port, 40000);
  EXPECT_EQ(got[0].destination_port, 62201);
  EXPECT_EQ(got[1].payload, "second");
  EXPECT_EQ(got[1].source, src6);
  const auto s = p->stats();
  EXPECT_EQ(s.received, 4u);
  EXPECT_EQ(s.delivered, 2u);
  EXPECT_EQ(s.fragments, 1u);
  EXPECT_EQ(s.malformed, 1u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(p->receive([](const datagram&) { FAIL(); }).value_or(99), 0u);  // at its end
}

TEST(pcap_file, every_link_type) {
  struct link_case {
    const char* name;
    int dlt;
    frame v4, v6;
  };
  const link_case cases[] = {
      {"ethernet", DLT_EN10MB, ethernet(udp4_to(62201, "a"), 0x0800),
       ethernet(udp6_to(62201, "b"), 0x86dd)},
      {"sll", DLT_LINUX_SLL, sll(udp4_to(62201, "a"), 0x0800), sll(udp6_to(62201, "b"), 0x86dd)},
      {"sll2", DLT_LINUX_SLL2, sll2(udp4_to(62201, "a"), 0x0800),
       sll2(udp6_to(62201, "b"), 0x86dd)},
      {"raw", DLT_RAW, udp4_to(62201, "a"), udp6_to(62201, "b")},
      {"null", DLT_NULL, null_link(udp4_to(62201, "a"), 2, true),
       null_link(udp6_to(62201, "b"), 30, true)},
      {"loop", DLT_LOOP, null_link(udp4_to(62201, "a"), 2, false),
       null_link(udp6_to(62201, "b"), 24, false)},
  };
  temp_dir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.file(std::string{c.name} + ".pcap");
    write_savefile(path, c.dlt, {{c.v4}, {c.v6}});
    auto p = pcap::open_file(path, "udp port 62201");
    ASSERT_TRUE(p) << p.error().message;
    const auto got = read_all(*p);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].payload, "a");
    EXPECT_EQ(got[0].source, src4);
    EXPECT_EQ(got[1].payload, "b");
    EXPECT_EQ(got[1].destination, dst6);
  }
  // Raw IPv4/IPv6 link types take one version each (no BPF filter: libpcap has none for them).
  for (auto [dlt, f] :
       {std::pair{DLT_IPV4, udp4_to(62201, "a")}, {DLT_IPV6, udp6_to(62201, "b")}}) {
    const std::string path = dir.file("raw" + std::to_string(dlt) + ".pcap");
    write_savefile(path, dlt, {{f}});
    auto p = pcap::open_file(path, "");
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(read_all(*p).size(), 1u);
  }
}

TEST(pcap_file, tcp_segments_with_a_port_filter) {
  temp_dir dir;
  const std::string path = dir.file("tcp.pcap");
  write_savefile(path, DLT_EN10MB, {{real::tcp_syn}, {real::tcp_data}, {real::tcp_fin}});
  auto p = pcap::open_file(path, "tcp port 62201");
  ASSERT_TRUE(p) << p.error().message;
  const auto got = read_all(*p);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "knock-tcp");
  EXPECT_EQ(p->stats().ignored, 2u);  // SYN and FIN carry no data
}

TEST(pcap_file, open_errors_say_why) {
  temp_dir dir;
  auto missing = pcap::open_file(dir.file("absent.pcap"), "udp");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), errc::capture_failed);
  EXPECT_EQ(missing.error().message.rfind("pcap: " + dir.file("absent.pcap") + ": ", 0), 0u)
      << missing.error().message;

  const std::string path = dir.file("ok.pcap");
  write_savefile(path, DLT_EN10MB, {{real::udp4}});
  auto bad_filter = pcap::open_file(path, "udp port banana");
  ASSERT_FALSE(bad_filter);
  EXPECT_EQ(bad_filter.error().message.rfind("pcap: " + path + ": filter 'udp port banana': ", 0),
            0u)
      << bad_filter.error().message;

  const std::string wifi = dir.file("wifi.pcap");
  write_savefile(wifi, DLT_IEEE802_11, {{real::udp4}});
  auto unsupported = pcap::open_file(wifi, "");
  ASSERT_FALSE(unsupported);
  EXPECT_NE(unsupported.error().message.find("not supported"), std::string::npos)
      << unsupported.error().message;
}

TEST(pcap_live, open_errors_say_why) {
  auto none = pcap::open(capture::pcap_options{});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), errc::capture_failed);
  EXPECT_EQ(none.error().message, "pcap: no interface to capture on");

  auto absent = pcap::open("knock-nosuch0", "udp port 62201");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error(), errc::capture_failed);
  EXPECT_EQ(absent.error().message.rfind("pcap: knock-nosuch0: ", 0), 0u) << absent.error().message;
}

knock::config::fwknopd_conf conf(std::string_view text) {
  auto c = knock::config::parse_fwknopd_conf(text, "f.conf");
  EXPECT_TRUE(c) << (c ? "" : knock::config::to_string(c.error()));
  return c ? *c : knock::config::fwknopd_conf{};
}

std::string make_error(std::string_view text) {
  const auto c = conf(text);
  const auto p = pcap::make({c});
  return p ? "" : p.error().message;
}

TEST(pcap_make, says_its_name_and_variables) {
  EXPECT_EQ(pcap::name, "pcap");
  EXPECT_EQ((std::vector<std::string_view>{std::begin(pcap::variables), std::end(pcap::variables)}),
            (std::vector<std::string_view>{"PCAP_INTF", "PCAP_FILTER", "ENABLE_PCAP_PROMISC",
                                           "ENABLE_PCAP_ANY_DIRECTION", "MAX_SNIFF_BYTES",
                                           "PCAP_DISPATCH_COUNT", "PCAP_LOOP_SLEEP", "PCAP_FILE",
                                           "KNOCK_CAPTURE_BUFFER"}));
}

// knock's own variable (fwknopd's ring is libpcap's 2 MiB default, not configurable): the ring per
// interface, in bytes or with a binary unit, 64 KiB..1 GiB; default 3 MiB.
TEST(pcap_make, reads_the_capture_buffer_size) {
  const auto ring = [](const std::string& text) {
    auto c = knock::config::parse_fwknopd_conf(text, "f.conf");
    EXPECT_TRUE(c);
    auto o = pcap::settings(*c);
    EXPECT_TRUE(o) << (o ? "" : knock::config::to_string(o.error()));
    return o ? o->buffer_bytes : -1;
  };
  EXPECT_EQ(ring(""), 3 << 20);
  EXPECT_EQ(ring("KNOCK_CAPTURE_BUFFER 512K\n"), 512 << 10);
  EXPECT_EQ(ring("KNOCK_CAPTURE_BUFFER 4MiB\n"), 4 << 20);
  EXPECT_EQ(ring("KNOCK_CAPTURE_BUFFER 1g\n"), 1 << 30);
  EXPECT_EQ(ring("KNOCK_CAPTURE_BUFFER 1048576\n"), 1 << 20);
  EXPECT_EQ(make_error("PCAP_INTF lo\nKNOCK_CAPTURE_BUFFER 2X\n"),
            "f.conf:2: KNOCK_CAPTURE_BUFFER: '2X' is not a size (bytes, or with a unit: 512K, 2M, "
            "1G)");
  EXPECT_EQ(make_error("KNOCK_CAPTURE_BUFFER 32K\n"),
            "f.conf:1: KNOCK_CAPTURE_BUFFER: '32K' is out of range (64 KiB to 1 GiB)");
  EXPECT_EQ(make_error("KNOCK_CAPTURE_BUFFER 2G\n"),
            "f.conf:1: KNOCK_CAPTURE_BUFFER: '2G' is out of range (64 KiB to 1 GiB)");
  EXPECT_EQ(make_error("KNOCK_CAPTURE_BUFFER 99999999999999999999999\n"),
            "f.conf:1: KNOCK_CAPTURE_BUFFER: '99999999999999999999999' is not a size (bytes, or "
            "with a unit: 512K, 2M, 1G)");
}

TEST(pcap_make, refuses_bad_values_at_their_line) {
  EXPECT_EQ(make_error("PCAP_INTF  , ;\n"), "f.conf:1: PCAP_INTF: no interface named");
  EXPECT_EQ(make_error("PCAP_INTF lo\nENABLE_PCAP_PROMISC x\n"),
            "f.conf:2: ENABLE_PCAP_PROMISC: 'x' is not Y or N");
  EXPECT_EQ(make_error("ENABLE_PCAP_ANY_DIRECTION 2\n"),
            "f.conf:1: ENABLE_PCAP_ANY_DIRECTION: '2' is not Y or N");
  EXPECT_EQ(make_error("MAX_SNIFF_BYTES 32769\n"),
            "f.conf:1: MAX_SNIFF_BYTES: '32769' is not a positive integer up to 32768");
  EXPECT_EQ(make_error("PCAP_DISPATCH_COUNT 0\n"),
            "f.conf:1: PCAP_DISPATCH_COUNT: '0' is not a positive integer up to 8388608");
  EXPECT_EQ(make_error("\n\nPCAP_LOOP_SLEEP 8388609\n"),
            "f.conf:3: PCAP_LOOP_SLEEP: '8388609' is not a positive integer up to 8388608");
}

TEST(pcap_make, opens_the_interfaces_of_the_comma_list) {
  // Every value valid: make gets as far as opening, and names the first interface it cannot.
  const std::string e = make_error(
      "PCAP_INTF knock-nosuch0, knock-nosuch1\nPCAP_FILTER udp port 1\nENABLE_PCAP_PROMISC Y\n"
      "ENABLE_PCAP_ANY_DIRECTION Y\nMAX_SNIFF_BYTES 1500\nPCAP_DISPATCH_COUNT 8388608\n"
      "PCAP_LOOP_SLEEP 1\n");
  EXPECT_EQ(e.rfind("pcap: knock-nosuch0: ", 0), 0u) << e;
  // Unset, PCAP_INTF is fwknopd's eth0.
  const std::string eth0 = make_error("");
  EXPECT_TRUE(eth0.empty() || eth0.rfind("pcap: eth0: ", 0) == 0) << eth0;
}

TEST(pcap_make, reads_settings_with_fwknopds_defaults) {
  const auto defaults = pcap::settings(conf(""));
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->interfaces, std::vector<std::string>{"eth0"});
  EXPECT_EQ(defaults->filter, "udp port 62201");
  EXPECT_FALSE(defaults->promiscuous);
  EXPECT_TRUE(defaults->inbound_only);
  EXPECT_EQ(defaults->snaplen, capture::pcap_options{}.snaplen);
  const auto set = pcap::settings(
      conf("PCAP_INTF eth1 ,lo,  any\nPCAP_FILTER udp dst port 5000\nENABLE_PCAP_PROMISC Y\n"
           "ENABLE_PCAP_ANY_DIRECTION Y\nMAX_SNIFF_BYTES 1500\n"));
  ASSERT_TRUE(set);
  EXPECT_EQ(set->interfaces, (std::vector<std::string>{"eth1", "lo", "any"}));
  EXPECT_EQ(set->filter, "udp dst port 5000");
  EXPECT_TRUE(set->promiscuous);
  EXPECT_FALSE(set->inbound_only);
  EXPECT_EQ(set->snaplen, 1500);
  const auto bad = pcap::check(conf("MAX_SNIFF_BYTES 0\n"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(knock::config::to_string(bad.error()),
            "f.conf:1: MAX_SNIFF_BYTES: '0' is not a positive integer up to 32768");
}

}  // namespace
