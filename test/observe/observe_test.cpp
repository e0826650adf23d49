// SPDX-License-Identifier: MIT
// knock::observe::log_lines: the line formats, and the refusal budget — refusals beyond it are
// counted per reason and summed up in one line; accepted packets are never suppressed. The clock is
// the test's own (milliseconds it sets), the lines go to an in-memory stream.
#include <knock/observe/log.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace {
using namespace knock;
using observe::log_lines;
using observe::refusal_budget;

std::int64_t fake_ms = 0;
std::int64_t fake_clock() noexcept { return fake_ms; }

refusal_budget budget(std::uint32_t per_second) {
  refusal_budget b;
  b.per_second = per_second;
  b.clock_ms = &fake_clock;
  return b;
}

// An in-memory FILE; lines() reads what was written so far.
class memory_log {
 public:
  memory_log() : file_{::open_memstream(&buffer_, &size_)} {}
  ~memory_log() {
    std::fclose(file_);
    std::free(buffer_);
  }
  memory_log(const memory_log&) = delete;
  memory_log& operator=(const memory_log&) = delete;
  std::FILE* file() const { return file_; }
  std::vector<std::string> lines() {
    std::fflush(file_);
    std::vector<std::string> out;
    std::istringstream in{std::string{buffer_, size_}};
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  char* buffer_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

ip_address addr(const char* text) { return *ip_address::parse(text); }

packet_event refused(const char* source, errc why) {
  return {addr(source), false, why, {}, nullptr, {}};
}

// An accepted packet and its grant (the event points to it).
struct accepted_event {
  grant g;
  explicit accepted_event(const char* source) {
    g.source = addr(source);
    g.ports.push_back({ip_protocol::tcp, 22});
    g.timeout = 30;
    g.stanza = 1;
  }
  packet_event event() const { return {g.source, true, errc::none_, std::size_t{1}, &g, {}}; }
};

std::size_t count_prefix(const std::vector<std::string>& lines, std::string_view prefix) {
  std::size_t n = 0;
  for (const auto& l : lines) n += l.starts_with(prefix) ? 1 : 0;
  return n;
}

class log_lines_budget : public ::testing::Test {
 protected:
  void SetUp() override { fake_ms = 1'000'000; }
  memory_log log;
};

TEST_F(log_lines_budget, refusals_beyond_the_budget_are_summed_up_when_the_next_second_starts) {
  log_lines lines{log.file(), log_lines::format::text, budget(5)};
  for (int i = 0; i < 100; ++i) {
    fake_ms += 5;  // 100 packets in 0.5 s
    lines.on_packet(refused("192.0.2.7", i % 3 == 0 ? errc::not_base64 : errc::bad_mac));
  }
  auto got = log.lines();
  ASSERT_EQ(got.size(), 5u) << "exactly the budget is written in the first second";
  for (const auto& l : got) EXPECT_TRUE(l.starts_with("packet from 192.0.2.7: refused: ")) << l;
  EXPECT_EQ(lines.suppressed_pending(), 95u);

  fake_ms += 600;  // the next second: its first refusal brings the summary, then is written
  lines.on_packet(refused("198.51.100.1", errc::packet_too_short));
  got = log.lines();
  ASSERT_EQ(got.size(), 7u);
  // 100 packets: i % 3 == 0 for 34 of them (not_base64), 66 bad_mac; the first 5 were written
  // (i = 0..4: not_base64 twice, bad_mac three times)
  EXPECT_EQ(got[5], "suppressed 95 refusal(s) in the last 1 s: bad_mac 63, not_base64 32");
  EXPECT_EQ(got[6], "packet from 198.51.100.1: refused: packet_too_short");
  EXPECT_EQ(lines.suppressed_pending(), 0u);
  EXPECT_EQ(lines.suppressed_total(), 95u);
}

TEST_F(log_lines_budget, each_second_gets_the_whole_budget_again) {
  log_lines lines{log.file(), log_lines::format::text, budget(3)};
  for (int second = 0; second < 4; ++second) {
    for (int i = 0; i < 10; ++i) lines.on_packet(refused("192.0.2.7", errc::bad_mac));
    fake_ms += 1000;
  }
  lines.flush();
  const auto got = log.lines();
  EXPECT_EQ(count_prefix(got, "packet from 192.0.2.7: refused: bad_mac"), 12u);
  EXPECT_EQ(count_prefix(got, "suppressed 7 refusal(s) in the last 1 s: bad_mac 7"), 4u);
  EXPECT_EQ(got.size(), 16u);
  EXPECT_EQ(lines.suppressed_total(), 28u);
}

TEST_F(log_lines_budget, accepted_packets_are_never_suppressed_and_come_after_the_summary) {
  log_lines lines{log.file(), log_lines::format::text, budget(0)};  // summaries only
  std::vector<accepted_event> ok;
  for (int i = 0; i < 20; ++i) ok.emplace_back(("10.0.0." + std::to_string(i + 1)).c_str());
  for (int i = 0; i < 20; ++i) {
    for (int j = 0; j < 50; ++j) lines.on_packet(refused("192.0.2.7", errc::bad_mac));
    lines.on_packet(ok[static_cast<std::size_t>(i)].event());
  }
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 40u);
  for (std::size_t i = 0; i < 20; ++i) {
    EXPECT_EQ(got[2 * i], "suppressed 50 refusal(s) in the last 1 s: bad_mac 50");
    EXPECT_EQ(got[2 * i + 1], "packet from 10.0.0." + std::to_string(i + 1) +
                                  ": accepted by stanza 1: open 10.0.0." + std::to_string(i + 1) +
                                  " tcp/22 for 30 s");
  }
  EXPECT_EQ(lines.suppressed_total(), 1000u);
}

TEST_F(log_lines_budget, an_accepted_packet_does_not_renew_the_budget) {
  log_lines lines{log.file(), log_lines::format::text, budget(2)};
  accepted_event ok{"10.0.0.5"};
  for (int i = 0; i < 3; ++i) lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  lines.on_packet(ok.event());
  for (int i = 0; i < 3; ++i) lines.on_packet(refused("192.0.2.8", errc::not_base64));
  lines.flush();
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[2], "suppressed 1 refusal(s) in the last 1 s: bad_mac 1");
  EXPECT_TRUE(got[3].starts_with("packet from 10.0.0.5: accepted")) << got[3];
  EXPECT_EQ(got[4], "suppressed 3 refusal(s) in the last 1 s: not_base64 3");
}

TEST_F(log_lines_budget, the_summary_lists_reasons_by_count_then_in_errc_order) {
  log_lines lines{log.file(), log_lines::format::text, budget(0)};
  const std::pair<errc, int> mix[] = {{errc::replayed, 2},
                                      {errc::bad_mac, 7},
                                      {errc::not_base64, 2},
                                      {errc::packet_too_long, 9},
                                      {errc::no_matching_stanza, 2}};
  for (auto [why, n] : mix)
    for (int i = 0; i < n; ++i) lines.on_packet(refused("192.0.2.7", why));
  fake_ms += 3200;
  lines.tick();
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0],
            "suppressed 22 refusal(s) in the last 3 s: packet_too_long 9, bad_mac 7, not_base64 2, "
            "no_matching_stanza 2, replayed 2");
}

TEST_F(log_lines_budget, tick_writes_the_summary_only_once_its_second_is_over) {
  log_lines lines{log.file(), log_lines::format::text, budget(1)};
  lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  fake_ms += 999;
  lines.tick();
  EXPECT_EQ(log.lines().size(), 1u);
  fake_ms += 1;
  lines.tick();
  lines.tick();
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1], "suppressed 1 refusal(s) in the last 1 s: bad_mac 1");
}

TEST_F(log_lines_budget, a_pending_summary_is_written_once_by_whoever_holds_it_at_the_end) {
  {
    log_lines first{log.file(), log_lines::format::text, budget(0)};
    first.on_packet(refused("192.0.2.7", errc::bad_mac));
    log_lines second{std::move(first)};
    log_lines third{log.file(), log_lines::format::text, budget(0)};
    third = std::move(second);
    EXPECT_EQ(log.lines().size(), 0u);
  }
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "suppressed 1 refusal(s) in the last 1 s: bad_mac 1");
}

TEST_F(log_lines_budget, a_clock_going_back_opens_a_new_window) {
  log_lines lines{log.file(), log_lines::format::text, budget(1)};
  lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  fake_ms -= 10;
  lines.on_packet(refused("192.0.2.9", errc::bad_mac));
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1], "suppressed 1 refusal(s) in the last 1 s: bad_mac 1");
  EXPECT_EQ(got[2], "packet from 192.0.2.9: refused: bad_mac");
}

TEST_F(log_lines_budget, unlimited_writes_every_refusal) {
  log_lines lines{log.file(), log_lines::format::text, budget(refusal_budget::unlimited)};
  for (int i = 0; i < 1000; ++i) lines.on_packet(refused("2001:db8::7", errc::bad_mac));
  const auto got = log.lines();
  EXPECT_EQ(got.size(), 1000u);
  EXPECT_EQ(got.back(), "packet from 2001:db8::7: refused: bad_mac");
  EXPECT_EQ(lines.suppressed_total(), 0u);
}

TEST_F(log_lines_budget, the_default_budget_is_twenty_a_second) {
  EXPECT_EQ(refusal_budget{}.per_second, 20u);
  log_lines lines{log.file()};  // the real monotonic clock: 1000 packets take far less than 1 s
  for (int i = 0; i < 1000; ++i) lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  const auto written = log.lines().size();
  EXPECT_GE(written, 20u);
  EXPECT_LE(written, 60u) << "1000 refusals took more than 2 s?";
}

TEST_F(log_lines_budget, json_lines_and_summaries_are_objects) {
  log_lines lines{log.file(), log_lines::format::json, budget(1)};
  accepted_event ok{"10.0.0.5"};
  lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  lines.on_packet(refused("192.0.2.8", errc::not_base64));
  lines.on_packet(refused("192.0.2.8", errc::bad_mac));
  lines.on_packet(ok.event());
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 3u);
  const auto first = nlohmann::json::parse(got[0]);
  EXPECT_EQ(first,
            nlohmann::json::parse(
                R"({"source":"192.0.2.7","accepted":false,"reason":"bad_mac","stanza":null})"));
  const auto summary = nlohmann::json::parse(got[1]);
  EXPECT_EQ(got[1], R"({"suppressed":3,"seconds":1,"reasons":{"bad_mac":2,"not_base64":1}})");
  EXPECT_EQ(summary.at("suppressed"), 3);
  const auto accepted = nlohmann::json::parse(got[2]);
  EXPECT_EQ(accepted.at("accepted"), true);
  EXPECT_EQ(accepted.at("source"), "10.0.0.5");
  EXPECT_EQ(accepted.at("timeout"), 30);
}

TEST(log_lines_format, refusal_decoded_by_a_stanza_and_command_lines) {
  memory_log log;
  log_lines lines{log.file(), log_lines::format::text, budget(refusal_budget::unlimited)};
  lines.on_packet({addr("192.0.2.7"), false, errc::stale_timestamp, std::size_t{2}, nullptr, {}});
  grant command;
  command.source = addr("10.0.0.9");
  lines.on_packet({addr("10.0.0.9"), true, errc::none_, std::size_t{3}, &command, {}});
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "packet from 192.0.2.7: refused: stale_timestamp (decoded by stanza 2)");
  EXPECT_EQ(got[1], "packet from 10.0.0.9: accepted by stanza 3: command");
}

TEST(log_lines_format, addresses_of_every_width) {
  memory_log log;
  log_lines lines{log.file(), log_lines::format::text, budget(refusal_budget::unlimited)};
  accepted_event a{"255.100.10.0"};
  a.g.source = addr("0.9.99.199");
  lines.on_packet(a.event());
  lines.on_packet(refused("2001:db8::7", errc::bad_mac));
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0],
            "packet from 0.9.99.199: accepted by stanza 1: open 0.9.99.199 tcp/22 for 30 s");
  EXPECT_EQ(got[1], "packet from 2001:db8::7: refused: bad_mac");
}

// What a pipe holds now (its read end is non-blocking).
std::string pipe_holds(int fd) {
  std::string got;
  char chunk[512];
  for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) got.append(chunk, std::size_t(n));
  return got;
}

TEST(log_lines_flushing, each_line_is_flushed_unless_the_owner_flushes_the_batch) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  std::FILE* out = ::fdopen(fds[1], "w");
  ASSERT_NE(out, nullptr);
  std::setvbuf(out, nullptr, _IOFBF, 4096);
  {
    log_lines lines{out, log_lines::format::text, budget(refusal_budget::unlimited)};
    lines.on_packet(refused("192.0.2.1", errc::bad_mac));
    EXPECT_EQ(pipe_holds(fds[0]), "packet from 192.0.2.1: refused: bad_mac\n") << "by default";
    lines.flush_each_line(false);
    lines.on_packet(refused("192.0.2.2", errc::bad_mac));
    lines.on_packet(refused("192.0.2.3", errc::not_base64));
    EXPECT_EQ(pipe_holds(fds[0]), "") << "held in the stream's buffer";
    std::fflush(out);  // the owner, at the end of its batch: one write
    EXPECT_EQ(
        pipe_holds(fds[0]),
        "packet from 192.0.2.2: refused: bad_mac\npacket from 192.0.2.3: refused: not_base64\n");
  }
  std::fclose(out);
  ::close(fds[0]);
}

// operator new, counted on this thread while `counting` is set (replaced below, with its delete:
// GCC cannot see that they match).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
thread_local bool counting = false;
thread_local std::size_t news = 0;

TEST(log_lines_alloc, on_packet_does_not_allocate) {
  std::FILE* null = std::fopen("/dev/null", "w");
  ASSERT_NE(null, nullptr);
  std::fputs("warm\n", null);  // stdio's buffer
  {
    log_lines lines{null, log_lines::format::text, budget(10)};
    accepted_event ok{"10.0.0.5"};
    counting = true;
    for (int i = 0; i < 10'000; ++i) {
      fake_ms += 1;
      lines.on_packet(i % 1000 == 0 ? ok.event() : refused("192.0.2.7", errc::bad_mac));
      if (i % 3000 == 0) lines.tick();
    }
    lines.flush();
    counting = false;
    EXPECT_GT(lines.suppressed_total(), 9000u);
  }
  std::fclose(null);
  EXPECT_EQ(news, 0u);
}

TEST(log_lines_format, a_failing_resource_is_quoted_after_the_reason) {
  memory_log log;
  log_lines text{log.file(), log_lines::format::text, budget(refusal_budget::unlimited)};
  text.on_packet({addr("192.0.2.7"),
                  false,
                  errc::replay_store_unavailable,
                  {},
                  nullptr,
                  "redis 192.0.2.1:6379: Connection refused"});
  text.on_packet({addr("10.0.0.5"), false, errc::firewall_failed, std::size_t{1}, nullptr,
                  "nftables: \"inet knock\": Operation not permitted"});
  memory_log json_log;
  log_lines json{json_log.file(), log_lines::format::json, budget(refusal_budget::unlimited)};
  json.on_packet({addr("10.0.0.5"), false, errc::firewall_failed, std::size_t{1}, nullptr,
                  "nftables: \"inet knock\": Operation not permitted"});
  json.on_packet(refused("192.0.2.7", errc::bad_mac));
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0],
            "packet from 192.0.2.7: refused: replay_store_unavailable (redis 192.0.2.1:6379: "
            "Connection refused)");
  EXPECT_EQ(got[1],
            "packet from 10.0.0.5: refused: firewall_failed (nftables: \"inet knock\": Operation "
            "not permitted) (decoded by stanza 1)");
  const auto lines = json_log.lines();
  ASSERT_EQ(lines.size(), 2u);
  const auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first.at("reason"), "firewall_failed");
  EXPECT_EQ(first.at("detail"), "nftables: \"inet knock\": Operation not permitted");
  EXPECT_FALSE(nlohmann::json::parse(lines[1]).contains("detail")) << "nothing to say: no field";
}

TEST(log_lines_reasons, a_store_that_cannot_tell_is_summed_up_as_its_own_reason) {
  memory_log log;
  log_lines lines{log.file(), log_lines::format::text, budget(0)};
  for (int i = 0; i < 3; ++i) lines.on_packet(refused("192.0.2.7", errc::replay_store_unavailable));
  lines.on_packet(refused("192.0.2.7", errc::bad_mac));
  lines.flush();
  const auto got = log.lines();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0],
            "suppressed 4 refusal(s) in the last 1 s: replay_store_unavailable 3, bad_mac 1");
}
static_assert(ticking_observer<log_lines>);
static_assert(!ticking_observer<observe::null>);
}  // namespace

void* operator new(std::size_t n) {
  if (counting) ++news;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc{};
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
