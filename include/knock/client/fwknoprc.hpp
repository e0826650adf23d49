// SPDX-License-Identifier: MIT
#pragma once
/// \file
/// fwknop's client rc file (`~/.fwknoprc`, spec §13), read and written as fwknop 2.6 does:
///
///     [default]                      settings every run starts from
///     SPA_SERVER_PORT     62201
///     [myssh]                        a named stanza (`-n myssh`): overrides [default]
///     SPA_SERVER          192.0.2.1
///     ACCESS:             tcp/22     (a ':' after the name is ignored)
///
/// A line is `NAME value`; the value ends at a space, tab, ';' or '#'. Lines starting with '#' or
/// ';' and blank lines are ignored, as are lines before the first `[section]`. Section names
/// compare without case. Only the text is handled here (no I/O); which variables exist and what
/// they mean is the program's business.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace knock::fwknoprc {

/// One `NAME value` line.
struct setting {
  std::string name;
  std::string value;
  std::size_t line = 0;  ///< 1-based; 0 for a setting that comes from elsewhere
};

/// The settings one stanza name selects, in file order (later settings override earlier ones).
struct stanza {
  bool found = false;  ///< some `[name]` header exists
  std::vector<setting> settings;
  std::size_t bad_line = 0;  ///< the first line that is not `NAME value` (0: none); fwknop
                             ///< refuses to run with such a line in a stanza it reads
};

namespace detail {
constexpr bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
constexpr std::string_view trim_left(std::string_view s) noexcept {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  return s;
}
constexpr char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
/// ASCII comparison without case (fwknop's strcasecmp on section names).
constexpr bool iequal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}
/// True for a `[name]` line, whose name goes to `name`.
constexpr bool header(std::string_view line, std::string_view& name) noexcept {
  line = trim_left(line);
  if (!line.starts_with('[')) return false;
  const std::size_t end = line.find(']');
  if (end == std::string_view::npos) return false;
  name = line.substr(1, end - 1);
  return true;
}
constexpr bool is_comment_or_blank(std::string_view line) noexcept {
  line = trim_left(line);
  return line.empty() || line.front() == '#' || line.front() == ';';
}
/// Splits the text into lines (the last one may lack its LF).
inline std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t lf = text.find('\n');
    out.push_back(text.substr(0, lf == std::string_view::npos ? text.size() : lf + 1));
    text.remove_prefix(out.back().size());
  }
  return out;
}
}  // namespace detail

/// Parses one `NAME value` line (fwknop's `sscanf("%s %[^ ;\t\n\r#]")`, then the name cut at its
/// last ':'). False when the line has no name or no value.
inline bool parse_setting(std::string_view line, setting& out) {
  line = detail::trim_left(line);
  std::size_t end = 0;
  while (end < line.size() && !detail::is_blank(line[end])) ++end;
  std::string_view name = line.substr(0, end);
  std::string_view rest = detail::trim_left(line.substr(end));
  const std::size_t value_end = rest.find_first_of(" ;\t\n\r#");
  const std::string_view value = rest.substr(0, value_end);
  if (const std::size_t colon = name.rfind(':'); colon != std::string_view::npos)
    name = name.substr(0, colon);
  if (name.empty() || value.empty()) return false;
  out.name.assign(name);
  out.value.assign(value);
  return true;
}

/// The settings of every `[name]` section of `text` (compared without case), in file order.
inline stanza select(std::string_view text, std::string_view name) {
  stanza out;
  bool inside = false;
  std::size_t number = 0;
  for (std::string_view line : detail::lines(text)) {
    ++number;
    std::string_view section;
    if (detail::header(line, section)) {
      inside = detail::iequal(section, name);
      out.found = out.found || inside;
      continue;
    }
    if (!inside || detail::is_comment_or_blank(line)) continue;
    setting s;
    s.line = number;
    if (parse_setting(line, s))
      out.settings.push_back(std::move(s));
    else if (out.bad_line == 0)
      out.bad_line = number;
  }
  return out;
}

/// One setting line as fwknop's `--save-rc-stanza` writes it: `%-24s    %s\n`.
inline std::string format_setting(std::string_view name, std::string_view value) {
  std::string out{name};
  if (out.size() < 24) out.resize(24, ' ');
  return out + "    " + std::string{value} + '\n';
}

/// `text` with stanza `name` holding exactly `settings`: the setting lines of every `[name]`
/// section are dropped (comments and blank lines stay) and `settings` follow its first header; a
/// missing stanza is appended. Other stanzas are kept byte for byte.
inline std::string update(std::string_view text, std::string_view name,
                          const std::vector<setting>& settings) {
  std::string body;
  for (const setting& s : settings) body += format_setting(s.name, s.value);
  std::string out;
  bool inside = false, written = false;
  for (std::string_view line : detail::lines(text)) {
    std::string_view section;
    if (detail::header(line, section)) {
      inside = detail::iequal(section, name);
      out += line;
      if (!line.ends_with('\n')) out += '\n';
      if (inside && !written) out += body, written = true;
      continue;
    }
    if (inside && !detail::is_comment_or_blank(line)) continue;
    out += line;
  }
  if (!written) {
    if (!out.empty() && !out.ends_with('\n')) out += '\n';
    if (!out.empty()) out += '\n';
    out += '[' + std::string{name} + "]\n" + body;
  }
  return out;
}

}  // namespace knock::fwknoprc
