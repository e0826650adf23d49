// SPDX-License-Identifier: MIT
// knock-client: an fwknop-compatible SPA client. It takes fwknop's client options with the same
// meaning (see --help), reads ~/.fwknoprc stanzas, and sends packets that fwknopd accepts.
//
// Exit status: 0 done; 1 a run-time failure (keys, rc file, name resolution, sending); 2 a usage
// error. Every failure is one line on stderr, and nothing is sent after one.
#include "build.hpp"
#include "command_line.hpp"
#include "gpg_packet.hpp"
#include "keys.hpp"
#include "rc.hpp"
#include "report.hpp"

#include <knock/client.hpp>
#include <knock/client/send.hpp>

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

}  // namespace

int main(int argc, char** argv) {
  auto cl = parse_command_line({argv + 1, static_cast<std::size_t>(argc - 1)});
  if (!cl) return failure(cl.error(), 2);
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
  const std::string stanza_name = cl->stanza.empty() ? s.server : cl->stanza;
  if (cl->save_rc_stanza && stanza_name.empty())
    return failure("--save-rc-stanza needs -n NAME (or -D, whose value names the stanza)", 2);

  if (cl->key_gen) return key_gen(*cl, s, path, rc_text, saved, stanza_name);

  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto request = make_request(s, cl->command, now, default_username());
  if (!request) return failure(request.error());
  std::optional<knock::destination> dest;
  if (!cl->test) {
    auto d = make_destination(s, cl->ipv6);
    if (!d) return failure(d.error());
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
