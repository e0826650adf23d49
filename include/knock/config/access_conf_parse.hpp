// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// `parse_access_conf`: fwknopd's `access.conf` text (spec §12) → raw stanzas, strings and line
/// numbers only. No I/O, no crypto, nothing decoded: easy to fuzz. `knock/config/access_conf.hpp`
/// binds the result to what the server runs with.
///
/// The variables a stanza may set are the members of `raw_stanza`, matched ignoring case; any other
/// name is an error, as is a repeated one. Format: `VARIABLE value`, the value running to `;`, CR
/// or LF with trailing blanks removed; a trailing `:` on the name is ignored; `#` starts a comment
/// line; each `SOURCE` line starts a new stanza.

#include <knock/config/error.hpp>
#include <knock/core/bytes.hpp>
#include <knock/core/result.hpp>

#include <boost/hana/accessors.hpp>
#include <boost/hana/core/to.hpp>
#include <boost/hana/define_struct.hpp>
#include <boost/hana/first.hpp>
#include <boost/hana/for_each.hpp>
#include <boost/hana/pair.hpp>
#include <boost/hana/second.hpp>
#include <boost/hana/string.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace knock::config {

/// One variable's value as written, and its line (0: not set). The text is wiped when destroyed,
/// as it may be a key.
struct raw_value {
  std::string text;
  std::size_t line = 0;
  std::string file;  ///< the file it was read from, when that is an included one (else empty)

  raw_value() = default;
  raw_value(std::string_view t, std::size_t l, std::string_view f = {})
      : text{t}, line{l}, file{f} {}
  raw_value(const raw_value&) = default;
  raw_value(raw_value&&) noexcept = default;
  raw_value& operator=(const raw_value&) = default;
  raw_value& operator=(raw_value&&) noexcept = default;
  ~raw_value() { secure_zero(text.data(), text.size()); }

  bool is_set() const noexcept { return line != 0; }
};

/// One stanza as written. Each member is a variable, named in lower case: adding a member here
/// teaches the parser a variable (bind it in `bind_access_conf` too).
struct raw_stanza {
  BOOST_HANA_DEFINE_STRUCT(
      raw_stanza, (raw_value, source), (raw_value, destination),  //
      (raw_value, key), (raw_value, key_base64), (raw_value, hmac_key),
      (raw_value, hmac_key_base64), (raw_value, hmac_digest_type), (raw_value, encryption_mode),
      (raw_value, open_ports), (raw_value, restrict_ports),  //
      (raw_value, fw_access_timeout), (raw_value, max_fw_timeout), (raw_value, require_username),
      (raw_value, require_source_address), (raw_value, require_source), (raw_value, access_expire),
      (raw_value, access_expire_epoch), (raw_value, enable_cmd_exec), (raw_value, cmd_exec_user),
      (raw_value, cmd_exec_group), (raw_value, enable_cmd_sudo_exec),
      (raw_value, cmd_sudo_exec_user), (raw_value, cmd_sudo_exec_group),  //
      (raw_value, cmd_cycle_open), (raw_value, cmd_cycle_close), (raw_value, cmd_cycle_timer),
      (raw_value, force_nat), (raw_value, force_snat), (raw_value, force_masquerade),
      (raw_value, forward_all), (raw_value, disable_dnat));
  /// The GnuPG variables, in a struct of their own (Hana reflects at most 40 members).
  struct gnupg_variables {
    BOOST_HANA_DEFINE_STRUCT(gnupg_variables, (raw_value, gpg_home_dir), (raw_value, gpg_exe),
                             (raw_value, gpg_decrypt_id), (raw_value, gpg_decrypt_pw),
                             (raw_value, gpg_allow_no_pw), (raw_value, gpg_require_sig),
                             (raw_value, gpg_disable_sig), (raw_value, gpg_ignore_sig_verify_error),
                             (raw_value, gpg_remote_id), (raw_value, gpg_fingerprint_id));
  } gnupg;
};

/// Calls `f(name, value)` for every variable of `s` (names in lower case), in declaration order.
template <class Stanza, class F>
void for_each_variable(Stanza& s, F&& f) {
  const auto each = [&](auto& part) {
    using part_type = std::remove_cvref_t<decltype(part)>;
    boost::hana::for_each(boost::hana::accessors<part_type>(), [&](auto member) {
      f(std::string_view{boost::hana::to<const char*>(boost::hana::first(member))},
        boost::hana::second(member)(part));
    });
  };
  each(s);
  each(s.gnupg);
}

/// The key variables `%include_keys` may set.
inline constexpr std::string_view key_variables[] = {"KEY", "KEY_BASE64", "HMAC_KEY",
                                                     "HMAC_KEY_BASE64", "HMAC_DIGEST_TYPE"};

/// How the parser reaches the files `%include`, `%include_folder` and `%include_keys` name. The
/// pure parser has none (an include is then an error); `load_access_conf` passes the file system.
struct include_access {
  /// The text of the file at `path`.
  std::function<result<std::string, config_error>(const std::string& path)> read;
  /// The `*.conf` files in `dir`, sorted.
  std::function<result<std::vector<std::string>, config_error>(const std::string& dir)> list;
};

namespace detail {

constexpr char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

/// The member of `s` for the variable `name` (any case), or null.
inline raw_value* find_variable(raw_stanza& s, std::string_view name) noexcept {
  raw_value* found = nullptr;
  for_each_variable(s, [&](std::string_view variable, raw_value& v) {
    if (iequals(variable, name)) found = &v;
  });
  return found;
}

/// How many of a stanza's key variables (KEY, KEY_BASE64, HMAC_KEY, HMAC_KEY_BASE64) are set.
inline std::size_t keys_set(raw_stanza& s) noexcept {
  std::size_t n = 0;
  for (std::string_view name : key_variables)
    if (name != "HMAC_DIGEST_TYPE") n += find_variable(s, name)->is_set() ? 1 : 0;
  return n;
}

/// "SOURCE, KEY, …": every variable, as fwknop spells them.
inline std::string variable_names() {
  std::string out;
  raw_stanza names;
  for_each_variable(names, [&](std::string_view variable, const raw_value&) {
    out += out.empty() ? "" : ", ";
    for (char c : variable) out += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  });
  return out;
}

/// True for what can be a variable name. Anything else is not quoted in errors: a line that is
/// only a pasted key must not end up on a terminal.
inline bool looks_like_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > 40) return false;
  for (char c : s)
    if (!(ascii_lower(c) >= 'a' && ascii_lower(c) <= 'z') && !(c >= '0' && c <= '9') && c != '_' &&
        c != '%' && c != '-')
      return false;
  return true;
}

inline constexpr std::string_view blanks = " \t";

inline std::string_view trim(std::string_view s) noexcept {
  const std::size_t first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

}  // namespace detail

namespace detail {

inline constexpr std::size_t max_include_depth = 8;

/// Walks fwknop's config format line by line: `VARIABLE value`, the value running to `;`, CR or
/// LF with trailing blanks removed, a trailing `:` on the name ignored, `#` comment lines and blank
/// lines skipped. Shared by access.conf and fwknopd.conf.
struct config_line {
  explicit config_line(std::string_view text) noexcept : rest{text} {}

  std::string_view rest;
  std::size_t number = 0;
  std::string_view name, value;
  std::string_view error;  ///< set when the line is not `VARIABLE value`
  bool bad_name = false;   ///< the error is that the line starts with no name (do not quote it)

  /// Moves to the next variable line; false at the end.
  bool next() noexcept {
    while (!rest.empty()) {
      ++number;
      const std::size_t eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
      line = trim(line.substr(0, line.find_first_of(";\r")));  // the value ends there
      if (line.empty() || line.front() == '#') continue;
      name = line.substr(0, line.find_first_of(blanks));
      value = trim(line.substr(name.size()));
      if (name.ends_with(':')) name.remove_suffix(1);
      bad_name = !looks_like_name(name);
      error = bad_name        ? "line does not start with a variable name"
              : value.empty() ? "has no value"
                              : "";
      return true;
    }
    return false;
  }
};

template <std::size_t N>
bool listed(const std::string_view (&names)[N], std::string_view name) noexcept {
  for (std::string_view n : names)
    if (iequals(n, name)) return true;
  return false;
}

/// Parses `text` (the file `file`) into `stanzas`. `keys_for` set: the text is an `%include_keys`
/// file, whose key variables go to that stanza. `skipped` set (fwknopd's way): a stanza whose
/// `%include_keys` file is missing, unreadable or wrong is left out (its lines up to the next
/// SOURCE are ignored) and the error recorded there. Every other error refuses, as in fwknopd.
inline result<void, config_error> parse_into(std::string_view text, const std::string& file,
                                             std::vector<raw_stanza>& stanzas,
                                             const include_access* files, std::size_t depth,
                                             raw_stanza* keys_for, bool top_level,
                                             std::vector<config_error>* skipped) {
  const auto problem = [&](std::size_t line, std::string_view key, std::string message,
                           errc code = errc::config_invalid) {
    return config_error{file, line, std::string{key}, std::move(message), code};
  };
  const std::size_t first_own = stanzas.size();  // this file's stanzas start here
  bool skipping = false;                         // lenient: inside a broken stanza
  // An %include_keys problem, lenient, inside one of this file's stanzas: leave it out, go on.
  const auto leave_out = [&](config_error e) {
    if (skipped == nullptr || keys_for != nullptr || stanzas.size() <= first_own) return false;
    skipped->push_back(std::move(e));
    stanzas.pop_back();
    skipping = true;
    return true;
  };
  const std::string_view origin = top_level ? std::string_view{} : std::string_view{file};
  for (config_line l{text}; l.next();) {
    const std::size_t number = l.number;
    const std::string_view name = l.name, value = l.value;
    const bool starts_stanza = l.error.empty() && keys_for == nullptr && iequals(name, "source");
    if (skipping && !starts_stanza && !(name.starts_with('%') && !iequals(name, "%include_keys")))
      continue;
    if (!l.error.empty())
      return fail(problem(number, l.bad_name ? "" : name, std::string{l.error}));

    if (name.starts_with('%')) {
      const bool keys = iequals(name, "%include_keys"), folder = iequals(name, "%include_folder");
      if (!keys && !folder && !iequals(name, "%include"))
        return fail(problem(number, name,
                            "unknown directive (known: %include, %include_folder, %include_keys)"));
      if (keys_for != nullptr)
        return fail(problem(number, name, "is not allowed in an %include_keys file"));
      if (files == nullptr)
        return fail(
            problem(number, name, "needs file access (load the file with load_access_conf)"));
      if (depth >= max_include_depth)
        return fail(problem(number, name, "includes nest too deep (a cycle?)"));
      if (keys && stanzas.empty())
        return fail(problem(number, name, "comes before the first SOURCE line"));
      // As fwknopd: a relative path is relative to the working directory, not to this file.
      const std::string target{value};
      std::vector<std::string> paths{target};
      if (folder) {
        auto listed_files = files->list(target);
        if (!listed_files)  // named where it was asked for: file:line: %include_folder: dir: why
          return fail(
              problem(number, name, to_string(listed_files.error()), listed_files.error().code));
        paths = *std::move(listed_files);
      }
      for (const std::string& path : paths) {
        auto included = files->read(path);
        if (!included) {
          if (auto e = problem(number, name, to_string(included.error()), included.error().code);
              keys && leave_out(e))
            break;
          else
            return fail(std::move(e));
        }
        const std::size_t keys_before = keys ? keys_set(stanzas.back()) : 0;
        auto ok = parse_into(*included, path, stanzas, files, depth + 1,
                             keys ? &stanzas.back() : nullptr, false, skipped);
        secure_zero(included->data(), included->size());
        if (ok && keys && keys_set(stanzas.back()) == keys_before)  // empty, or comments only
          ok = fail(
              config_error{path, 0, "", "holds no KEY, KEY_BASE64, HMAC_KEY or HMAC_KEY_BASE64"});
        if (!ok) {
          if (keys && leave_out(problem(number, name, to_string(ok.error()), ok.error().code)))
            break;
          return ok;
        }
      }
      continue;
    }
    std::optional<config_error> e;
    if (keys_for != nullptr && !listed(key_variables, name))
      e = problem(number, name, "only key variables may appear in an %include_keys file");
    if (e) return fail(std::move(*e));
    if (starts_stanza) {
      skipping = false;
      stanzas.emplace_back().source = raw_value{value, number, origin};
      continue;
    }
    raw_stanza scratch;
    raw_stanza* target = keys_for != nullptr ? keys_for
                         : stanzas.empty()   ? &scratch
                                             : &stanzas.back();
    raw_value* slot = find_variable(*target, name);
    if (slot == nullptr)
      e = problem(number, name, "unknown variable (known: " + variable_names() + ")");
    else if (stanzas.empty())
      return fail(problem(number, name, "comes before the first SOURCE line"));
    else if (slot->is_set()) {
      e = problem(number, name,
                  "set twice in one stanza (first on " +
                      (slot->file.empty() ? "line " : slot->file + ":") +
                      std::to_string(slot->line) + ")");
      if (skipped != nullptr) {  // fwknopd's reading: the later line wins; said, not refused
        e->message += ": this later value is used, as fwknopd does (--strict-config refuses it)";
        skipped->push_back(*std::move(e));
        e.reset();
      }
    }
    if (e) return fail(std::move(*e));
    *slot = raw_value{value, number, origin};
  }
  return {};
}

}  // namespace detail

/// Splits `text` into raw stanzas; `file_name` is used in errors. Refuses an unknown or repeated
/// variable, a variable before the first SOURCE, a variable without a value, and a file without any
/// stanza. `%include`, `%include_folder` and (inside a stanza) `%include_keys` read other files
/// through `files` (relative paths from the working directory, as fwknopd); without it they are
/// errors. With `skipped`, a stanza with an error is left out instead and the error recorded there
/// (fwknopd runs with the stanzas that are whole).
inline result<std::vector<raw_stanza>, config_error> parse_access_conf(
    std::string_view text, std::string_view file_name, const include_access* files = nullptr,
    std::vector<config_error>* skipped = nullptr) {
  std::vector<raw_stanza> stanzas;
  auto ok =
      detail::parse_into(text, std::string{file_name}, stanzas, files, 0, nullptr, true, skipped);
  if (!ok) return fail(ok.error());
  if (stanzas.empty() && skipped != nullptr && !skipped->empty())
    return fail(config_error{std::string{file_name}, 0, "",
                             "no valid stanza: every stanza has an error (the first: " +
                                 to_string(skipped->front()) + ")"});
  if (stanzas.empty())
    return fail(config_error{std::string{file_name}, 0, "",
                             "no stanza (each stanza starts with a SOURCE line)"});
  return stanzas;
}

}  // namespace knock::config
