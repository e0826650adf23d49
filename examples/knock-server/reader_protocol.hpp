// SPDX-License-Identifier: MIT
#pragma once
// What knock-server's worker and its configuration reader (config_reader.hpp) say to each other
// over their socketpair, a byte stream:
//
//   frame    magic "KNCR" (4) | kind (1) | sequence (8) | length (4) | payload (length bytes)
//   request  kind 1, no payload: "read the access configuration again". It names no file: the
//            reader reads only the paths it resolves itself from the configuration.
//   reply    kind 2, the request's sequence; the payload is the entries below, in the order the
//            reader's parser reached them (the access file or folder first):
//     entry  tag (1) | path (string) | by tag:
//              1 file     its text (string)
//              2 folder   count (4) | the `*.conf` paths in it (string each)
//              3 error    line (4) | errc (1) | variable (string) | message (string)
//     string length (4) | bytes;  numbers are little-endian
//
// Decoding refuses, saying what and where: a wrong magic or kind, a length over the limits (a
// payload of 32 MiB, a file's text of 1 MiB as `read_config_file`, a path of 4096 bytes, 65536
// entries), a payload that ends inside an entry, an unknown entry tag, a path that is empty
// or holds a NUL, a path twice, and a reply that does not start with the access file (or folder)
// the worker runs with. The worker then parses the files as if read from disk (`files()`), so
// errors still name the real file:line.

#include <knock/config/access_conf.hpp>
#include <knock/core/bytes.hpp>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace knock_server::reader {

inline constexpr std::string_view magic = "KNCR";
inline constexpr std::size_t header_size = 17;
inline constexpr std::uint32_t max_payload = std::uint32_t{32} << 20;
inline constexpr std::uint32_t max_text = std::uint32_t{1} << 20;
inline constexpr std::uint32_t max_path = 4096;
inline constexpr std::uint32_t max_entries = 65536;

enum class kind : std::uint8_t { request = 1, reply = 2 };

/// A frame's header.
struct header {
  kind what = kind::request;
  std::uint64_t sequence = 0;
  std::uint32_t length = 0;  ///< of the payload that follows
};

namespace detail {

inline void put(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}
inline void put_string(std::string& out, std::string_view s) {
  put(out, s.size(), 4);
  out.append(s);
}

inline knock::error refused(std::string what) {
  return knock::error{knock::errc::io_failed, std::move(what)};
}

/// Reads the payload front to back; every read says what it was reading when it ran out.
class cursor {
 public:
  explicit cursor(std::string_view in) : in_{in} {}
  knock::result<std::uint64_t> number(int bytes, std::string_view what) {
    if (in_.size() - at_ < static_cast<std::size_t>(bytes)) return truncated(what);
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
      v |= std::uint64_t{static_cast<unsigned char>(in_[at_ + i])} << (8 * i);
    at_ += static_cast<std::size_t>(bytes);
    return v;
  }
  knock::result<std::string_view> string(std::uint32_t limit, std::string_view what) {
    auto n = number(4, what);
    if (!n) return knock::fail(n.error());
    if (*n > limit)
      return knock::fail(refused("oversized reply: " + std::string{what} + " of " +
                                 std::to_string(*n) + " bytes (at most " + std::to_string(limit) +
                                 ")"));
    if (in_.size() - at_ < *n) return truncated(what);
    const std::string_view s = in_.substr(at_, *n);
    at_ += *n;
    return s;
  }
  bool done() const noexcept { return at_ == in_.size(); }
  std::size_t offset() const noexcept { return at_; }

 private:
  knock::failure<knock::error> truncated(std::string_view what) const {
    return knock::fail(refused("truncated reply: it ends inside " + std::string{what} +
                               " (at byte " + std::to_string(at_) + " of " +
                               std::to_string(in_.size()) + ")"));
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

}  // namespace detail

/// A frame's header, as sent.
inline std::string encode_header(const header& h) {
  std::string out{magic};
  out.push_back(static_cast<char>(h.what));
  detail::put(out, h.sequence, 8);
  detail::put(out, h.length, 4);
  return out;
}

/// The header at the start of `in` (`header_size` bytes), checked: magic, kind, length.
inline knock::result<header> decode_header(std::string_view in) {
  if (in.size() < header_size)
    return knock::fail(detail::refused("truncated frame: " + std::to_string(in.size()) + " of " +
                                       std::to_string(header_size) + " header bytes"));
  if (in.substr(0, magic.size()) != magic)
    return knock::fail(detail::refused("not a frame of this protocol (wrong magic)"));
  const auto k = static_cast<kind>(in[4]);
  if (k != kind::request && k != kind::reply)
    return knock::fail(
        detail::refused("unknown frame kind " + std::to_string(static_cast<unsigned char>(in[4]))));
  detail::cursor c{in.substr(5, 12)};
  header h{k, *c.number(8, "the sequence"), static_cast<std::uint32_t>(*c.number(4, "the length"))};
  if (h.length > max_payload)
    return knock::fail(detail::refused("oversized frame: " + std::to_string(h.length) +
                                       " bytes of payload (at most " + std::to_string(max_payload) +
                                       ")"));
  return h;
}

/// The one request the reader takes: a header, no payload. Anything else is refused.
inline knock::result<void> check_request(const header& h) {
  if (h.what != kind::request)
    return knock::fail(detail::refused("unexpected frame: expected a request, got a reply"));
  if (h.length != 0)
    return knock::fail(detail::refused(
        "a request with " + std::to_string(h.length) +
        " bytes of payload: a request names nothing (no path: the reader reads only the files "
        "the configuration names)"));
  return {};
}

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
