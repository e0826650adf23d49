// SPDX-License-Identifier: MIT
// knock-client's option layer (examples/knock-client): the command line, the .fwknoprc variables
// and their precedence, --save-rc-stanza's output, key sources and --key-gen.
#include "build.hpp"
#include "command_line.hpp"
#include "keys.hpp"
#include "rc.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {
using namespace knock_client;

result<command_line, std::string> parse(std::vector<const char*> args) {
  return parse_command_line(args);
}

// Applies the command line's assignments to `s`; the first error, if any.
std::string apply_all(settings& s, const command_line& cl) {
  for (const auto& a : cl.assignments)
    if (auto r = apply(s, a.variable, a.value.str()); !r) return a.spelled + ": " + r.error();
  return {};
}

struct temp_dir {
  std::string path;
  temp_dir() {
    char tmpl[] = "/tmp/knock-client-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(command_line, accepts_fwknops_spellings) {
  auto cl = parse({"-A", "tcp/22", "-a10.0.0.5", "--destination=srv", "-sT", "--test", "-B", "out",
                   "-v", "--key-len", "16", "--fd", "3", "-C", "echo hi", "-n", "name"});
  ASSERT_TRUE(cl) << cl.error();
  EXPECT_TRUE(cl->test);
  EXPECT_EQ(cl->save_packet, "out");
  EXPECT_EQ(cl->command, "echo hi");
  EXPECT_EQ(cl->stanza, "name");
  EXPECT_EQ(cl->key_len, 16u);
  EXPECT_EQ(cl->input_fd, 3);
  std::vector<std::string> vars;
  for (const auto& a : cl->assignments) vars.push_back(a.variable + "=" + a.value.str());
  EXPECT_EQ(vars, (std::vector<std::string>{"ACCESS=tcp/22", "ALLOW_IP=10.0.0.5", "SPA_SERVER=srv",
                                            "ALLOW_IP=source", "VERBOSE=Y"}));
}

TEST(command_line, refuses_what_it_does_not_know) {
  EXPECT_EQ(parse({"--frobnicate"}).error(), "unknown option '--frobnicate' (see --help)");
  EXPECT_EQ(parse({"-Z"}).error(), "unknown option '-Z' (see --help)");
  EXPECT_EQ(parse({"-A"}).error(), "-A needs a value");
  EXPECT_EQ(parse({"--test=1"}).error(), "--test takes no value");
  EXPECT_EQ(parse({"-s", "stray"}).error(), "unexpected argument #2 (not an option; see --help)");
  EXPECT_EQ(parse({"--key-len", "33"}).error(), "--key-len: '33' is not a key length (1..32)");
  EXPECT_EQ(parse({"--hmac-key-len", "0"}).error(),
            "--hmac-key-len: '0' is not a key length (1..128)");
}

TEST(settings, values_are_checked_and_normalised_as_fwknop_saves_them) {
  settings s;
  EXPECT_EQ(*apply(s, "DIGEST_TYPE", "sha3_256"), "SHA3_256");
  EXPECT_EQ(*apply(s, "ENCRYPTION_MODE", "ctr"), "CTR");
  EXPECT_EQ(*apply(s, "ENCRYPTION_MODE", "Legacy"), "legacy");
  EXPECT_EQ(s.mode, "legacy");
  EXPECT_EQ(*apply(s, "TIME_OFFSET", "5m"), "300");
  EXPECT_EQ(*apply(s, "TIME_OFFSET", "-2h"), "-7200");
  EXPECT_EQ(s.time_offset, -7200);
  EXPECT_EQ(*apply(s, "TIME_OFFSET", "1d"), "86400");
  EXPECT_EQ(*apply(s, "TIME_OFFSET", "30s"), "30");
  EXPECT_EQ(*apply(s, "SPA_SERVER_PROTO", "TCP"), "tcp");
  EXPECT_EQ(*apply(s, "ALLOW_IP", "source"), "source");
  EXPECT_EQ(s.allow_ip, "0.0.0.0");
  EXPECT_EQ(*apply(s, "HMAC_KEY_BASE64", "aGVsbG8="), "aGVsbG8=");
  EXPECT_TRUE(s.use_hmac);

  EXPECT_EQ(apply(s, "SPA_SERVER_PORT", "65536").error(), "'65536' is not a port (1..65535)");
  EXPECT_EQ(apply(s, "SPA_SERVER_PORT", "0").error(), "'0' is not a port (1..65535)");
  EXPECT_TRUE(apply(s, "SPA_SOURCE_PORT", "0"));
  EXPECT_EQ(apply(s, "ACCESS", "tcp/99999").error(),
            "'tcp/99999' is not a list of tcp/PORT or udp/PORT (port 1..65535)");
  EXPECT_EQ(apply(s, "ALLOW_IP", "10.0.0").error(), "'10.0.0' is not an IPv4 address");
  EXPECT_EQ(*apply(s, "ALLOW_IP", "resolve"), "resolve");
  EXPECT_EQ(*apply(s, "SPA_SERVER_PROTO", "HTTP"), "http");
  EXPECT_EQ(apply(s, "SPA_SERVER_PROTO", "sctp").error(),
            "unknown protocol 'sctp' (udp, tcp, udpraw, tcpraw, icmp, http)");
  EXPECT_EQ(apply(s, "FW_TIMEOUT", "x").error(), "'x' is not a number of seconds (0..65536)");
  EXPECT_EQ(apply(s, "TIME_OFFSET", "w").error(),
            "'w' is not a time offset (such as 30s, 5m, 1h, 1d)");
  EXPECT_EQ(apply(s, "KEY_BASE64", "not*base64!").error(), "is not base64");  // never the value
  EXPECT_EQ(apply(s, "USE_GPG", "Y").value_or(""), "Y");  // GnuPG mode (gpg.hpp)
  EXPECT_TRUE(s.gpg.use);
  EXPECT_EQ(apply(s, "GPG_HOMEDIR", "/k/.gnupg/").value_or(""), "/k/.gnupg");
  EXPECT_EQ(apply(s, "GPG_SIGNING_PW_BASE64", "*").error(), "is not base64");
  EXPECT_TRUE(apply(s, "USE_GPG", "N"));
  EXPECT_FALSE(s.gpg.use);
  EXPECT_TRUE(apply(s, "HTTP_USER_AGENT", "x"));
  EXPECT_EQ(apply(s, "NO_SUCH_VAR", "x").error(), "unknown variable");
}

TEST(settings, command_line_overrides_stanza_overrides_default) {
  temp_dir dir;
  const std::string rc =
      "[default]\nACCESS tcp/1\nSPA_SERVER_PORT 1000\nDIGEST_TYPE md5\n"
      "[web]\nACCESS tcp/443\nSPA_SERVER web.example\n";
  settings s;
  ASSERT_TRUE(*apply_stanza(s, rc, "default", "rc"));
  ASSERT_TRUE(*apply_stanza(s, rc, "WEB", "rc"));
  auto cl = parse({"-p", "2000"});
  ASSERT_EQ(apply_all(s, *cl), "");
  EXPECT_EQ(s.access, "tcp/443");            // stanza over [default]
  EXPECT_EQ(s.server_port, 2000);            // command line over [default]
  EXPECT_EQ(s.digest, knock::hash_id::md5);  // [default] kept
  EXPECT_EQ(s.server, "web.example");
  EXPECT_FALSE(*apply_stanza(s, rc, "none", "rc"));

  auto bad = apply_stanza(s, "[x]\nFW_TIMEOUT abc\n", "x", "/home/u/.fwknoprc");
  EXPECT_EQ(bad.error(),
            "/home/u/.fwknoprc:2: FW_TIMEOUT: 'abc' is not a number of seconds (0..65536)");
  EXPECT_EQ(apply_stanza(s, "[x]\nKEY_BASE64 %%%%\n", "x", "rc").error(),
            "rc:2: KEY_BASE64: is not base64");
  EXPECT_EQ(apply_stanza(s, "[x]\nACCESS\n", "x", "rc").error(),
            "rc:2: not a 'NAME value' line (in [x])");
}

TEST(save_stanza, writes_fwknops_format_with_mode_0600_and_keeps_old_keys) {
  temp_dir dir;
  const std::string path = dir.path + "/.fwknoprc";
  const std::string old =
      "[default]\n\n[srv]\nKEY_BASE64 b2xka2V5\nACCESS tcp/1\n[other]\nACCESS tcp/2\n";
  saved_values v{{"ACCESS", "tcp/22"},
                 {"SPA_SERVER", "10.1.2.3"},
                 {"DIGEST_TYPE", "SHA512"},
                 {"USE_HMAC", "Y"},
                 {"HMAC_KEY_BASE64", "aG1hYw=="}};
  ASSERT_TRUE(save_stanza(path, old, "srv", v, false));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(path),
            "[default]\n\n[srv]\n"
            "DIGEST_TYPE                 SHA512\n"
            "ACCESS                      tcp/22\n"
            "SPA_SERVER                  10.1.2.3\n"
            "KEY_BASE64                  b2xka2V5\n"  // kept: the command line gave no AES key
            "HMAC_KEY_BASE64             aG1hYw==\n"
            "USE_HMAC                    Y\n"
            "[other]\nACCESS tcp/2\n");
  // --force-stanza drops the old key; a new file starts with [default].
  ASSERT_TRUE(save_stanza(path, old, "srv", {{"ACCESS", "tcp/22"}}, true));
  EXPECT_EQ(knock::fwknoprc::select(read_file(path), "srv").settings.size(), 1u);
  const std::string fresh = dir.path + "/new";
  ASSERT_TRUE(save_stanza(fresh, std::nullopt, "n", {{"ACCESS", "tcp/22"}}, false));
  EXPECT_EQ(read_file(fresh), "[default]\n\n[n]\nACCESS                      tcp/22\n");
  EXPECT_FALSE(save_stanza(fresh, std::nullopt, "n", {{"SPOOF_USER", "a b"}}, false));
}

TEST(build, nat_forms_follow_fwknop) {
  EXPECT_EQ(nat_target("192.168.1.10:2222", "22"), "192.168.1.10,2222");
  EXPECT_EQ(nat_target("192.168.1.10,2222", "22"), "192.168.1.10,2222");
  EXPECT_EQ(nat_target("192.168.1.10", "22"), "192.168.1.10,22");
  EXPECT_EQ(nat_target("inside.example:80", "22"), "inside.example,80");

  settings s;
  auto cl = parse({"-A", "tcp/22", "-a", "10.0.0.5", "-D", "srv.example", "--nat-local",
                   "--nat-port", "55000", "-f", "30", "-U", "abcdefghijabcdefghijabcdefghijXYZ"});
  ASSERT_EQ(apply_all(s, *cl), "");
  auto r = make_request(s, "", 1700000000, "ignored");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->access, "tcp/55000");           // --nat-port replaces the port to translate
  EXPECT_EQ(r->nat_access, "srv.example,22");  // --nat-local: the server, the original port
  EXPECT_EQ(r->nat, knock::nat_mode::local);
  EXPECT_EQ(knock::type_of(*r), knock::message_type::client_timeout_local_nat_access);
  EXPECT_EQ(r->username, "abcdefghijabcdefghijabcdefghi");  // 29 characters (spec Q14)
}

TEST(build, says_what_is_missing_or_wrong) {
  const auto error_of = [](std::vector<const char*> args, std::string command = "") {
    settings s;
    auto cl = parse(std::move(args));
    EXPECT_TRUE(cl);
    if (auto e = apply_all(s, *cl); !e.empty()) return e;
    auto r = make_request(s, command, 1700000000, "alice");
    return r ? std::string{} : r.error();
  };
  EXPECT_EQ(error_of({"-A", "tcp/22"}),
            "say which address to open: -a IP, or -s for the packet's source");
  EXPECT_EQ(error_of({"-s"}), "-A is required: the ports to open, such as -A tcp/22");
  EXPECT_EQ(error_of({"-s", "-A", "udp/53,tcp/22", "--nat-port", "5"}),
            "--nat-port takes a single proto/port in -A (as fwknop)");
  EXPECT_EQ(error_of({"-s", "-A", "tcp/22", "--nat-local"}),
            "--nat-local needs -D: the NAT target is the server itself");
  EXPECT_EQ(
      error_of({"-s", "-A", "tcp/22", "-N", "bad host:22"}),
      "-N: invalid NAT destination 'bad host' (an IPv4 address or host name, as fwknop checks "
      "it)");
  EXPECT_EQ(error_of({"-s", "-A", "tcp/22", "-U", "a=b"}),
            "username 'a=b' has a character fwknop refuses (\" / \\ [ ] : ; | = , + * ? < >)");
  EXPECT_EQ(error_of({"-s", "-A", "tcp/x"}),
            "-A: 'tcp/x' is not a list of tcp/PORT or udp/PORT (port 1..65535)");
  EXPECT_EQ(error_of({"-s"}, "echo hi"), "");  // a command needs no -A
  EXPECT_EQ(error_of({"-s"}, "bell\a"), "-C: the command must be printable ASCII");

  settings s;
  EXPECT_EQ(make_destination(s, false).error(),
            "-D is required (the fwknopd server) unless --test is given");
  s.server = "x";
  s.family = knock::ip_family::v4;
  EXPECT_EQ(make_destination(s, true).error(), "use -4 or -6, not both");
}

TEST(keys, come_from_files_fds_and_options_and_are_checked_like_fwknop) {
  temp_dir dir;
  const std::string file = dir.path + "/keys";
  std::ofstream{file} << "# keys\n  10.1.1.1: first\n10.1.1.1:   second\r\n10.1.1.10: other\n";
  EXPECT_EQ(key_from_file(file, "10.1.1.1")->str(), "second");  // the last match, CR dropped
  EXPECT_EQ(key_from_file(file, "10.1.1.10")->str(), "other");
  EXPECT_EQ(key_from_file(file, "10.1.1.2").error(),
            "key file '" + file + "' has no key for '10.1.1.2'");
  EXPECT_FALSE(key_from_file(dir.path + "/missing", "x"));

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string input = "enc key\r\nhmac key\nrest";
  ASSERT_EQ(::write(fds[1], input.data(), input.size()), static_cast<ssize_t>(input.size()));
  ::close(fds[1]);
  settings s;
  s.use_hmac = true;
  auto k = load_keys(s, fds[0]);  // no other source: both keys come from the descriptor
  ::close(fds[0]);
  ASSERT_TRUE(k) << k.error();
  EXPECT_EQ(knock::as_chars(k->key.view()), "enc key");
  EXPECT_EQ(knock::as_chars(k->hmac_key->view()), "hmac key");

  const auto error_of = [](std::vector<const char*> args) {
    settings st;
    auto cl = parse(std::move(args));
    EXPECT_TRUE(cl);
    if (auto e = apply_all(st, *cl); !e.empty()) return e;
    auto keys = load_keys(st, std::nullopt);
    return keys ? std::string{} : keys.error();
  };
  EXPECT_EQ(error_of({"--key-rijndael", "123456789012345678901234567890123"}),
            "the encryption key is 33 bytes; fwknop takes at most 32");
  EXPECT_EQ(error_of({"--key-rijndael", "same", "--key-hmac", "same"}),
            "the encryption key and the HMAC key must differ (as fwknop requires)");
  EXPECT_EQ(error_of({"--key-rijndael", "k", "--key-hmac", "h", "-M", "legacy"}),
            "legacy encryption mode cannot be used with an HMAC (as fwknop)");
  EXPECT_EQ(error_of({"--key-base64-rijndael", "###"}), "--key-base64-rijndael: is not base64");
  const std::string long_hmac = padded_base64(knock::as_bytes(std::string(129, 'h'))).str();
  EXPECT_EQ(error_of({"--key-rijndael", "k", "--key-base64-hmac", long_hmac.c_str()}),
            "the HMAC key is 129 bytes; fwknop takes at most 128");
  EXPECT_EQ(error_of({"--key-base64-rijndael", "4k5ST4Qnk/NH07xIPyeNk1YzmwWgkc0ynqzJnOXCwyU="}),
            "");
}

TEST(key_gen, lengths_follow_fwknop) {
  const auto decoded_size = [](const secret_text& t) {
    std::vector<knock::byte> out(t.str().size());
    return *knock::codec::base64::decode_padded(t.str(), out.data());
  };
  struct row {
    knock::hash_id h;
    std::size_t hmac_bytes;
  };
  for (const row& x : {row{knock::hash_id::md5, 16}, row{knock::hash_id::sha1, 20},
                       row{knock::hash_id::sha256, 64}, row{knock::hash_id::sha384, 128},
                       row{knock::hash_id::sha512, 128}}) {
    auto k = generate_keys(32, std::nullopt, x.h);
    ASSERT_TRUE(k);
    EXPECT_EQ(decoded_size(k->first), 32u);
    EXPECT_EQ(decoded_size(k->second), x.hmac_bytes);
    EXPECT_EQ(k->first.str().size() % 4, 0u);  // padded, as fwknop prints keys
  }
  EXPECT_EQ(generate_keys(32, std::nullopt, knock::hash_id::sha3_256).error(),
            "--key-gen for sha3_256 needs --hmac-key-len (as fwknop)");
  auto sha3 = generate_keys(7, 90, knock::hash_id::sha3_512);
  ASSERT_TRUE(sha3);
  EXPECT_EQ(decoded_size(sha3->first), 7u);
  EXPECT_EQ(decoded_size(sha3->second), 90u);
  EXPECT_EQ(padded_base64(knock::as_bytes("a")).str(), "YQ==");
}

}  // namespace
