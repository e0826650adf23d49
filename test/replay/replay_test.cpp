// SPDX-License-Identifier: MIT
#include <knock/codec/base64.hpp>
#include <knock/replay/file_store.hpp>
#include <knock/replay/fwknop_digest_cache.hpp>
#include <knock/replay/memory_store.hpp>

#include "replay_support.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <unordered_set>

namespace {
using namespace knock;
using knock::test_replay::key;
using knock::test_replay::temp_dir;
namespace fs = std::filesystem;

// The laws every ReplayStore obeys, run on each model.
template <class Store>
struct replay_laws : ::testing::Test {
  temp_dir dir;
  Store make(std::size_t capacity) {
    if constexpr (std::is_same_v<Store, replay::memory_store>)
      return Store{capacity};
    else
      return *Store::open((dir.path / "replay.log").string(), 1000, capacity);
  }
};
using models = ::testing::Types<replay::memory_store, replay::file_store>;
TYPED_TEST_SUITE(replay_laws, models);

TYPED_TEST(replay_laws, remembers_until_expiry_and_not_after) {
  auto s = this->make(16);
  EXPECT_FALSE(s.contains(key(1), 1000));
  ASSERT_TRUE(s.remember(key(1), 1240, 1000));
  EXPECT_TRUE(s.contains(key(1), 1000));
  EXPECT_TRUE(s.contains(key(1), 1239));
  EXPECT_FALSE(s.contains(key(1), 1240));
  EXPECT_FALSE(s.contains(key(2), 1000));
  EXPECT_EQ(s.size(), 1u);
}

TYPED_TEST(replay_laws, remember_inserts_only_what_is_absent_and_says_which) {
  auto s = this->make(16);
  auto first = s.remember(key(1), 1240, 1000);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, sighting::first);
  auto again = s.remember(key(1), 5000, 1200);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, sighting::replay);
  EXPECT_FALSE(s.contains(key(1), 1240)) << "a replay changes nothing: the expiry stays";
  auto later = s.remember(key(1), 1500, 1240);
  ASSERT_TRUE(later);
  EXPECT_EQ(*later, sighting::first) << "expired: remembered afresh";
  EXPECT_TRUE(s.contains(key(1), 1499));
  EXPECT_EQ(s.size(), 1u);
}

TYPED_TEST(replay_laws, fails_closed_when_full_of_live_entries) {
  auto s = this->make(4);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(s.remember(key(i), 2000, 1000));
  auto r = s.remember(key(99), 2000, 1000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::replay_store_full);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(s.contains(key(i), 1999)) << "a live entry was forgotten";
  // Once the oldest have expired, room comes back.
  EXPECT_TRUE(s.remember(key(99), 3000, 2000));
  EXPECT_TRUE(s.contains(key(99), 2000));
}

TYPED_TEST(replay_laws, never_expiring_entries_stay) {
  auto s = this->make(4);
  ASSERT_TRUE(s.remember(key(7), never_expires, 1000));
  EXPECT_TRUE(s.contains(key(7), never_expires - 1));
}

TEST(memory_store, index_stays_exact_through_many_expiries) {
  // Churn far beyond capacity with overlapping lifetimes; compare with a reference set.
  replay::memory_store s{64};
  std::unordered_map<std::uint64_t, epoch_seconds> ref;
  epoch_seconds now = 0;
  for (std::uint64_t i = 0; i < 20000; ++i, ++now) {
    const bool ok = s.remember(key(i), now + 50, now).has_value();
    ASSERT_TRUE(ok) << i;  // at most 50 live at once, capacity 64
    ref[i] = now + 50;
    if (i % 97 == 0) {
      for (std::uint64_t j = i > 200 ? i - 200 : 0; j <= i; ++j)
        ASSERT_EQ(s.contains(key(j), now), ref[j] > now) << j << " at " << now;
    }
  }
  EXPECT_LE(s.size(), 51u);
}

// Issue #17: memory follows use. The ring starts at initial_slots keys and doubles up to the
// capacity; a full store costs at most 16 bytes a key (48 bits of fingerprint, a 32-bit expiry,
// an index at most three quarters full), so at most 32 bytes for the two keys of a packet, where
// fwknopd's digest cache takes a 40-byte list node and a digest string per packet.
TEST(memory_store, grows_with_use_and_takes_at_most_16_bytes_a_key) {
  replay::memory_store s{131072};
  EXPECT_LE(s.bytes(), replay::memory_store::initial_slots * 16);
  EXPECT_LE(s.bytes_at_capacity(), 131072u * 16);
  const std::size_t small = s.bytes();
  for (std::uint64_t i = 0; i < 131072; ++i) ASSERT_TRUE(s.remember(key(i), 5000, 1000)) << i;
  EXPECT_EQ(s.bytes(), s.bytes_at_capacity());
  EXPECT_GT(s.bytes(), 100 * small);
  auto full = s.remember(key(1u << 20), 5000, 1000);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), errc::replay_store_full);
  for (std::uint64_t i = 0; i < 131072; i += 97) ASSERT_TRUE(s.contains(key(i), 4999)) << i;
  EXPECT_FALSE(s.contains(key(1u << 20), 1000));
}

TEST(memory_store, growing_keeps_every_entry_and_its_expiry) {
  // The live set grows while the ring has wrapped (old entries expiring at its head), so every
  // growth copies a wrapped ring; compare with a reference at every step of the churn.
  replay::memory_store s{5000};
  std::unordered_map<std::uint64_t, epoch_seconds> ref;
  epoch_seconds now = 0;
  std::uint64_t n = 0;
  for (int second = 0; second < 110; ++second, ++now) {  // at most ~4,600 live
    for (int i = 0; i < second * 2; ++i, ++n) {          // more each second: the live set grows
      const epoch_seconds until = now + 20 + (n % 3 == 0 ? 0 : 1);
      const auto r = s.remember(key(n), until, now);
      ASSERT_TRUE(r) << n;
      ASSERT_EQ(*r, sighting::first) << n;
      ref[n] = until;
    }
    for (std::uint64_t j = n > 600 ? n - 600 : 0; j < n; j += 7)
      ASSERT_EQ(s.contains(key(j), now), ref[j] > now) << j << " at " << now;
    if (n != 0) {
      ASSERT_EQ(s.expiry_of(key(n - 1)), ref[n - 1]);
    }
  }
  EXPECT_GT(s.bytes(), replay::memory_store::initial_slots * 10) << "never grew";
}

TEST(memory_store, a_replay_is_found_by_its_fingerprint_and_other_keys_are_not) {
  replay::memory_store s;
  replay_key a = key(1), b = a;
  b.bytes[31] ^= 1;  // differs outside the fingerprint (its first 48 bits): the same fingerprint
  replay_key c = a;
  c.bytes[0] ^= 1;  // differs inside it
  ASSERT_TRUE(s.remember(a, 2000, 1000));
  EXPECT_EQ(*s.remember(a, 2000, 1000), sighting::replay);
  EXPECT_TRUE(s.contains(b, 1000))
      << "a fingerprint collision is refused as a replay (fails closed)";
  EXPECT_FALSE(s.contains(c, 1000));
  EXPECT_EQ(s.expiry_of(a), 2000);
  EXPECT_EQ(s.expiry_of(c), std::nullopt);
}

TEST(file_store, survives_a_restart) {
  temp_dir dir;
  const auto path = (dir.path / "replay.log").string();
  {
    auto s = replay::file_store::open(path, 1000);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->remember(key(1), 1240, 1000));
    ASSERT_TRUE(s->remember(key(2), 1100, 1000));
  }  // as after kill -9: each line was synced when remembered
  auto s = replay::file_store::open(path, 1150);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->contains(key(1), 1150));
  EXPECT_FALSE(s->contains(key(2), 1150));
  EXPECT_EQ(s->report().loaded, 1u);
  EXPECT_EQ(s->report().expired, 1u);
  EXPECT_TRUE(s->report().compacted);
  EXPECT_EQ(fs::file_size(path), 64u + 1 + 4 + 1 + 16 + 1) << "compaction keeps the live line only";
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST(file_store, tolerates_and_reports_a_torn_last_write_and_corrupt_lines) {
  temp_dir dir;
  const auto path = (dir.path / "replay.log").string();
  {
    auto s = replay::file_store::open(path, 1000);
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->remember(key(1), 5000, 1000));
    ASSERT_TRUE(s->remember(key(2), 5000, 1000));
    ASSERT_TRUE(s->remember(key(3), 5000, 1000));
  }
  std::string text;
  {
    std::ifstream in{path};
    text.assign(std::istreambuf_iterator<char>{in}, {});
  }
  text[100] ^= 1;                // flip a bit in line 2: checksum fails
  text.resize(text.size() - 7);  // cut line 3 mid-write
  std::ofstream{path, std::ios::trunc} << text;

  auto s = replay::file_store::open(path, 1000);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->contains(key(1), 1000));
  EXPECT_FALSE(s->contains(key(2), 1000));
  EXPECT_FALSE(s->contains(key(3), 1000));
  EXPECT_EQ(s->report().corrupt, 2u);
  EXPECT_EQ(s->report().loaded, 1u);
  ASSERT_TRUE(s->remember(key(4), 5000, 1000)) << "the store keeps working after the repair";
  auto again = replay::file_store::open(path, 1000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->report().corrupt, 0u);
  EXPECT_EQ(again->size(), 2u);
}

TEST(file_store, says_which_file_failed_and_why) {
  temp_dir dir;
  const auto missing = (dir.path / "no-such-dir" / "replay.log").string();
  auto s = replay::file_store::open(missing, 1000);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), errc::io_failed);
  EXPECT_EQ(s.error().message, missing + ": cannot open for appending: No such file or directory");
  auto d = replay::file_store::open(dir.path.string(), 1000, 8);  // a directory
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message, dir.path.string() + ": cannot read: Is a directory");

  const auto small = (dir.path / "small.log").string();
  {
    auto two = replay::file_store::open(small, 1000, 2);
    ASSERT_TRUE(two);
    ASSERT_TRUE(two->remember(key(1), 5000, 1000));
    ASSERT_TRUE(two->remember(key(2), 5000, 1000));
  }
  auto full = replay::file_store::open(small, 1000, 1);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), errc::replay_store_full);
  EXPECT_EQ(full.error().message, small + ": more live entries than the store holds (1)");
}

// Restores the file size limit (and SIGXFSZ) that a test lowers to make writes fail.
struct file_size_limit {
  rlimit old{};
  void (*handler)(int);
  file_size_limit() : handler{std::signal(SIGXFSZ, SIG_IGN)} { ::getrlimit(RLIMIT_FSIZE, &old); }
  ~file_size_limit() {
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, handler);
  }
};

// A write that fails half-way (disk full; here the file size limit) refuses the packet, says why,
// and cuts the partial line off: the lines written after it are not lost at the next start.
TEST(file_store, cuts_off_a_partial_write_and_keeps_working) {
  temp_dir dir;
  const auto path = (dir.path / "replay.log").string();
  auto s = replay::file_store::open(path, 1000);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->remember(key(1), 5000, 1000));
  const auto one_line = fs::file_size(path);

  file_size_limit guard;
  rlimit small = guard.old;
  small.rlim_cur = one_line + 40;  // room for 40 bytes of the next line
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto refused = s->remember(key(2), 5000, 1000);
  ::setrlimit(RLIMIT_FSIZE, &guard.old);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), errc::io_failed);
  EXPECT_EQ(refused.error().message, path + ": cannot append: File too large");
  EXPECT_EQ(fs::file_size(path), one_line) << "the partial line was cut off";

  const auto next = s->remember(key(3), 5000, 1000);
  ASSERT_TRUE(next) << next.error().message;
  auto again = replay::file_store::open(path, 1000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->report().corrupt, 0u);
  EXPECT_TRUE(again->contains(key(1), 1000));
  EXPECT_FALSE(again->contains(key(2), 1000)) << "refused, so never written";
  EXPECT_TRUE(again->contains(key(3), 1000));
}

// A batch (a daemon's ring block): the lines wait in memory, commit() is owed, end_batch()
// writes them at once and syncs; a failure there is reported (the batch's grants are refused).
TEST(file_store, a_batch_writes_its_lines_at_its_end_and_says_when_it_cannot) {
  temp_dir dir;
  const auto path = (dir.path / "replay.log").string();
  auto s = replay::file_store::open(path, 1000);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->remember(key(1), 5000, 1000));
  const auto one_line = fs::file_size(path);
  auto mark = s->begin_batch();
  ASSERT_TRUE(s->remember(key(2), 5000, 1000));
  ASSERT_TRUE(s->remember(key(3), 5000, 1000));
  EXPECT_TRUE(s->commit()) << "owed to the batch's end";
  EXPECT_EQ(fs::file_size(path), one_line) << "nothing written yet";
  EXPECT_EQ(*s->remember(key(2), 5000, 1000), sighting::replay) << "but remembered";
  ASSERT_TRUE(s->end_batch(mark));
  EXPECT_EQ(fs::file_size(path), 3 * one_line) << "both lines, at the batch's end";
  {
    auto again = replay::file_store::open(path, 1000);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->size(), 3u);
    EXPECT_EQ(again->report().corrupt, 0u);
  }

  mark = s->begin_batch();  // more lines than the buffer holds: written as it fills
  for (int i = 10; i < 110; ++i) ASSERT_TRUE(s->remember(key(i), 5000, 1000));
  EXPECT_GT(fs::file_size(path), 3 * one_line);
  EXPECT_LT(fs::file_size(path), 103 * one_line);
  ASSERT_TRUE(s->end_batch(mark));
  EXPECT_EQ(fs::file_size(path), 103 * one_line);

  file_size_limit guard;
  mark = s->begin_batch();
  ASSERT_TRUE(s->remember(key(200), 5000, 1000));
  ASSERT_TRUE(s->remember(key(201), 5000, 1000));
  EXPECT_TRUE(s->commit());
  rlimit small = guard.old;
  small.rlim_cur = 103 * one_line + 40;  // room for 40 bytes of the batch
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto failed = s->end_batch(mark);
  ::setrlimit(RLIMIT_FSIZE, &guard.old);
  ASSERT_FALSE(failed) << "the batch's lines are not on disk: its grants must be refused";
  EXPECT_EQ(failed.error(), errc::io_failed);
  EXPECT_EQ(failed.error().message, path + ": cannot append: File too large");
  EXPECT_EQ(fs::file_size(path), 103 * one_line) << "the partial write was cut off";
  ASSERT_TRUE(s->remember(key(202), 5000, 1000)) << "out of the batch: written at once";
  EXPECT_EQ(fs::file_size(path), 104 * one_line);
  EXPECT_EQ(s->batch_failures(), 1u);

  // Two batches open at once (two workers): the first to end writes both's lines; when that
  // fails, the other's end finds nothing left to write, and fails by its mark: the count moved.
  const auto first = s->begin_batch();
  const auto second_mark = s->begin_batch();
  ASSERT_TRUE(s->remember(key(300), 5000, 1000));  // the first worker's
  ASSERT_TRUE(s->remember(key(301), 5000, 1000));  // the second's
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const auto second = s->end_batch(second_mark);
  ::setrlimit(RLIMIT_FSIZE, &guard.old);
  EXPECT_FALSE(second);
  const auto first_end = s->end_batch(first);
  ASSERT_FALSE(first_end) << "its lines went with the other's failed write";
  EXPECT_EQ(first_end.error().message,
            path + ": a write or sync failed during this batch (another batch's end): " +
                std::strerror(EIO));
  EXPECT_EQ(s->batch_failures(), 2u);
  EXPECT_EQ(fs::file_size(path), 104 * one_line);
  mark = s->begin_batch();  // the disk is back: the next batch is fine
  ASSERT_TRUE(s->remember(key(302), 5000, 1000));
  EXPECT_TRUE(s->end_batch(mark));
}

TEST(file_store, compacts_a_log_that_grew_past_twice_its_live_entries) {
  temp_dir dir;
  const auto path = (dir.path / "replay.log").string();
  auto s = replay::file_store::open(path, 0, 8);
  ASSERT_TRUE(s);
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(s->remember(key(i), i + 5, i));
  EXPECT_LT(fs::file_size(path), 79u * (2 * 8 + 1024 + 1)) << "the log was never compacted";
  auto reopened = replay::file_store::open(path, 2999);
  ASSERT_TRUE(reopened);
  EXPECT_TRUE(reopened->contains(key(2999), 2999));
  EXPECT_FALSE(reopened->contains(key(2000), 2999));
}

TEST(file_store, imports_fwknops_digest_cache) {
  temp_dir dir;
  const auto cache = (dir.path / "digest.cache").string();
  std::ofstream{cache}
      << "# <digest> <proto> <src_ip> <src_port> <dst_ip> <dst_port> <time>\n"
         "7ORNz0xkRFMqG6dUKMotFzBvabK7+I2Zg+LPPJON8OI 17 127.0.0.1 44494 0.0.0.0 62201 1700000005\n"
         "i8h8pZbssdItNUKgfufQAf+q/l7SpfPF7d202g6adEQ 17 127.0.0.1 59770 0.0.0.0 62201 1600000000\n"
         "not a digest line\n";
  auto s = replay::file_store::open((dir.path / "replay.log").string(), 1700000010);
  ASSERT_TRUE(s);
  auto added = replay::import_fwknop_digest_cache(*s, cache, 240, 1700000010);
  ASSERT_TRUE(added);
  EXPECT_EQ(*added, 1u) << "the 1600000000 entry can no longer be replayed";
  replay_key k;
  ASSERT_TRUE(codec::base64::decode("7ORNz0xkRFMqG6dUKMotFzBvabK7+I2Zg+LPPJON8OI", k.bytes.data()));
  EXPECT_TRUE(s->contains(k, 1700000010));
  EXPECT_FALSE(s->contains(k, 1700000245));

  auto forever = replay::file_store::open((dir.path / "forever.log").string(), 1700000010);
  ASSERT_TRUE(forever);
  EXPECT_EQ(*replay::import_fwknop_digest_cache(*forever, cache, never_expires, 1700000010), 2u);
  replay::memory_store memory;
  EXPECT_EQ(*replay::import_fwknop_digest_cache(memory, cache, never_expires, 1700000010), 2u)
      << "any ReplayStore takes the import";
  const auto missing = (dir.path / "missing").string();
  const auto failed = replay::import_fwknop_digest_cache(memory, missing, 240, 0);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), errc::io_failed);
  EXPECT_EQ(failed.error().message, missing + ": cannot read: No such file or directory");
}
}  // namespace
