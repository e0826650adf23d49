// SPDX-License-Identifier: MIT
#pragma once
// Start-up steps around the parts: who the daemon becomes (and whether that account can keep its
// files), dropping root once the capture and the firewall are open (leaving a configuration
// reader behind for reloads), the pid file (RAII), the replay store (the replay log, or
// memory), and the line that says what memory the configuration takes.

#include "config_reader.hpp"
#include "log.hpp"
#include "run_as.hpp"
#include "settings.hpp"

#include <knock/core/size_text.hpp>
#include <knock/replay/file_store.hpp>
#include <knock/replay/memory_store.hpp>
#include <knock/system/privileges.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace knock_server {

/// Started as root: the account to become after start-up, its run directory claimed, and a
/// check that it can keep the replay log. Not root: nullopt (the daemon stays who it is).
inline knock::result<std::optional<account>> plan_account(const settings& s) {
  if (::geteuid() != 0) {
    ::mkdir(s.run_dir.c_str(), 0700);
    return std::optional<account>{};
  }
  auto who = find_account(s.user);
  if (!who) return knock::fail(who.error());
  if (who->is_root()) {
    ::mkdir(s.run_dir.c_str(), 0700);
    return std::optional<account>{*who};
  }
  (void)claim_run_dir(s.run_dir, *who,
                      {file_name_of(s.pid_file), file_name_of(s.digest_file),
                       file_name_of(s.digest_file) + ".tmp"});
  if (s.digest_persistence)
    if (auto ok = may_access(*who, directory_of(s.digest_file), W_OK | X_OK); !ok)
      return knock::fail(knock::error{
          knock::errc::config_invalid,
          "DIGEST_FILE " + s.digest_file + ": user " + who->name +
              ", which the daemon runs as after start-up, cannot write in " +
              directory_of(s.digest_file) + ": " + to_string(ok.error()) +
              " (make it writable, choose another DIGEST_FILE, or set KNOCK_USER / --user)"});
  return std::optional<account>{*who};
}

/// Becomes `who` (or stays, with only the capabilities needed) once what only root may open is
/// open; also when started unprivileged with capabilities, e.g. by systemd. When the uid changes,
/// a configuration reader (config_reader.hpp) is forked first, for reloads: returned.
template <class Stanzas>
knock::result<std::optional<config_reader>> drop_root(const std::optional<account>& who,
                                                      const settings& s, const options& o,
                                                      knock::firewall::privileges needs,
                                                      const Stanzas& stanzas, const logger& log) {
  if (who && who->is_root()) {
    log(LOG_WARNING, "KNOCK_USER is root: the daemon keeps running as root");
    return std::optional<config_reader>{};
  }
  // sudo is set-uid root, and the privilege drop sets no_new_privs: it could not switch users.
  for (const auto& st : stanzas)
    if (st.enable_cmd_exec && st.enable_cmd_sudo_exec)
      return knock::fail(knock::error{
          knock::errc::config_invalid,
          st.file + ":" + std::to_string(st.line) +
              ": ENABLE_CMD_SUDO_EXEC: sudo cannot work in a daemon that gave up root (it runs "
              "with no_new_privs): set KNOCK_USER root to run commands through sudo as fwknopd "
              "does, or use CMD_EXEC_USER / CMD_EXEC_GROUP"});
  const account me = who ? *who : current_account();
  const auto plan = privilege_plan_for(me, needs, stanzas);
  // The gpg-agents root started while GnuPG keys were opened would keep their homes from the
  // account the daemon becomes: stopped here, that account starts its own.
  for (const auto& st : stanzas)
    if constexpr (requires { st.cipher.release_asymmetric_agent(st.key); })
      if (me.uid != ::getuid()) st.cipher.release_asymmetric_agent(st.key);
  // What the daemon read as root at start-up it could not read again as `me` (a root-only
  // access.conf): a reader, forked now, reads it for each reload and keeps nothing else.
  std::optional<config_reader> reader;
  if (me.uid != ::getuid()) {
    auto started = config_reader::start(
        {s.access_file, s.access_folder, o.strict_config, s.syslog_identity, s.syslog_facility}, me,
        log);
    if (!started) return knock::fail(started.error());
    reader.emplace(*std::move(started));
  }
  if (auto dropped = knock::system::drop_privileges(plan); !dropped)
    return knock::fail(knock::error{dropped.error().code,
                                    "cannot drop privileges: " + to_string(dropped.error())});
  log(LOG_NOTICE, "running as " + me.name + " (uid " + std::to_string(me.uid) + "), capabilities " +
                      plan.keep.to_string());
  if (reader)
    log(LOG_NOTICE, "configuration reader: pid " + std::to_string(reader->pid()) + " reads " +
                        (s.access_folder.empty() ? s.access_file : s.access_folder) +
                        " and what it includes for reloads");
  // GnuPG runs as the daemon's account from now on: its keyrings must work for it.
  for (const auto& st : stanzas)
    if constexpr (requires { st.cipher.check_asymmetric_key(st.key); })
      if (auto ok = st.cipher.check_asymmetric_key(st.key); !ok)
        return knock::fail(knock::error{
            ok.error().code, ok.error().message + " (as " + me.name +
                                 ", after dropping root: give that account the keyring, or set "
                                 "KNOCK_USER to its owner)"});
  return reader;
}

/// The pid file, written as the account the daemon runs as and removed when the daemon ends.
class pid_file {
 public:
  pid_file(std::string path, const logger& log) : path_{std::move(path)} {
    if (std::FILE* f = std::fopen(path_.c_str(), "w"))
      std::fprintf(f, "%d\n", ::getpid()), std::fclose(f);
    else
      log(LOG_WARNING, "cannot write the pid file " + path_ + ": " + std::strerror(errno));
  }
  pid_file(const pid_file&) = delete;
  pid_file& operator=(const pid_file&) = delete;
  ~pid_file() { ::unlink(path_.c_str()); }

 private:
  std::string path_;
};

/// The daemon's resident set now, in bytes (`/proc/self/statm`); 0 when it cannot tell.
inline std::size_t resident_bytes() {
  std::size_t pages = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%zu %zu", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// "1,234,567": a count for a log line.
inline std::string grouped(std::size_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

/// The start-up line saying what the configuration costs in memory, each part as its owner says
/// it: "memory: capture ring 3 MiB (eth0); replay 3.8 KiB now, up to 1.9 MiB for 65,536 packets;
/// firewall nftables +312 KiB resident while opening; resident now 6.1 MiB".
template <class Capture, class Store>
std::string memory_line(const Capture& capture, const Store& store, const settings& s,
                        std::size_t firewall_resident) {
  std::string line{"memory: "};
  const std::string said = capture.memory();
  line.append(said.empty() ? "capture " + s.capture : said)
      .append("; replay ")
      .append(knock::size_text(store.bytes()))
      .append(" now, up to ")
      .append(knock::size_text(store.bytes_at_capacity()))
      .append(" for ")
      .append(grouped(s.replay_capacity))
      .append(" packets (KNOCK_REPLAY_CAPACITY); firewall ")
      .append(s.firewall)
      .append(" +")
      .append(knock::size_text(firewall_resident))
      .append(" resident while opening; resident now ")
      .append(knock::size_text(resident_bytes()));
  return line;
}

/// The replay log (DIGEST_FILE), opened as the account the daemon runs as.
inline knock::result<knock::replay::file_store> open_replay_log(const settings& s,
                                                                knock::epoch_seconds now,
                                                                const logger& log) {
  auto store = knock::replay::file_store::open(s.digest_file, now, s.replay_keys());
  if (!store)
    return knock::fail(
        knock::error{store.error().code,
                     "cannot open the replay log (DIGEST_FILE): " + to_string(store.error())});
  if (store->report().corrupt != 0)
    log(LOG_WARNING,
        s.digest_file + ": skipped " + std::to_string(store->report().corrupt) +
            " corrupt line(s) of the replay log (garbage, or a write torn by a crash)");
  return store;
}

}  // namespace knock_server
