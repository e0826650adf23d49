// SPDX-License-Identifier: MIT
#pragma once
// knock-client's command line: fwknop's client options with the same meaning. An option that has
// a .fwknoprc variable becomes an `assignment` of that variable (applied after the rc file, so the
// command line wins); the others steer the program.

#include "settings.hpp"

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace knock_client {

constexpr std::string_view usage_text =
    R"(usage: knock-client -A <proto/port,...> [-a IP | -s] -D <server> [options]

Sends an fwknop Single Packet Authorization packet (fwknop 2.6 wire format).
  -A, --access LIST           ports to open: tcp/22,udp/53
  -a, --allow-ip IP           the address to open for      -s, --source-ip   use the packet's source
  -D, --destination HOST      the fwknopd server (name, IPv4 or IPv6 address)
  -p, --server-port PORT      destination port (62201)     -S, --source-port PORT
  -P, --server-proto PROTO    udp (default), tcp, http, or udpraw, tcpraw, icmp (raw: root)
  -4, --server-resolve-ipv4 / -6, --ipv6                   -r, --rand-port   a random port
  -Q, --spoof-source IP       the source address of a raw packet (-P udpraw|tcpraw|icmp)
      --icmp-type N (0..40, default 0), --icmp-code N (0..15, default 0)
  -H, --http-proxy URL        send the HTTP request through this proxy (sets -P http)
  -u, --user-agent UA         the HTTP User-Agent (default Fwknop/2.6.10)
  -f, --fw-timeout SECONDS    ask for this access time     -C, --server-cmd CMD   command message
  -N, --nat-access HOST:PORT  NAT access to an inside host --nat-local, --nat-port PORT
      --nat-rand-port         ask the server to translate a random port
  -U, --spoof-user NAME       username (default: SPOOF_USER, LOGNAME, login, USER)
  -M, --encryption-mode MODE  cbc ctr cfb ofb ecb legacy   -m, --digest-type HASH (sha256)
      --use-hmac, --hmac-digest-type HASH   HASH: md5 sha1 sha256 sha384 sha512 sha3_256 sha3_512
      --key-rijndael KEY, --key-base64-rijndael B64, -G, --get-key FILE
      --key-hmac KEY, --key-base64-hmac B64, --get-hmac-key FILE
      --gpg-encryption, -M asymmetric    GnuPG: --gpg-recipient-key ID (the server's key),
      --gpg-signer-key ID, --gpg-home-dir DIR, --gpg-exe PATH, --gpg-agent, --gpg-no-signing-pw
      --stdin, --fd N         read keys given no other way: the first line is the encryption key,
                              the next the HMAC key
  -k, --key-gen [--key-len N] [--hmac-key-len N]           print KEY_BASE64 / HMAC_KEY_BASE64
  -K, --key-gen-file FILE     write them to FILE
  -n, --named-config NAME     use [NAME] of ~/.fwknoprc    --rc-file FILE, --no-rc-file
      --stanza-list           list the rc file's stanzas
      --save-rc-stanza        save these options as [NAME] (-n, else -D); --force-stanza
  -T, --test                  build and print, send nothing
  -B, --save-packet FILE      save the packet (-b, --save-packet-append: append)
  -v, --verbose               print the packet's fields
  -E, --save-args-file FILE   save this command line there (knock-client saves it only when asked)
  -l, --last-cmd              run the command line saved in -E FILE (default ~/.fwknop.run)
      --show-last             print it                     --no-save-args
      --no-home-dir           do not use HOME (then --rc-file or --no-rc-file, and -E, are needed)
  -R, --resolve-ip-https      (fwknop asks a web service for the address; knock-client does not:
                              give -a, which overrides -R as in fwknop)
      --time-offset-plus T, --time-offset-minus T          shift the timestamp: 30s, 5m, 1h, 1d
  -h, --help                  -V, --version
)";

/// An option that sets a .fwknoprc variable, as the user typed it.
struct assignment {
  std::string spelled;  ///< "-A", "--access": for messages
  std::string variable;
  secret_text value;  ///< may be a key
};

/// The parsed command line.
struct command_line {
  std::vector<assignment> assignments;  ///< in argv order
  std::string command;                  ///< -C
  bool ipv6 = false;                    ///< -6
  bool test = false;                    ///< -T
  std::string save_packet;              ///< -B
  bool append = false;                  ///< -b
  std::string stanza;                   ///< -n
  std::string rc_file;                  ///< --rc-file
  bool no_rc_file = false, save_rc_stanza = false, force_stanza = false;
  bool key_gen = false;      ///< -k, -K
  std::string key_gen_file;  ///< -K
  std::size_t key_len = 32;  ///< --key-len
  std::optional<std::size_t> hmac_key_len;
  std::optional<int> input_fd;  ///< --stdin (0), --fd N
  bool help = false, version = false;
  std::string http_proxy;                            ///< -H (also sets SPA_SERVER_PROTO http)
  std::optional<std::uint8_t> icmp_type, icmp_code;  ///< --icmp-type, --icmp-code
  std::string save_args_file;                        ///< -E
  bool no_save_args = false;                         ///< --no-save-args
  bool last_cmd = false, show_last = false,
       stanza_list = false;  ///< -l, --show-last, --stanza-list
  bool no_home_dir = false;  ///< --no-home-dir: HOME is not used (--rc-file and -E are needed)
};

namespace options {

struct spec {
  char short_name;  // 0: none
  std::string_view long_name;
  bool takes_value;
  std::string_view variable = {};  // the .fwknoprc variable it sets
  std::string_view fixed = {};     // the value a flag gives that variable
  std::string_view implies = {};   // a variable the option also sets to Y
};

inline constexpr std::array table{
    spec{'A', "access", true, "ACCESS"},
    spec{'a', "allow-ip", true, "ALLOW_IP"},
    spec{'s', "source-ip", false, "ALLOW_IP", "source"},
    spec{'D', "destination", true, "SPA_SERVER"},
    spec{'p', "server-port", true, "SPA_SERVER_PORT"},
    spec{'P', "server-proto", true, "SPA_SERVER_PROTO"},
    spec{'S', "source-port", true, "SPA_SOURCE_PORT"},
    spec{'f', "fw-timeout", true, "FW_TIMEOUT"},
    spec{'N', "nat-access", true, "NAT_ACCESS"},
    spec{0, "nat-local", false, "NAT_LOCAL", "Y"},
    spec{0, "nat-port", true, "NAT_PORT"},
    spec{'U', "spoof-user", true, "SPOOF_USER"},
    spec{'M', "encryption-mode", true, "ENCRYPTION_MODE"},
    spec{'m', "digest-type", true, "DIGEST_TYPE"},
    spec{0, "use-hmac", false, "USE_HMAC", "Y"},
    spec{0, "hmac-digest-type", true, "HMAC_DIGEST_TYPE", {}, "USE_HMAC"},
    spec{0, "key-rijndael", true, "KEY"},
    spec{0, "key-base64-rijndael", true, "KEY_BASE64"},
    spec{0, "key-hmac", true, "HMAC_KEY", {}, "USE_HMAC"},
    spec{0, "key-base64-hmac", true, "HMAC_KEY_BASE64", {}, "USE_HMAC"},
    spec{'G', "get-key", true, "KEY_FILE"},
    spec{0, "get-hmac-key", true, "HMAC_KEY_FILE", {}, "USE_HMAC"},
    spec{0, "gpg-encryption", false, "USE_GPG", "Y"},  // gpg.hpp: every --gpg-* sets USE_GPG
    spec{0, "gpg-recipient-key", true, "GPG_RECIPIENT", {}, "USE_GPG"},
    spec{0, "gpg-signer-key", true, "GPG_SIGNER", {}, "USE_GPG"},
    spec{0, "gpg-home-dir", true, "GPG_HOMEDIR", {}, "USE_GPG"},
    spec{0, "gpg-exe", true, "GPG_EXE", {}, "USE_GPG"},
    spec{0, "gpg-agent", false, "USE_GPG_AGENT", "Y", "USE_GPG"},
    spec{0, "gpg-no-signing-pw", false, "GPG_NO_SIGNING_PW", "Y", "USE_GPG"},
    spec{0, "time-offset-plus", true, "TIME_OFFSET"},
    spec{0, "time-offset-minus", true, "TIME_OFFSET"},
    spec{'4', "server-resolve-ipv4", false, "SERVER_RESOLVE_IPV4", "Y"},
    spec{'v', "verbose", false, "VERBOSE", "Y"},
    spec{'Q', "spoof-source", true, "SPOOF_SOURCE_IP"},
    spec{0, "spoof-src", true, "SPOOF_SOURCE_IP"},
    spec{'r', "rand-port", false, "RAND_PORT", "Y"},
    spec{0, "nat-rand-port", false, "NAT_RAND_PORT", "Y"},
    spec{'R', "resolve-ip-https", false, "RESOLVE_IP_HTTPS", "Y"},
    spec{0, "resolve-ip-http", false, "RESOLVE_IP_HTTPS", "Y"},
    spec{0, "resolve-http-only", false, "RESOLVE_HTTP_ONLY", "Y", "RESOLVE_IP_HTTPS"},
    spec{0, "resolve-url", true, "RESOLVE_URL"},
    spec{'u', "user-agent", true, "HTTP_USER_AGENT"},
    spec{0, "use-wget-user-agent", false, "USE_WGET_USER_AGENT", "Y"},
    spec{'w', "wget-cmd", true, "WGET_CMD"},
    spec{'H', "http-proxy", true},
    spec{0, "icmp-type", true},
    spec{0, "icmp-code", true},
    spec{'E', "save-args-file", true},
    spec{'l', "last-cmd", false},
    spec{0, "show-last", false},
    spec{0, "stanza-list", false},
    spec{0, "no-home-dir", false},
    spec{'6', "ipv6", false},
    spec{'C', "server-cmd", true},
    spec{'T', "test", false},
    spec{'B', "save-packet", true},
    spec{'b', "save-packet-append", false},
    spec{'n', "named-config", true},
    spec{0, "rc-file", true},
    spec{0, "no-rc-file", false},
    spec{0, "save-rc-stanza", false},
    spec{0, "force-stanza", false},
    spec{'k', "key-gen", false},
    spec{'K', "key-gen-file", true},
    spec{0, "key-len", true},
    spec{0, "hmac-key-len", true},
    spec{0, "stdin", false},
    spec{0, "fd", true},
    spec{0, "no-save-args", false},
    spec{'h', "help", false},
    spec{'V', "version", false},
};

inline const spec* find_long(std::string_view name) {
  for (const spec& s : table)
    if (s.long_name == name) return &s;
  return nullptr;
}
inline const spec* find_short(char c) {
  for (const spec& s : table)
    if (s.short_name == c) return &s;
  return nullptr;
}

/// Records one option; an error message when its value is refused.
inline std::optional<std::string> take(command_line& cl, const spec& o, std::string spelled,
                                       std::string_view value) {
  if (!o.variable.empty()) {
    std::string v{o.takes_value ? value : o.fixed};
    if (o.long_name == "time-offset-minus") v.insert(0, 1, '-');
    cl.assignments.push_back({spelled, std::string{o.variable}, secret_text{v}});
    if (!o.implies.empty())
      cl.assignments.push_back({spelled, std::string{o.implies}, secret_text{"Y"}});
    return std::nullopt;
  }
  const std::string_view n = o.long_name;
  const auto count = [&](std::size_t max) -> std::optional<std::size_t> {
    const auto v = values::number(value, static_cast<std::uint32_t>(max));
    if (!v || *v == 0) return std::nullopt;
    return *v;
  };
  const auto small = [&](std::uint32_t max) -> std::optional<std::string> {
    const auto v = values::number(value, max);
    if (!v)
      return spelled + ": " + values::quoted(value) + " is not in 0.." + std::to_string(max) +
             " (fwknop's range)";
    (n == "icmp-type" ? cl.icmp_type : cl.icmp_code) = static_cast<std::uint8_t>(*v);
    return std::nullopt;
  };
  if (n == "icmp-type") return small(40);
  if (n == "icmp-code") return small(15);
  if (n == "http-proxy") {  // as fwknop: -H also chooses HTTP (a later -P may change it)
    cl.http_proxy = value;
    cl.assignments.push_back({spelled, "SPA_SERVER_PROTO", secret_text{"http"}});
  } else if (n == "save-args-file")
    cl.save_args_file = value;
  else if (n == "no-save-args")
    cl.no_save_args = true;
  else if (n == "last-cmd")
    cl.last_cmd = true;
  else if (n == "show-last")
    cl.show_last = true;
  else if (n == "stanza-list")
    cl.stanza_list = true;
  else if (n == "no-home-dir")
    cl.no_home_dir = true;
  else if (n == "ipv6")
    cl.ipv6 = true;
  else if (n == "server-cmd")
    cl.command = value;
  else if (n == "test")
    cl.test = true;
  else if (n == "save-packet")
    cl.save_packet = value;
  else if (n == "save-packet-append")
    cl.append = true;
  else if (n == "named-config")
    cl.stanza = value;
  else if (n == "rc-file")
    cl.rc_file = value;
  else if (n == "no-rc-file")
    cl.no_rc_file = true;
  else if (n == "save-rc-stanza")
    cl.save_rc_stanza = true;
  else if (n == "force-stanza")
    cl.force_stanza = true;
  else if (n == "key-gen")
    cl.key_gen = true;
  else if (n == "key-gen-file")
    cl.key_gen = true, cl.key_gen_file = value;
  else if (n == "key-len") {
    const auto v = count(32);
    if (!v) return spelled + ": " + values::quoted(value) + " is not a key length (1..32)";
    cl.key_len = *v;
  } else if (n == "hmac-key-len") {
    const auto v = count(128);
    if (!v) return spelled + ": " + values::quoted(value) + " is not a key length (1..128)";
    cl.hmac_key_len = *v;
  } else if (n == "stdin")
    cl.input_fd = 0;
  else if (n == "fd") {
    const auto v = values::number(value, 1 << 20);
    if (!v) return spelled + ": " + values::quoted(value) + " is not a file descriptor";
    cl.input_fd = static_cast<int>(*v);
  } else if (n == "help")
    cl.help = true;
  else if (n == "version")
    cl.version = true;
  return std::nullopt;
}

}  // namespace options

/// Parses the arguments after the program name. Options may be given as `-A tcp/22`, `-Atcp/22`,
/// `--access tcp/22` or `--access=tcp/22`; flags may be bundled (`-sT`).
inline result<command_line, std::string> parse_command_line(std::span<const char* const> args) {
  command_line cl;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const auto next_argument = [&]() -> std::optional<std::string_view> {
      if (i + 1 == args.size()) return std::nullopt;
      return std::string_view{args[++i]};
    };
    if (arg.starts_with("--") && arg.size() > 2) {
      const std::size_t eq = arg.find('=');
      const std::string_view name = arg.substr(2, eq == std::string_view::npos ? arg.npos : eq - 2);
      const options::spec* o = options::find_long(name);
      const std::string spelled = "--" + std::string{name};
      if (o == nullptr)
        return knock::fail("unknown option " + values::quoted(spelled) + " (see --help)");
      std::optional<std::string_view> value;
      if (eq != std::string_view::npos) {
        if (!o->takes_value) return knock::fail(spelled + " takes no value");
        value = arg.substr(eq + 1);
      } else if (o->takes_value && !(value = next_argument())) {
        return knock::fail(spelled + " needs a value");
      }
      if (auto e = options::take(cl, *o, spelled, value.value_or(""))) return knock::fail(*e);
      continue;
    }
    // Not quoted: a stray argument is often half of a key with a space in it.
    if (!arg.starts_with('-') || arg.size() < 2)
      return knock::fail("unexpected argument #" + std::to_string(i + 1) +
                         " (not an option; see --help)");
    for (std::size_t j = 1; j < arg.size(); ++j) {
      const options::spec* o = options::find_short(arg[j]);
      const std::string spelled = std::string{"-"} + arg[j];
      if (o == nullptr)
        return knock::fail("unknown option " + values::quoted(spelled) + " (see --help)");
      std::optional<std::string_view> value;
      if (o->takes_value) {
        value = j + 1 < arg.size() ? std::optional{arg.substr(j + 1)} : next_argument();
        if (!value) return knock::fail(spelled + " needs a value");
        j = arg.size();
      }
      if (auto e = options::take(cl, *o, spelled, value.value_or(""))) return knock::fail(*e);
    }
  }
  return cl;
}

}  // namespace knock_client
