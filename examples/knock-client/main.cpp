// SPDX-License-Identifier: MIT
// knock-client: an fwknop-compatible SPA client. It takes fwknop's client options with the same
// meaning (see --help), reads ~/.fwknoprc stanzas, and sends packets that fwknopd accepts.
//
// Exit status: 0 done; 1 a run-time failure (keys, rc file, name resolution, sending); 2 a usage
// error. Every failure is one line on stderr, and nothing is sent after one.
#include "args_file.hpp"
#include "build.hpp"
#include "command_line.hpp"
#include "gpg_packet.hpp"
#include "keys.hpp"
#include "rc.hpp"
#include "report.hpp"

#include <knock/client.hpp>
#include <knock/client/http.hpp>
#include <knock/client/random.hpp>
#include <knock/client/send.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace knock_client;

int failure(const std::string& what, int status = 1) {
  std::fprintf(stderr, "knock-client: %s\n", what.c_str());
  return status;
}

// One sentence per reason a packet cannot be made.
std::string packet_error(const knock::error& e) {
  switch (e.code) {
    case knock::errc::request_too_long:
      return "the packet would be 400 characters or more, which fwknopd takes for GPG data and "
             "refuses: shorten -C or -A, or use a shorter HMAC or digest";
    case knock::errc::packet_too_short:
      return "the packet would be shorter than 140 characters, which fwknopd ignores: use a longer "
             "digest (-m sha256) or an HMAC";
    default: return knock::to_string(e);
  }
}

// Where the rc file is: --rc-file, else $HOME/.fwknoprc (empty: none).
std::string rc_path(const command_line& cl) {
  if (!cl.rc_file.empty()) return cl.rc_file;
  const char* home = std::getenv("HOME");
  return home != nullptr && *home != '\0' ? std::string{home} + "/.fwknoprc" : std::string{};
}

// Applies the rc file's [default] and the -n stanza to `s` (fwknop does not read the stanza it is
// asked to save). `path` and `text` tell where the rc file is and what it holds. An exit status
// when the run must stop.
std::optional<int> read_rc_settings(const command_line& cl, settings& s, std::string& path,
                                    std::optional<std::string>& text) {
  const std::string name = values::printable(cl.stanza);
  if (cl.no_rc_file) {
    if (cl.save_rc_stanza) return failure("--save-rc-stanza cannot be used with --no-rc-file", 2);
    if (!cl.stanza.empty()) return failure("-n cannot be used with --no-rc-file", 2);
    return std::nullopt;
  }
  path = rc_path(cl);
  if (path.empty()) {
    if (!cl.stanza.empty() || cl.save_rc_stanza)
      return failure("no rc file: HOME is not set (use --rc-file)");
    return std::nullopt;
  }
  auto read = read_rc(path);
  if (!read) return failure(read.error());
  text = *std::move(read);
  const bool wants_stanza = !cl.stanza.empty() && !cl.save_rc_stanza;
  if (!text) {
    if (!cl.rc_file.empty() && !cl.save_rc_stanza)
      return failure("rc file '" + path + "' does not exist");
    if (wants_stanza)
      return failure("named configuration stanza [" + name + "] was not found: no " + path);
    return std::nullopt;
  }
  if (auto ok = apply_stanza(s, *text, "default", path); !ok) return failure(ok.error());
  if (!wants_stanza) return std::nullopt;
  auto found = apply_stanza(s, *text, cl.stanza, path);
  if (!found) return failure(found.error());
  if (!*found) return failure("named configuration stanza [" + name + "] was not found in " + path);
  return std::nullopt;
}

// --key-gen: prints the keys (or writes them to -K FILE or into the rc stanza).
int key_gen(const command_line& cl, const settings& s, const std::string& path,
            const std::optional<std::string>& rc_text, saved_values saved,
            const std::string& name) {
  auto keys =
      generate_keys(cl.key_len, cl.hmac_key_len, s.hmac_type.value_or(knock::hash_id::sha256));
  if (!keys) return failure(keys.error());
  const std::string text =
      "KEY_BASE64: " + keys->first.str() + "\nHMAC_KEY_BASE64: " + keys->second.str() + '\n';
  if (cl.save_rc_stanza) {
    saved["KEY_BASE64"] = keys->first.str();
    saved["HMAC_KEY_BASE64"] = keys->second.str();
    if (auto ok = save_stanza(path, rc_text, name, saved, cl.force_stanza); !ok)
      return failure(ok.error());
    std::printf("[+] Wrote Rijndael and HMAC keys to rc file: %s\n", path.c_str());
  } else if (!cl.key_gen_file.empty()) {
    if (auto ok = write_private_file(cl.key_gen_file, text); !ok) return failure(ok.error());
    std::printf("[+] Wrote Rijndael and HMAC keys to: %s\n", cl.key_gen_file.c_str());
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// --stanza-list: the rc file's stanzas other than [default], as fwknop lists them.
int stanza_list(const command_line& cl) {
  if (cl.no_rc_file) return failure("--stanza-list cannot be used with --no-rc-file", 2);
  const std::string path = rc_path(cl);
  auto text = path.empty() ? decltype(read_rc(path)){std::nullopt} : read_rc(path);
  if (!text) return failure(text.error());
  if (!*text)
    return failure("cannot list stanzas: no rc file " +
                   (path.empty() ? "(HOME is not set)" : path));
  std::printf("The following stanzas are configured in %s :\n", path.c_str());
  for (std::string_view line : knock::fwknoprc::detail::lines(**text)) {
    std::string_view name;
    if (knock::fwknoprc::detail::header(line, name) &&
        !knock::fwknoprc::detail::iequal(name, "default"))
      std::printf(" - %s\n", values::printable(name).c_str());
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

// A random port in fwknop's 10000..65534 (-r, --nat-rand-port, a raw packet's source port).
std::optional<std::uint16_t> random_port() {
  auto random = knock::os_random::make();
  std::array<knock::byte, 4> b{};
  if (!random || !random->fill(b)) return std::nullopt;
  const std::uint32_t n = static_cast<std::uint32_t>(b[0]) << 24 |
                          static_cast<std::uint32_t>(b[1]) << 16 |
                          static_cast<std::uint32_t>(b[2]) << 8 | b[3];
  return static_cast<std::uint16_t>(10000 + n % (65535 - 10000));
}

// The checks fwknop makes once every setting is known. An exit status when the run must stop.
std::optional<int> check_settings(const command_line& cl, settings& s) {
  if (!s.spoof_source.empty() && !knock::is_raw(s.protocol))
    return failure("-Q / SPOOF_SOURCE_IP: a spoofed source needs -P udpraw, tcpraw or icmp");
  if (!cl.http_proxy.empty() && s.protocol != knock::transport::http)
    return failure(
        "-H (an HTTP proxy) cannot be used with -P " + std::string{knock::to_string(s.protocol)},
        2);
  if (!cl.http_proxy.empty())
    if (auto proxy = knock::parse_http_proxy(cl.http_proxy, s.server_port); !proxy)
      return failure("-H: " + proxy.error());
  if (!s.allow_ip.empty()) s.resolve_ip = false;  // -a overrides -R (fwknop)
  if (s.resolve_ip && cl.command.empty() && !cl.key_gen)
    return failure(
        "-R: knock-client does not ask a web service for this host's address (fwknop does, "
        "with wget): give it with -a IP, or -s to use the packet's source");
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  auto cl = parse_command_line({argv + 1, static_cast<std::size_t>(argc - 1)});
  if (!cl) return failure(cl.error(), 2);
  if (cl->no_home_dir && cl->rc_file.empty() && !cl->no_rc_file)
    return failure("--no-home-dir needs --rc-file FILE (or --no-rc-file), as fwknop");
  if (cl->no_home_dir && cl->save_args_file.empty())
    return failure("--no-home-dir needs -E FILE (where fwknop saves the command line)");
  if (cl->last_cmd || cl->show_last) {
    const std::string args_path = args_file_path(cl->save_args_file);
    auto line = read_args_line(args_path);
    if (!line) return failure(line.error());
    if (cl->show_last) {
      // fwknop prints the line with its LF, then one more.
      std::printf("Last fwknop client command line: %s\n\n", values::printable(*line).c_str());
      return std::fflush(stdout) == 0 ? 0 : 1;
    }
    auto words = split_args(*line);
    if (!words) return failure(args_path + ": " + words.error());
    std::vector<const char*> again;
    for (std::size_t i = 1; i < words->size(); ++i) again.push_back((*words)[i].c_str());
    auto last = parse_command_line(again);
    if (!last) return failure(args_path + ": " + last.error(), 2);
    if (last->last_cmd || last->show_last)
      return failure(args_path + ": the saved command line asks for -l again", 2);
    *cl = *std::move(last);  // as fwknop: the saved command line replaces this one
  } else if (!cl->save_args_file.empty() && !cl->no_save_args) {
    if (auto ok = save_args(cl->save_args_file, {argv, static_cast<std::size_t>(argc)}); !ok)
      return failure(ok.error());
  }
  if (cl->stanza_list) return stanza_list(*cl);
  if (cl->help || cl->version) {
    if (cl->help)
      std::fwrite(usage_text.data(), 1, usage_text.size(), stdout);
    else
      std::printf("knock-client 0.1.0 (fwknop 2.6 wire format, FKO protocol 3.0.0)\n");
    return std::fflush(stdout) == 0 ? 0 : 1;
  }

  // Settings: fwknop's defaults, then [default], then the named stanza, then the command line.
  settings s;
  std::string path;
  std::optional<std::string> rc_text;
  if (auto stop = read_rc_settings(*cl, s, path, rc_text)) return *stop;
  saved_values saved;
  for (const assignment& a : cl->assignments) {
    auto r = apply(s, a.variable, a.value.str());
    if (!r) return failure(a.spelled + ": " + r.error(), 2);
    saved[a.variable] = *r;
  }
  if (auto stop = check_settings(*cl, s)) return *stop;
  const std::string stanza_name = cl->stanza.empty() ? s.server : cl->stanza;
  if (cl->save_rc_stanza && stanza_name.empty())
    return failure("--save-rc-stanza needs -n NAME (or -D, whose value names the stanza)", 2);

  if (cl->key_gen) return key_gen(*cl, s, path, rc_text, saved, stanza_name);

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  if (s.nat_rand_port && cl->command.empty()) {  // as fwknop: the port to translate is random
    const auto port = random_port();
    if (!port) return failure("no randomness from the operating system");
    s.nat_port = *port;
  }
  auto request = make_request(s, cl->command, now, default_username());
  if (!request) return failure(request.error());
  std::optional<knock::destination> dest;
  if (request && s.nat_rand_port && cl->command.empty())
    std::printf("[+] Randomly assigned port '%u' on: '%s,%s' will grant access to: '%s'\n",
                static_cast<unsigned>(s.nat_port), request->allow_ip.c_str(),
                request->access.c_str(), request->nat_access.c_str());
  if (!cl->test) {
    auto d = make_destination(s, cl->ipv6);
    if (!d) return failure(d.error());
    if (s.rand_port || (knock::is_raw(d->protocol) && d->source_port == 0)) {
      const auto dst = s.rand_port ? random_port() : std::optional{d->port};
      const auto src = random_port();
      if (!dst || !src) return failure("no randomness from the operating system");
      d->port = *dst;
      if (knock::is_raw(d->protocol) && d->source_port == 0) d->source_port = *src;
    }
    d->spoof_source = s.spoof_source;
    d->icmp_type = cl->icmp_type.value_or(0);  // fwknop's default: echo reply
    d->icmp_code = cl->icmp_code.value_or(0);
    d->http_proxy = cl->http_proxy;
    if (!s.user_agent.empty()) d->user_agent = s.user_agent;
    dest = *std::move(d);
  }
  if (cl->save_rc_stanza)
    if (auto ok = save_stanza(path, rc_text, stanza_name, saved, cl->force_stanza); !ok)
      return failure(ok.error());

  if (s.gpg.use) return run_gpg(*cl, s, *request, dest);  // GnuPG mode (gpg_packet.hpp)
  auto keys = load_keys(s, cl->input_fd);
  if (!keys) return failure(keys.error());
  if (s.mode == "legacy" && keys->key.size() > 16)
    std::fprintf(stderr,
                 "knock-client: warning: legacy mode uses only the first 16 bytes of the "
                 "encryption key (as fwknop)\n");
  auto cipher = knock::cipher::any_rijndael::make(s.mode);
  if (!cipher) return failure("unknown encryption mode '" + s.mode + "'");
  auto client = keys->hmac_key ? knock::default_client::make(*cipher, std::move(keys->key),
                                                             knock::to_string(keys->hmac_type),
                                                             keys->hmac_key->view())
                               : knock::default_client::make(*cipher, std::move(keys->key));
  if (!client) return failure("cannot set up the keys: " + packet_error(client.error()));

  // Resolve before anything is made, so a bad name leaves no trace.
  std::vector<knock::endpoint> addresses;
  if (dest) {
    auto found = knock::resolve(*dest);
    if (!found) return failure(found.error().message);  // "cannot resolve 'host': why"
    addresses = *std::move(found);
  }

  auto packet = client->make_packet(*request);
  if (!packet) return failure(packet_error(packet.error()));
  if (cl->test || s.verbose) {
    auto decoded = client->open(*packet);  // as fwknop --test: decode what was made
    if (!decoded) return failure("the packet does not decode: " + packet_error(decoded.error()));
    const std::optional<knock::hash_id> hmac =
        keys->hmac_key ? std::optional{keys->hmac_type} : std::nullopt;
    print_fields(stdout, *decoded, *packet, s.mode, hmac);
  }
  if (!cl->save_packet.empty())
    if (auto ok = save_packet(cl->save_packet, *packet, cl->append); !ok)
      return failure(ok.error());
  if (cl->test) {
    std::printf("test mode enabled, SPA packet not actually sent.\n");
    return std::fflush(stdout) == 0 ? 0 : 1;
  }

  if (s.verbose) print_sending(stdout, *dest);
  auto sent = knock::send_packet(*packet, *dest, addresses);
  if (!sent)
    return failure("sending to '" + values::printable(dest->host) +
                   "' failed: " + sent.error().message);
  if (s.verbose)
    std::printf("send_spa_packet: bytes sent: %zu (to %s)\n", sent->bytes,
                sent->to.to_string().c_str());
  return std::fflush(stdout) == 0 ? 0 : 1;
}
