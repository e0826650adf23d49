// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::file_store`: a `memory_store` that survives restarts and `kill -9`.
///
/// The file is an append-only log, one line per remembered packet: the key in hex, its expiry and
/// a checksum of the two (knock/replay/log_line.hpp, which also reads the lines of earlier
/// versions).
///
/// Durability: each line is written with one `write` when `remember` returns, so it survives the
/// daemon being killed (the kernel has it); `commit()` `fdatasync`s what was written since the last
/// commit, and the server calls it once per accepted packet before opening the firewall, so an
/// accepted packet is on disk before its grant exists, also across a power loss — one sync per
/// grant, not one per key (two keys a packet), and none for refusals (the daemon commits those on
/// its 1 s timer). In a batch (`begin_batch` .. `end_batch`, a daemon's ring block of packets)
/// the lines wait in a buffer and `commit` only notes that a sync is owed; `end_batch` writes them
/// with one `write` and syncs once if any commit was asked for: three system calls a packet become
/// two a batch. The batch's owner must let none of its grants through before `end_batch` has
/// succeeded (knock-server stages them in the firewall writer until then, and refuses them if it
/// fails). A torn last line (a crash
/// mid-write) or a line whose checksum fails is skipped and reported, never fatal. A write that
/// fails (disk full, read-only remount, I/O error) is cut back off the log, so the next line
/// starts on a line of its own; the error returned names the file, what failed and why
/// (`strerror`): "replay.log: cannot append: No space left on device". On `open` and
/// whenever the log holds more than twice the live entries (plus slack), it is compacted: the
/// lines of live entries are copied to a temporary file (the memory store keeps fingerprints, so
/// the keys come from the log itself), synced and renamed over the log. fwknop's
/// `digest.cache` can be imported (knock/replay/fwknop_digest_cache.hpp).

#include <knock/core/error.hpp>
#include <knock/replay/log_line.hpp>
#include <knock/replay/memory_store.hpp>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace knock::replay {

/// What `file_store::open` found in the log.
struct load_report {
  std::size_t loaded = 0;   ///< live entries read back
  std::size_t expired = 0;  ///< entries dropped because they had expired
  std::size_t corrupt = 0;  ///< lines skipped: bad form or checksum (a torn last write counts here)
  bool compacted = false;   ///< the log was rewritten with the live entries only
};

/// Persistent replay store. Models knock::durable_replay_store.
class file_store {
 public:
  using role = knock::role::replay;

  /// Opens (or creates, mode 0600) the log at `path` and loads the entries still live at `now`.
  /// `errc::io_failed` when the log cannot be read, rewritten or opened for appending, with a
  /// message naming the file, what failed and why: "replay.log: cannot open for appending:
  /// Read-only file system"; `errc::replay_store_full` when it holds more live entries than
  /// `capacity`.
  static result<file_store> open(std::string path, epoch_seconds now,
                                 std::size_t capacity = memory_store::default_capacity) {
    file_store s{std::move(path), capacity};
    const auto failed = [](result<void> r) -> result<file_store> { return fail(r.error()); };
    // A log that is there but cannot be read is an error: starting empty would forget every
    // packet it holds, and they could be replayed.
    if (const int fd = ::open(s.path_.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
      struct stat st {};
      const bool directory = ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
      ::close(fd);
      if (directory) return failed(s.io_error("cannot read", EISDIR));
    } else if (errno != ENOENT) {
      return failed(s.io_error("cannot read", errno));
    }
    std::ifstream in{s.path_};
    for (std::string line; std::getline(in, line);) {
      replay_key key;
      epoch_seconds expires = 0;
      ++s.lines_;
      if (!log_line::parse(line, in.eof() && !line.empty(), key, expires)) {
        ++s.report_.corrupt;
      } else if (expires <= now) {
        ++s.report_.expired;
      } else if (!s.memory_.remember(key, expires, now)) {
        return fail(
            error{errc::replay_store_full, s.path_ + ": more live entries than the store holds (" +
                                               std::to_string(capacity) + ")"});
      }
    }
    if (in.bad()) return failed(s.io_error("cannot read", EIO));
    s.report_.loaded = s.memory_.size();
    if (s.lines_ != s.report_.loaded) {
      if (auto ok = s.compact(); !ok) return failed(std::move(ok));
      s.report_.compacted = true;
    }
    if (auto ok = s.open_for_append(); !ok) return failed(std::move(ok));
    return s;
  }

  file_store(file_store&& o) noexcept
      : path_{std::move(o.path_)},
        memory_{std::move(o.memory_)},
        fd_{std::exchange(o.fd_, -1)},
        lines_{o.lines_},
        good_size_{o.good_size_},
        report_{o.report_},
        batch_depth_{o.batch_depth_},
        owed_{o.owed_},
        pending_size_{std::exchange(o.pending_size_, 0)},
        pending_lines_{std::exchange(o.pending_lines_, 0)},
        pending_{o.pending_},
        batch_failures_{o.batch_failures_} {}
  file_store& operator=(file_store&&) = delete;
  ~file_store() {
    (void)write_pending();  // a batch cut short: its lines still go to the log
    if (fd_ >= 0) ::close(fd_);
  }

  /// True when `key` is held and live at `now` (records nothing).
  bool contains(const replay_key& key, epoch_seconds now) const noexcept {
    return memory_.contains(key, now);
  }
  /// `memory_store::prefetch`.
  void prefetch(const replay_key& key) const noexcept { memory_.prefetch(key); }

  /// Remembers `key` in memory and, when it is new, on disk (written; synced by `commit`).
  /// `errc::io_failed` if the disk write failed, with the file and `strerror` in the message — the
  /// packet is then refused, though it stays remembered in memory, and whatever part of the line
  /// reached the file is cut off again.
  result<sighting> remember(const replay_key& key, epoch_seconds expires,
                            epoch_seconds now) noexcept {
    auto seen = memory_.remember(key, expires, now);
    if (!seen || *seen == sighting::replay) return seen;
    if (auto ok = append(key, expires); !ok) return fail(ok.error());
    return sighting::first;
  }

  /// Syncs (`fdatasync`) the lines written since the last commit; nothing to do when none were.
  /// In a batch, only notes that `end_batch` must sync.
  result<void> commit() noexcept {
    if (batch_depth_ != 0) return owed_ = true, result<void>{};
    if (!unsynced_) return {};
    if (fd_ < 0 || ::fdatasync(fd_) != 0) return io_error("cannot sync", fd_ < 0 ? EBADF : errno);
    unsynced_ = false;
    return {};
  }

  /// Where a batch began: the failures counted then (see `batch_failures`).
  struct batch_mark {
    std::uint64_t failures = 0;
  };
  /// Starts a batch: lines wait in a buffer, commits are owed to `end_batch`. Batches nest (one
  /// per worker thread, under the caller's lock): each end writes and syncs what is owed so far.
  batch_mark begin_batch() noexcept {
    ++batch_depth_;
    return {batch_failures_};
  }
  /// Ends the batch begun at `mark`: writes the waiting lines (one `write`), then syncs if a
  /// commit was asked for since the last sync; `errc::io_failed` (the file, what failed, why) when
  /// either fails, or when another batch's end failed meanwhile (its write or sync may have
  /// carried this batch's lines, which this end then finds already gone) — the batch's accepted
  /// packets must then be refused (their lines may not be on disk).
  result<void> end_batch(batch_mark mark) noexcept {
    if (batch_depth_ != 0) --batch_depth_;
    auto written = write_pending();
    const bool sync = std::exchange(owed_, false);
    if (!written) return written;
    if (sync && unsynced_) {
      if (fd_ < 0 || ::fdatasync(fd_) != 0) {
        ++batch_failures_;
        return io_error("cannot sync", fd_ < 0 ? EBADF : errno);
      }
      unsynced_ = false;
    }
    if (batch_failures_ != mark.failures)
      return io_error("a write or sync failed during this batch (another batch's end)", EIO);
    return {};
  }
  /// How many times a batch's buffered lines could not be written, or a batch's sync failed.
  /// Batches nest (worker threads): the lines and the sync a failing end lost may have been
  /// another open batch's, whose own end then finds nothing left to do; `end_batch` compares this
  /// count with its mark and fails when it moved.
  std::uint64_t batch_failures() const noexcept { return batch_failures_; }

  std::size_t size() const noexcept { return memory_.size(); }
  /// The memory store's: the most live keys, and the bytes it takes now and when full.
  std::size_t capacity() const noexcept { return memory_.capacity(); }
  std::size_t bytes() const noexcept { return memory_.bytes(); }
  std::size_t bytes_at_capacity() const noexcept { return memory_.bytes_at_capacity(); }
  const load_report& report() const noexcept { return report_; }
  const std::string& path() const noexcept { return path_; }

 private:
  static constexpr std::size_t compaction_slack = 1024;
  static constexpr std::size_t line_size = log_line::max_size;

  file_store(std::string path, std::size_t capacity) : path_{std::move(path)}, memory_{capacity} {}

  // Appends the line of a new key: written at once (one write), or in a batch to the buffer
  // (written when it is full or the batch ends).
  result<void> append(const replay_key& key, epoch_seconds expires) noexcept {
    const auto line = log_line::format(key, expires, expiry_digits_);
    if (batch_depth_ == 0) return write_lines(line.data(), line.size, 1);
    if (pending_size_ + line.size > pending_.size())
      if (auto ok = write_pending(); !ok) return ok;
    std::memcpy(pending_.data() + pending_size_, line.data(), line.size);
    pending_size_ += line.size;
    ++pending_lines_;
    return {};
  }

  // The buffered lines, in one write; the buffer is empty afterwards (written or not).
  result<void> write_pending() noexcept {
    if (pending_size_ == 0) return {};
    auto ok = write_lines(pending_.data(), pending_size_, pending_lines_);
    if (!ok) ++batch_failures_;
    pending_size_ = 0;
    pending_lines_ = 0;
    return ok;
  }

  // Writes whole lines (one write, retried when short), compacting the log when it has grown
  // too long; a partial write is cut off again.
  result<void> write_lines(const char* data, std::size_t size, std::size_t count) noexcept {
    if (fd_ < 0 || torn_)  // closed by a failure, or a partial line is still to be ended
      if (auto ok = open_for_append(); !ok) return ok;
    std::size_t wrote = 0;
    int e = 0;
    while (wrote < size && e == 0) {  // a short write is retried: the retry says why
      const ssize_t n = ::write(fd_, data + wrote, size - wrote);
      if (n > 0)
        wrote += static_cast<std::size_t>(n);
      else if (n == 0 || errno != EINTR)
        e = n == 0 ? ENOSPC : errno;
    }
    if (e != 0) {
      // Cut a partial line off, so the next line is not glued to it (both would be lost).
      if (wrote > 0 && ::ftruncate(fd_, good_size_) != 0) torn_ = true;
      return io_error("cannot append", e);
    }
    good_size_ += static_cast<off_t>(size);
    unsynced_ = true;
    if ((lines_ += count) > 2 * memory_.size() + compaction_slack) {
      if (auto ok = compact(); !ok) return ok;  // compaction syncs what it writes
      unsynced_ = false;
      return open_for_append();
    }
    return {};
  }

  // `errc::io_failed` with "<path>: <what>: <strerror>".
  result<void> io_error(const char* what, int e) const noexcept {
    try {
      return fail(error{errc::io_failed, path_ + ": " + what + ": " + std::strerror(e)});
    } catch (...) {  // std::bad_alloc: the code still says it
      return fail(errc::io_failed);
    }
  }

  result<void> open_for_append() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return io_error("cannot open for appending", errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return io_error("cannot stat", errno);
    good_size_ = st.st_size;
    // A partial line that could not be cut off: end it here, so the next one stands alone.
    if (torn_ && st.st_size > 0 && !ends_with_newline()) {
      if (::write(fd_, "\n", 1) != 1) return io_error("cannot append", errno);
      ++good_size_;
    }
    torn_ = false;
    return {};
  }

  // True when the log's last byte is '\n'.
  bool ends_with_newline() const noexcept {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    char last = '\n';
    const off_t end = ::lseek(fd, -1, SEEK_END);
    if (end >= 0 && ::read(fd, &last, 1) != 1) last = '\n';
    ::close(fd);
    return last == '\n';
  }

  // Writes the live entries to `<path>.tmp`, syncs it and renames it over the log.
  result<void> compact() noexcept {
    try {
      return compact_to(path_ + ".tmp");
    } catch (...) {  // std::bad_alloc building a path
      return fail(errc::io_failed);
    }
  }
  // The memory store keeps fingerprints, not keys: the log itself is read back, and a line is
  // kept when the store holds its key with that expiry.
  result<void> compact_to(const std::string& tmp) {
    std::ifstream in{path_};
    if (!in) return io_error("cannot read for compaction", errno);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create the compacted log (.tmp)", errno);
    int e = 0;
    std::size_t kept = 0;
    for (std::string text; e == 0 && std::getline(in, text);) {
      replay_key k;
      epoch_seconds x = 0;
      if (!log_line::parse(text, in.eof() && !text.empty(), k, x) || memory_.expiry_of(k) != x)
        continue;
      const auto line = log_line::format(k, x);
      const ssize_t wrote = ::write(fd, line.data(), line.size);
      if (wrote != static_cast<ssize_t>(line.size)) e = wrote < 0 ? errno : ENOSPC;
      ++kept;
    }
    if (e == 0 && in.bad()) e = EIO;
    if (e == 0 && ::fsync(fd) != 0) e = errno;
    ::close(fd);
    if (e == 0 && ::rename(tmp.c_str(), path_.c_str()) != 0) e = errno;
    if (e != 0) {
      ::unlink(tmp.c_str());
      return io_error("cannot compact", e);
    }
    sync_directory();
    lines_ = kept;
    return {};
  }

  void sync_directory() const noexcept {
    const auto slash = path_.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : path_.substr(0, slash + (slash == 0));
    if (const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
  }

  std::string path_;
  memory_store memory_;
  int fd_ = -1;
  std::size_t lines_ = 0;  // lines in the log, live or not
  off_t good_size_ = 0;    // bytes of whole lines in the log
  bool torn_ = false;      // a partial line could not be cut off
  bool unsynced_ = false;  // lines written since the last commit()
  load_report report_;
  // A batch: lines wait here (64 of them; more are written as the buffer fills).
  std::size_t batch_depth_ = 0;
  bool owed_ = false;  // a commit was asked for in a batch
  std::size_t pending_size_ = 0;
  std::size_t pending_lines_ = 0;
  std::array<char, 64 * line_size> pending_{};
  log_line::expiry_digits expiry_digits_;  // the last expiry's, for the next line
  std::uint64_t batch_failures_ = 0;       // see batch_failures()
};

static_assert(commit_batching_store<file_store>);

}  // namespace knock::replay
