// SPDX-License-Identifier: MIT
#pragma once
// fwknop's saved command line: -E/--save-args-file FILE keeps the command line of a run (one line,
// the words joined by spaces, mode 0600); --show-last prints it; -l/--last-cmd runs it again.
// fwknop also writes ~/.fwknop.run on every run unless --no-save-args; knock-client writes the
// file only when -E names it (a command line may hold a key), and reads ~/.fwknop.run for -l and
// --show-last without -E, so fwknop's own file works.

#include "files.hpp"

#include <knock/core/result.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <span>
#include <string>
#include <vector>

namespace knock_client {

/// fwknop's limits: a saved line under 1024 characters, at most 30 words.
inline constexpr std::size_t max_args_line = 1023;
inline constexpr std::size_t max_args_words = 30;

/// Where the command line is saved: `file` (-E), else $HOME/.fwknop.run (empty: no HOME).
inline std::string args_file_path(const std::string& file) {
  if (!file.empty()) return file;
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0' ? std::string{home} + "/.fwknop.run" : std::string{};
}

/// The words of `argv` (the program name first) joined as fwknop saves them, ending in a LF.
inline knock::result<std::string, std::string> join_args(std::span<const char* const> argv) {
  std::string line;
  for (const char* a : argv) line.append(a).append(" ");
  if (line.size() > max_args_line)
    return knock::fail(std::string{"the command line is too long to save (fwknop: 1023)"});
  return line + '\n';
}

/// Splits a saved line at white space, as fwknop does (no quoting), the program name first.
inline knock::result<std::vector<std::string>, std::string> split_args(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      if (!word.empty()) words.push_back(std::move(word)), word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  if (words.size() > max_args_words)
    return knock::fail(std::string{"the saved command line has more than 30 words"});
  if (words.empty()) return knock::fail(std::string{"the saved command line is empty"});
  return words;
}

/// The first line of the saved command line at `path`. As fwknop, the file must be a regular file
/// owned by this user.
inline knock::result<std::string, std::string> read_args_line(const std::string& path) {
  if (path.empty()) return knock::fail(std::string{"no args file: HOME is not set (use -E FILE)"});
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return knock::fail("cannot open args file '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return knock::fail("args file '" + path + "' is not a regular file");
  if (st.st_uid != ::geteuid())
    return knock::fail("args file '" + path + "' is not owned by this user");
  std::ifstream in{path};
  std::string line;
  if (!in || !std::getline(in, line))
    return knock::fail("cannot read a line from args file '" + path + "'");
  if (line.size() > max_args_line) line.resize(max_args_line);
  return line;
}

/// Saves `argv` at `path` (mode 0600).
inline knock::result<void, std::string> save_args(const std::string& path,
                                                  std::span<const char* const> argv) {
  auto line = join_args(argv);
  if (!line) return knock::fail(line.error());
  return write_private_file(path, *line);
}

}  // namespace knock_client
