// SPDX-License-Identifier: MIT
// The replay log's line (knock/replay/log_line.hpp), read and written through file_store: its
// checksum pinned (logs outlive versions), any changed character refused, and the lines of earlier
// versions (FNV-1a) still read and rewritten by compaction.
#include "replay_support.hpp"

#include <knock/replay/file_store.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {
using namespace knock;
using knock::test_replay::key;
using knock::test_replay::temp_dir;

// The log's line: key, expiry, 16 hex digits of the checksum (pinned: logs outlive versions).
// Any one character of the text changed (another hex digit, another decimal digit) fails it.
TEST(file_store, a_line_is_checksummed_and_any_changed_character_fails_it) {
  temp_dir dir;
  const auto path = (dir.path / "replay.log").string();
  ASSERT_TRUE(replay::file_store::open(path, 1000)->remember(key(1), 5000, 1000));
  std::string line;
  std::getline(std::ifstream{path}, line);
  ASSERT_EQ(line.size(), 64u + 1 + 4 + 1 + 16);
  EXPECT_EQ(line.substr(65), "5000 0c58fbfca72e93d0");
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == ' ') continue;
    std::string changed = line;
    changed[i] = changed[i] == '0' ? '1' : '0';
    std::ofstream{path, std::ios::trunc} << changed << '\n';
    auto s = replay::file_store::open(path, 1000);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->report().corrupt, 1u) << "character " << i << " changed: " << changed;
    EXPECT_EQ(s->size(), 0u);
  }
}

// Logs written by earlier versions end each line with 8 hex digits of FNV-1a (32-bit): still
// read, a bad one still refused, and rewritten in the new form by the next compaction.
TEST(file_store, reads_the_lines_of_earlier_versions) {
  temp_dir dir;
  const auto path = (dir.path / "replay.log").string();
  const auto old_line = [](const replay_key& k, epoch_seconds expires) {
    std::string text;
    for (byte b : k.bytes) text += "0123456789abcdef"[b >> 4], text += "0123456789abcdef"[b & 15];
    text += ' ' + std::to_string(expires);
    std::uint32_t h = 2166136261u;
    for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    char sum[9];
    std::snprintf(sum, sizeof sum, "%08x", h);
    return text + ' ' + sum + '\n';
  };
  std::string bad = old_line(key(3), 5000);
  bad[70] = bad[70] == '0' ? '1' : '0';  // a digit of the expiry
  std::ofstream{path} << old_line(key(1), 5000) << old_line(key(2), 900) << bad;
  {
    auto s = replay::file_store::open(path, 1000);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->contains(key(1), 1000));
    EXPECT_FALSE(s->contains(key(3), 1000));
    EXPECT_EQ(s->report().loaded, 1u);
    EXPECT_EQ(s->report().expired, 1u);
    EXPECT_EQ(s->report().corrupt, 1u);
    EXPECT_TRUE(s->report().compacted);
  }
  std::string line;
  std::getline(std::ifstream{path}, line);
  EXPECT_EQ(line.size(), 64u + 1 + 4 + 1 + 16) << "compaction wrote it in the new form: " << line;
  auto again = replay::file_store::open(path, 1000);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->contains(key(1), 1000));
  EXPECT_EQ(again->report().corrupt, 0u);
  EXPECT_FALSE(again->report().compacted);
}

}  // namespace

namespace {
// A writer's kept expiry digits (file_store's, one set per store) give the line a fresh format
// gives, whatever expiries follow one another: the same, a longer one, a shorter one, 0, the
// largest, a negative one (a clock before 1970), and back.
TEST(log_line, kept_expiry_digits_give_the_same_lines) {
  using knock::replay::log_line;
  log_line::expiry_digits kept;
  for (const knock::epoch_seconds e :
       {knock::epoch_seconds{1796649178}, knock::epoch_seconds{1796649178},
        knock::epoch_seconds{1796649179}, knock::epoch_seconds{5000}, knock::epoch_seconds{0},
        knock::never_expires, knock::epoch_seconds{-7}, knock::epoch_seconds{0},
        knock::epoch_seconds{1796649178}}) {
    const auto fresh = log_line::format(knock::test_replay::key(9), e);
    const auto reused = log_line::format(knock::test_replay::key(9), e, kept);
    EXPECT_EQ(std::string(reused.data(), reused.size), std::string(fresh.data(), fresh.size)) << e;
    EXPECT_NE(std::string(fresh.data(), fresh.size).find(' ' + std::to_string(e) + ' '),
              std::string::npos)
        << e;
  }
}
}  // namespace
