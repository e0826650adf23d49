// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `knock::replay::file_store`: a `memory_store` that survives restarts and `kill -9`.
///
/// The file is an append-only log, one line per remembered packet:
///
///     <64 hex digits of the key> <expiry, epoch seconds> <8 hex digits: FNV-1a of the text before
///     it>
///
/// Durability: each line is written with one `write` and `fdatasync`ed before `remember` returns,
/// so a packet that was accepted is on disk before its grant exists. A torn last line (a crash
/// mid-write) or a line whose checksum fails is skipped and reported, never fatal. On `open` and
/// whenever the log holds more than twice the live entries (plus slack), it is compacted: live
/// entries are written to a temporary file, synced and renamed over the log. fwknop's
/// `digest.cache` can be imported.

#include <knock/core/error.hpp>
#include <knock/replay/memory_store.hpp>
#include <knock/wire/base64.hpp>

#include <array>
#include <charconv>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

namespace knock::replay {

/// What `file_store::open` found in the log.
struct load_report {
  std::size_t loaded = 0;   ///< live entries read back
  std::size_t expired = 0;  ///< entries dropped because they had expired
  std::size_t corrupt = 0;  ///< lines skipped: bad form or checksum (a torn last write counts here)
  bool compacted = false;   ///< the log was rewritten with the live entries only
};

/// Persistent replay store. Models knock::replay_policy.
class file_store {
 public:
  using role = knock::role::replay;

  /// Opens (or creates, mode 0600) the log at `path` and loads the entries still live at `now`.
  static result<file_store> open(std::string path, epoch_seconds now,
                                 std::size_t capacity = memory_store::default_capacity) {
    file_store s{std::move(path), capacity};
    std::ifstream in{s.path_};
    for (std::string line; std::getline(in, line);) {
      replay_key key;
      epoch_seconds expires = 0;
      ++s.lines_;
      if (!parse_line(line, in.eof() && !line.empty(), key, expires)) {
        ++s.report_.corrupt;
      } else if (expires <= now) {
        ++s.report_.expired;
      } else if (!s.memory_.remember(key, expires, now)) {
        return fail(errc::replay_store_full);
      }
    }
    s.report_.loaded = s.memory_.size();
    if (s.lines_ != s.report_.loaded) {
      if (auto ok = s.compact(); !ok) return fail(ok.error());
      s.report_.compacted = true;
    }
    if (auto ok = s.open_for_append(); !ok) return fail(ok.error());
    return s;
  }

  file_store(file_store&& o) noexcept
      : path_{std::move(o.path_)},
        memory_{std::move(o.memory_)},
        fd_{std::exchange(o.fd_, -1)},
        lines_{o.lines_},
        report_{o.report_} {}
  file_store& operator=(file_store&&) = delete;
  ~file_store() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool contains(const replay_key& key, epoch_seconds now) const noexcept {
    return memory_.contains(key, now);
  }

  /// Remembers `key` in memory and on disk (synced). `errc::io_failed` if the disk write failed —
  /// the packet is then refused, though it stays remembered in memory.
  result<void> remember(const replay_key& key, epoch_seconds expires, epoch_seconds now) {
    if (auto ok = memory_.remember(key, expires, now); !ok) return ok;
    const auto line = format_line(key, expires);
    if (::write(fd_, line.data(), line.size) != static_cast<ssize_t>(line.size) ||
        ::fdatasync(fd_) != 0)
      return fail(errc::io_failed);
    if (++lines_ > 2 * memory_.size() + compaction_slack) {
      if (auto ok = compact(); !ok) return ok;
      return open_for_append();
    }
    return {};
  }

  std::size_t size() const noexcept { return memory_.size(); }
  const load_report& report() const noexcept { return report_; }
  const std::string& path() const noexcept { return path_; }

  /// Imports fwknop's `digest.cache` (`<b64 SHA-256 of the packet> <proto> <src> <sport> <dst>
  /// <dport> <time>` lines): each digest is kept `lifetime` seconds past its recorded time (use
  /// `never_expires` when packet aging is off). Returns how many entries were added.
  result<std::size_t> import_fwknop_digest_cache(const std::string& cache, epoch_seconds lifetime,
                                                 epoch_seconds now) {
    std::ifstream in{cache};
    if (!in) return fail(errc::io_failed);
    std::size_t added = 0;
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] == '#') continue;
      const std::string_view text = line;
      const std::string_view digest = text.substr(0, text.find(' '));
      const std::size_t last = text.rfind(' ');
      epoch_seconds when = 0;
      replay_key key;
      if (digest.size() != 43 || !base64::decode(digest, key.bytes.data()) ||
          last == std::string_view::npos ||
          std::from_chars(text.data() + last + 1, text.data() + text.size(), when).ec !=
              std::errc{})
        continue;  // fwknopd skips invalid lines too
      const epoch_seconds expires = lifetime == never_expires ? never_expires : when + lifetime;
      if (expires <= now || contains(key, now)) continue;
      if (auto ok = remember(key, expires, now); !ok) return fail(ok.error());
      ++added;
    }
    return added;
  }

 private:
  static constexpr std::size_t compaction_slack = 1024;
  static constexpr std::size_t line_size = 64 + 1 + 20 + 1 + 8 + 1;

  file_store(std::string path, std::size_t capacity) : path_{std::move(path)}, memory_{capacity} {}

  static std::uint32_t fnv1a(std::string_view s) noexcept {
    std::uint32_t h = 2166136261u;
    for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return h;
  }

  struct line_buffer {
    std::array<char, line_size> text;
    std::size_t size = 0;
    const char* data() const noexcept { return text.data(); }
  };
  static line_buffer format_line(const replay_key& key, epoch_seconds expires) noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    line_buffer l;
    for (byte b : key.bytes) l.text[l.size++] = hex[b >> 4], l.text[l.size++] = hex[b & 15];
    l.text[l.size++] = ' ';
    l.size = static_cast<std::size_t>(
        std::to_chars(l.text.data() + l.size, l.text.data() + line_size - 10, expires).ptr -
        l.text.data());
    const std::uint32_t sum = fnv1a({l.text.data(), l.size});
    l.text[l.size++] = ' ';
    for (int shift = 28; shift >= 0; shift -= 4) l.text[l.size++] = hex[(sum >> shift) & 15];
    l.text[l.size++] = '\n';
    return l;
  }

  static bool parse_line(std::string_view line, bool unterminated, replay_key& key,
                         epoch_seconds& expires) {
    if (unterminated || line.size() < 64 + 1 + 1 + 9 || line[64] != ' ') return false;
    const std::string_view body = line.substr(0, line.size() - 9);
    std::uint32_t sum = 0;
    if (line[line.size() - 9] != ' ' ||
        std::from_chars(line.data() + line.size() - 8, line.data() + line.size(), sum, 16).ec !=
            std::errc{} ||
        sum != fnv1a(body))
      return false;
    for (std::size_t i = 0; i < 32; ++i)
      if (std::from_chars(line.data() + 2 * i, line.data() + 2 * i + 2, key.bytes[i], 16).ec !=
          std::errc{})
        return false;
    const auto r = std::from_chars(body.data() + 65, body.data() + body.size(), expires);
    return r.ec == std::errc{} && r.ptr == body.data() + body.size();
  }

  result<void> open_for_append() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    return fd_ >= 0 ? result<void>{} : fail(errc::io_failed);
  }

  // Writes the live entries to `<path>.tmp`, syncs it and renames it over the log.
  result<void> compact() {
    const std::string tmp = path_ + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(errc::io_failed);
    bool ok = true;
    memory_.for_each([&](const replay_key& k, epoch_seconds e) {
      const auto line = format_line(k, e);
      ok = ok && ::write(fd, line.data(), line.size) == static_cast<ssize_t>(line.size);
    });
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) return fail(errc::io_failed);
    sync_directory();
    lines_ = memory_.size();
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
  load_report report_;
};

static_assert(replay_policy<file_store>);

}  // namespace knock::replay
