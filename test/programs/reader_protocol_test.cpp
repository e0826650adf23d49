// SPDX-License-Identifier: MIT
// knock-server's configuration reader (examples/knock-server/config_reader.hpp) and the frames it
// exchanges with the worker (reader_protocol.hpp, reader_snapshot.hpp): what the reader sends
// parses as the files on disk would (errors name the real file:line), and a truncated, oversized or
// unexpected message is refused with a message that says which. fwknopd has no counterpart: it
// re-reads access.conf as root on SIGHUP; knock-server's worker no longer is root, the reader reads
// for it.
#include "config_reader.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace rd = knock_server::reader;

constexpr const char* key_line = "KEY_BASE64 wUVmH7oQ7Y2DHUcaRIkyJ8Uu8gYgx3v0DpbdTVCnkQ4=\n";
constexpr const char* hmac_line =
    "HMAC_KEY_BASE64 "
    "ZfVuFvy7ncNYt6VySMBkvfVOOXk2ZdDLbQPaRVN86pzfJsM8bNRypnTx+sH6W3kvgpf6qdXrtNzQbcYO"
    "U5dz5A==\n";

class reader_files : public testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/knock-reader-test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    access_ = dir_ + "/access.conf";
    keys_ = dir_ + "/keys.conf";
    write(keys_, std::string{key_line} + hmac_line);
    write(access_, "SOURCE ANY\n%include_keys " + keys_ + "\nOPEN_PORTS tcp/22\n");
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream{path} << text;
  }
  knock_server::reader_source source() const { return {access_, "", false}; }

  std::string dir_, access_, keys_;
};

std::string frame(rd::kind k, std::uint64_t sequence, const std::string& payload) {
  return rd::encode_header({k, sequence, static_cast<std::uint32_t>(payload.size())}) + payload;
}

TEST_F(reader_files, sends_the_access_file_and_its_includes_which_parse_as_on_disk) {
  const rd::snapshot read = knock_server::read_configuration(source());
  EXPECT_EQ(read.size(), 2u);  // access.conf, then keys.conf (%include_keys)
  auto got = rd::snapshot::decode(read.encode(), access_);
  ASSERT_TRUE(got) << to_string(got.error());
  auto stanzas = knock::config::load_access_conf(access_, {}, got->files());
  ASSERT_TRUE(stanzas) << to_string(stanzas.error());
  EXPECT_EQ(stanzas->size(), 1u);
}

TEST_F(reader_files, an_error_names_the_included_file_and_line_as_read_from_disk) {
  write(keys_, std::string{key_line} + "NOT_A_KEY x\n");
  const auto on_disk = knock::config::load_access_conf(access_);
  ASSERT_FALSE(on_disk);
  const rd::snapshot read = knock_server::read_configuration(source());
  auto got = rd::snapshot::decode(read.encode(), access_);
  ASSERT_TRUE(got);
  const auto sent = knock::config::load_access_conf(access_, {}, got->files());
  ASSERT_FALSE(sent);
  EXPECT_EQ(to_string(sent.error()), to_string(on_disk.error()));
  EXPECT_NE(to_string(sent.error()).find(keys_ + ":2: NOT_A_KEY"), std::string::npos)
      << to_string(sent.error());
}

TEST_F(reader_files, a_missing_include_is_sent_as_its_error) {
  write(access_, "SOURCE ANY\n%include " + dir_ + "/missing.conf\n");
  const auto on_disk = knock::config::load_access_conf(access_);
  auto got = rd::snapshot::decode(knock_server::read_configuration(source()).encode(), access_);
  ASSERT_TRUE(got);
  const auto sent = knock::config::load_access_conf(access_, {}, got->files());
  ASSERT_FALSE(sent);
  EXPECT_EQ(to_string(sent.error()), to_string(on_disk.error()));
  EXPECT_NE(to_string(sent.error()).find("No such file"), std::string::npos);
}

TEST_F(reader_files, the_worker_cannot_have_a_file_the_reader_did_not_send) {
  auto got = rd::snapshot::decode(knock_server::read_configuration(source()).encode(), access_);
  ASSERT_TRUE(got);
  auto etc = got->files().read("/etc/shadow");
  ASSERT_FALSE(etc);
  EXPECT_EQ(to_string(etc.error()),
            "/etc/shadow: cannot read: the configuration reader did not send it (it reads only "
            "the files the configuration names)");
}

TEST(reader_protocol, a_request_is_a_bare_header) {
  auto h = rd::decode_header(frame(rd::kind::request, 7, ""));
  ASSERT_TRUE(h);
  EXPECT_EQ(h->sequence, 7u);
  EXPECT_TRUE(rd::check_request(*h));
}

TEST(reader_protocol, a_request_that_names_a_path_is_refused) {
  auto h = rd::decode_header(frame(rd::kind::request, 1, "/etc/shadow"));
  ASSERT_TRUE(h);
  auto ok = rd::check_request(*h);
  ASSERT_FALSE(ok);
  EXPECT_EQ(to_string(ok.error()),
            "a request with 11 bytes of payload: a request names nothing (no path: the reader "
            "reads only the files the configuration names)");
  auto reply = rd::decode_header(frame(rd::kind::reply, 1, ""));
  ASSERT_TRUE(reply);
  EXPECT_EQ(to_string(rd::check_request(*reply).error()),
            "unexpected frame: expected a request, got a reply");
}

TEST(reader_protocol, a_truncated_or_foreign_header_is_refused) {
  const std::string h = frame(rd::kind::request, 1, "");
  EXPECT_EQ(to_string(rd::decode_header(h.substr(0, 10)).error()),
            "truncated frame: 10 of 17 header bytes");
  EXPECT_EQ(to_string(rd::decode_header("XXXX" + h.substr(4)).error()),
            "not a frame of this protocol (wrong magic)");
  std::string k = h;
  k[4] = 9;
  EXPECT_EQ(to_string(rd::decode_header(k).error()), "unknown frame kind 9");
}

TEST(reader_protocol, an_oversized_frame_is_refused_before_its_payload_is_read) {
  const auto h = rd::decode_header(rd::encode_header({rd::kind::reply, 1, rd::max_payload + 1}));
  ASSERT_FALSE(h);
  EXPECT_EQ(to_string(h.error()), "oversized frame: 33554433 bytes of payload (at most 33554432)");
}

// A reply's entries by hand: tag, path, then the file's text.
std::string file_entry(const std::string& path, const std::string& text) {
  std::string out(1, '\1');
  for (const std::string* s : {&path, &text}) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(s->size() >> (8 * i) & 0xff));
    out += *s;
  }
  return out;
}

TEST(reader_protocol, a_truncated_reply_is_refused_saying_where) {
  const std::string whole = file_entry("/etc/fwknop/access.conf", "SOURCE ANY\n");
  ASSERT_TRUE(rd::snapshot::decode(whole, "/etc/fwknop/access.conf"));
  auto cut = rd::snapshot::decode(whole.substr(0, whole.size() - 3), "/etc/fwknop/access.conf");
  ASSERT_FALSE(cut);
  EXPECT_EQ(to_string(cut.error()),
            "truncated reply: it ends inside entry 1's text (at byte 32 of 40)");
  auto in_length = rd::snapshot::decode(whole.substr(0, 3), "/etc/fwknop/access.conf");
  ASSERT_FALSE(in_length);
  EXPECT_EQ(to_string(in_length.error()),
            "truncated reply: it ends inside entry 1's path (at byte 1 of 3)");
  EXPECT_EQ(to_string(rd::snapshot::decode("", "/etc/fwknop/access.conf").error()),
            "empty reply: it does not hold '/etc/fwknop/access.conf'");
}

TEST(reader_protocol, an_oversized_file_or_path_is_refused) {
  const std::string big(rd::max_text + 1, 'x');
  auto text = rd::snapshot::decode(file_entry("/a.conf", big), "/a.conf");
  ASSERT_FALSE(text);
  EXPECT_EQ(to_string(text.error()),
            "oversized reply: entry 1's text of 1048577 bytes (at most 1048576)");
  const std::string long_path = "/" + std::string(rd::max_path, 'p');
  auto path = rd::snapshot::decode(file_entry(long_path, ""), long_path);
  ASSERT_FALSE(path);
  EXPECT_EQ(to_string(path.error()),
            "oversized reply: entry 1's path of 4097 bytes (at most 4096)");
}

TEST(reader_protocol, an_unexpected_path_is_refused) {
  const std::string root = "/etc/fwknop/access.conf";
  auto first = rd::snapshot::decode(file_entry("/etc/shadow", "x"), root);
  ASSERT_FALSE(first);
  EXPECT_EQ(to_string(first.error()),
            "unexpected path: the reply starts with '/etc/shadow', not the access configuration "
            "'/etc/fwknop/access.conf'");
  auto twice = rd::snapshot::decode(file_entry(root, "a") + file_entry(root, "b"), root);
  ASSERT_FALSE(twice);
  EXPECT_EQ(to_string(twice.error()),
            "unexpected path: '/etc/fwknop/access.conf' sent twice (entry 2)");
  auto empty = rd::snapshot::decode(file_entry(root, "a") + file_entry("", "b"), root);
  ASSERT_FALSE(empty);
  EXPECT_EQ(to_string(empty.error()), "unexpected path: entry 2 has an empty path");
  auto nul =
      rd::snapshot::decode(file_entry(root, "a") + file_entry(std::string{"/x\0y", 4}, ""), root);
  ASSERT_FALSE(nul);
  EXPECT_EQ(to_string(nul.error()), "unexpected path: entry 2's path '/x?y' holds a NUL");
  std::string tag = file_entry(root, "a");
  tag[0] = 7;
  EXPECT_EQ(to_string(rd::snapshot::decode(tag, root).error()), "entry 1: unknown tag 7");
}

TEST(reader_protocol, an_error_entry_round_trips) {
  const std::string payload =
      rd::snapshot::encode_error({"/a.conf", 0, "", "too big", knock::errc::config_invalid});
  auto got = rd::snapshot::decode(payload, "/a.conf");
  ASSERT_TRUE(got);
  auto read = got->files().read("/a.conf");
  ASSERT_FALSE(read);
  EXPECT_EQ(to_string(read.error()), "/a.conf: too big");
}

// The reader process itself, forked as the daemon forks it: it answers a request with the files,
// and a request that names a path makes it refuse, say why and exit.
TEST_F(reader_files, the_reader_process_answers_a_request_and_refuses_one_with_a_path) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  testing::internal::CaptureStderr();
  const pid_t worker = ::getpid();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(sv[0]);
    knock_server::detail::reader_main(sv[1], source(), knock_server::current_account(), worker,
                                      knock_server::logger{});
  }
  ::close(sv[1]);
  const std::string request = frame(rd::kind::request, 1, "");
  ASSERT_TRUE(knock_server::detail::write_all(sv[0], request));
  char head[rd::header_size];
  ASSERT_EQ(knock_server::detail::read_exact(sv[0], head, sizeof head, 5000),
            static_cast<long>(sizeof head));
  auto h = rd::decode_header({head, sizeof head});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->what, rd::kind::reply);
  EXPECT_EQ(h->sequence, 1u);
  std::string payload(h->length, '\0');
  ASSERT_EQ(knock_server::detail::read_exact(sv[0], payload.data(), payload.size(), 5000),
            static_cast<long>(payload.size()));
  auto got = rd::snapshot::decode(payload, access_);
  ASSERT_TRUE(got) << to_string(got.error());
  EXPECT_EQ(got->size(), 2u);

  ASSERT_TRUE(knock_server::detail::write_all(sv[0], frame(rd::kind::request, 2, "/etc/shadow")));
  char c = 0;
  const long answer = knock_server::detail::read_exact(sv[0], &c, 1, 5000);
  // No answer: it closed (with the request's payload unread the kernel may say "reset").
  EXPECT_TRUE(answer == 0 || (answer < 0 && errno == ECONNRESET)) << answer;
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  const std::string said = testing::internal::GetCapturedStderr();
  ::close(sv[0]);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(said.find("configuration reader: refused the worker's request, exiting: a request "
                      "with 11 bytes of payload"),
            std::string::npos)
      << said;
}

}  // namespace
