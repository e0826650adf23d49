// SPDX-License-Identifier: MIT
#pragma once
// A reply's payload (reader_protocol.hpp has the frame around it): the files the configuration
// reader read for one reload, as entries in the order its parser reached them (the access file or
// folder first):
//
//   entry  tag (1) | path (string) | by tag:
//            1 file     its text (string)
//            2 folder   count (4) | the `*.conf` paths in it (string each)
//            3 error    line (4) | errc (1) | variable (string) | message (string)
//   string length (4) | bytes;  numbers are little-endian
//
// `decode` refuses, saying what and where: a payload that ends inside an entry, a length over the
// limits (a file's text 1 MiB as `read_config_file`, a path 4096 bytes, 65536 entries), an
// unknown tag, a path that is empty or holds a NUL, a path twice, and a reply that does not start
// with the access file (or folder) the worker runs with. The worker then parses the files as if
// read from disk (`files()`), so errors still name the real file:line.

#include "reader_protocol.hpp"

#include <knock/config/access_conf.hpp>
#include <knock/core/bytes.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock_server::reader {

/// What the reader read for one reload: each file's text (or why it could not be read) and each
/// folder's listing, by path. Serves them to the parser (`files()`) as the file system would.
class snapshot {
 public:
  snapshot() = default;
  snapshot(const snapshot&) = delete;
  snapshot& operator=(const snapshot&) = delete;
  snapshot(snapshot&&) = default;
  snapshot& operator=(snapshot&&) = default;
  ~snapshot() { wipe(); }

  /// The reader's side: the file system, with every answer kept (a path read twice is read once,
  /// so both readings agree).
  knock::config::include_access recording() {
    const knock::config::include_access disk = knock::config::file_system();
    return {[this, disk](const std::string& path) -> file_result {
              if (const entry* e = find(path)) return answer(*e, path);
              auto got = disk.read(path);
              entries_.push_back(got ? entry{tag::file, path, *got, {}, {}}
                                     : entry{tag::error, path, {}, {}, got.error()});
              return got;
            },
            [this, disk](const std::string& dir) -> list_result {
              if (const entry* e = find(dir)) return answer_list(*e, dir);
              auto got = disk.list(dir);
              entries_.push_back(got ? entry{tag::folder, dir, {}, *got, {}}
                                     : entry{tag::error, dir, {}, {}, got.error()});
              return got;
            }};
  }

  /// The worker's side: the files as the reader read them. A path the reader did not read is
  /// refused (the worker cannot make the reader read anything else).
  knock::config::include_access files() const {
    return {[this](const std::string& path) -> file_result {
              if (const entry* e = find(path)) return answer(*e, path);
              return knock::fail(not_sent(path));
            },
            [this](const std::string& dir) -> list_result {
              if (const entry* e = find(dir)) return answer_list(*e, dir);
              return knock::fail(not_sent(dir));
            }};
  }

  /// The reply's payload.
  std::string encode() const {
    std::string out;
    for (const entry& e : entries_) {
      out.push_back(static_cast<char>(e.what));
      detail::put_string(out, e.path);
      switch (e.what) {
        case tag::file: detail::put_string(out, e.text); break;
        case tag::folder:
          detail::put(out, e.listing.size(), 4);
          for (const auto& p : e.listing) detail::put_string(out, p);
          break;
        case tag::error:
          detail::put(out, e.error.line, 4);
          detail::put(out, static_cast<std::uint8_t>(e.error.code), 1);
          detail::put_string(out, e.error.key);
          detail::put_string(out, e.error.message);
          break;
      }
    }
    return out;
  }

  /// A reply's payload, checked (see the file comment); `root` is the access file (or folder)
  /// the worker runs with, which must come first.
  static knock::result<snapshot> decode(std::string_view payload, std::string_view root) {
    using detail::refused;
    snapshot out;
    detail::cursor c{payload};
    while (!c.done()) {
      if (out.entries_.size() == max_entries)
        return knock::fail(
            refused("oversized reply: more than " + std::to_string(max_entries) + " files"));
      const std::string n = "entry " + std::to_string(out.entries_.size() + 1);
      auto t = c.number(1, n);
      if (!t) return knock::fail(t.error());
      if (*t < 1 || *t > 3) return knock::fail(refused(n + ": unknown tag " + std::to_string(*t)));
      auto path = c.string(max_path, n + "'s path");
      if (!path) return knock::fail(path.error());
      if (auto ok = check_path(*path, n, root, out); !ok) return knock::fail(ok.error());
      entry e{static_cast<tag>(*t), std::string{*path}, {}, {}, {}};
      if (e.what == tag::file) {
        auto text = c.string(max_text, n + "'s text");
        if (!text) return knock::fail(text.error());
        e.text.assign(text->data(), text->size());
      } else if (e.what == tag::folder) {
        auto count = c.number(4, n + "'s count");
        if (!count) return knock::fail(count.error());
        if (*count > max_entries)
          return knock::fail(
              refused("oversized reply: " + n + " lists " + std::to_string(*count) + " files"));
        for (std::uint64_t i = 0; i < *count; ++i) {
          auto p = c.string(max_path, n + "'s listing");
          if (!p) return knock::fail(p.error());
          e.listing.emplace_back(*p);
        }
      } else {
        auto line = c.number(4, n + "'s line");
        if (!line) return knock::fail(line.error());
        auto code = c.number(1, n + "'s code");
        if (!code) return knock::fail(code.error());
        auto key = c.string(max_path, n + "'s variable");
        if (!key) return knock::fail(key.error());
        auto message = c.string(max_path, n + "'s message");
        if (!message) return knock::fail(message.error());
        e.error = {e.path, static_cast<std::size_t>(*line), std::string{*key},
                   std::string{*message}, static_cast<knock::errc>(*code)};
      }
      out.entries_.push_back(std::move(e));
    }
    if (out.entries_.empty())
      return knock::fail(
          refused("empty reply: it does not hold '" + knock::config::printable(root) + "'"));
    return out;
  }

  /// A reply's payload that says only why `e.file` (the access configuration) was not sent.
  static std::string encode_error(const knock::config::config_error& e) {
    snapshot one;
    one.entries_.push_back(entry{tag::error, e.file, {}, {}, e});
    return one.encode();
  }

  std::size_t size() const noexcept { return entries_.size(); }

  /// Wipes every text (keys) it holds.
  void wipe() noexcept {
    for (entry& e : entries_) knock::secure_zero(e.text.data(), e.text.size());
    entries_.clear();
  }

 private:
  using file_result = knock::result<std::string, knock::config::config_error>;
  using list_result = knock::result<std::vector<std::string>, knock::config::config_error>;
  enum class tag : std::uint8_t { file = 1, folder = 2, error = 3 };
  struct entry {
    tag what;
    std::string path, text;
    std::vector<std::string> listing;
    knock::config::config_error error;
  };

  const entry* find(std::string_view path) const {
    for (const entry& e : entries_)
      if (e.path == path) return &e;
    return nullptr;
  }
  static file_result answer(const entry& e, const std::string& path) {
    if (e.what == tag::file) return e.text;
    if (e.what == tag::error) return knock::fail(e.error);
    return knock::fail(knock::config::config_error{path, 0, "", "is a folder, not a file",
                                                   knock::errc::io_failed});
  }
  static list_result answer_list(const entry& e, const std::string& dir) {
    if (e.what == tag::folder) return e.listing;
    if (e.what == tag::error) return knock::fail(e.error);
    return knock::fail(knock::config::config_error{dir, 0, "", "cannot list: Not a directory",
                                                   knock::errc::io_failed});
  }
  static knock::config::config_error not_sent(const std::string& path) {
    return {path, 0, "",
            "cannot read: the configuration reader did not send it (it reads only the files the "
            "configuration names)",
            knock::errc::io_failed};
  }
  static knock::result<void> check_path(std::string_view path, const std::string& n,
                                        std::string_view root, const snapshot& so_far) {
    using detail::refused;
    const std::string shown = "'" + knock::config::printable(path) + "'";
    if (path.empty()) return knock::fail(refused("unexpected path: " + n + " has an empty path"));
    if (path.find('\0') != std::string_view::npos)
      return knock::fail(refused("unexpected path: " + n + "'s path " + shown + " holds a NUL"));
    if (so_far.entries_.empty() && path != root)
      return knock::fail(refused("unexpected path: the reply starts with " + shown +
                                 ", not the access configuration '" +
                                 knock::config::printable(root) + "'"));
    if (so_far.find(path) != nullptr)
      return knock::fail(refused("unexpected path: " + shown + " sent twice (" + n + ")"));
    return {};
  }

  std::vector<entry> entries_;
};

}  // namespace knock_server::reader
