// SPDX-License-Identifier: MIT
#include <knock/system/process.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace {

using knock::system::find_executable;
using knock::system::run;
using strings = std::vector<std::string>;

const std::string sh = find_executable("sh");

TEST(process, captures_stdout_stderr_and_exit_status) {
  const strings argv{sh, "-c", "echo out; echo err >&2; exit 3"};
  const auto r = run(argv);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->signal, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_FALSE(r->succeeded());
  EXPECT_EQ(r->output, "out\n");
  EXPECT_EQ(r->errors, "err\n");
  EXPECT_EQ(knock::system::summary(argv, *r),
            "`" + sh + " -c echo out; echo err >&2; exit 3` exited with 3: err");
}

TEST(process, passes_each_argument_as_is_without_a_shell) {
  const auto r = run(strings{find_executable("printf"), "[%s]", "a b", "$HOME", "x;y", "*"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(r->output, "[a b][$HOME][x;y][*]");
}

TEST(process, gives_the_child_its_input_on_stdin) {
  // Larger than a pipe's buffer: a memory file, so neither side can block on it.
  std::string text;
  for (int i = 0; text.size() < 300'000; ++i)
    text += "pass in quick proto 6 rule " + std::to_string(i) + "\n";
  knock::system::process_options o;
  o.input = text;
  const auto r = run(strings{find_executable("cat")}, o);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(r->output, text);
  const auto none = run(strings{find_executable("cat")});  // without: /dev/null
  ASSERT_TRUE(none);
  EXPECT_EQ(none->output, "");
}

TEST(process, gives_the_child_a_fixed_environment) {
  ::setenv("KNOCK_SECRET_FROM_PARENT", "leak", 1);
  const auto r = run(strings{find_executable("env")});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output,
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nLC_ALL=C\n");
}

TEST(process, leaks_no_descriptor_into_the_child) {
  const int leaky = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC on purpose
  ASSERT_GE(leaky, 3);
  const auto r = run(strings{sh, "-c", "ls /proc/$$/fd; :"});  // "; :": the shell must not exec ls
  ::close(leaky);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->output, "0\n1\n2\n") << "fds seen by the child's shell (ls itself runs after fork)";
}

TEST(process, kills_a_child_that_outlives_the_deadline) {
  knock::system::process_options o;
  o.timeout = std::chrono::milliseconds{200};
  const auto start = std::chrono::steady_clock::now();
  // The grandchild holds the pipes open: the whole process group must go.
  const auto r = run(strings{sh, "-c", "sleep 10 & sleep 10"}, o);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->timed_out);
  EXPECT_FALSE(r->succeeded());
  EXPECT_EQ(r->signal, SIGKILL);
  EXPECT_LT(took, std::chrono::seconds{2});
}

TEST(process, does_not_wait_for_a_background_grandchild) {
  // A CMD_CYCLE script may start something in the background that inherits stdout.
  const auto start = std::chrono::steady_clock::now();
  const auto r = run(strings{sh, "-c", "sleep 3 & echo started"});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->succeeded());
  EXPECT_EQ(r->output, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds{2});
}

TEST(process, reports_a_program_that_cannot_start) {
  const auto missing = run(strings{"/nonexistent/iptables", "-L"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, knock::errc::io_failed);
  EXPECT_EQ(missing.error().message,
            "`/nonexistent/iptables -L`: cannot start: No such file or directory");
  const auto relative = run(strings{"iptables", "-L"});
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().message,
            "`iptables -L`: cannot start: not an absolute path to a program");
  EXPECT_FALSE(run(strings{}));
}

TEST(process, keeps_at_most_max_output_bytes) {
  knock::system::process_options o;
  o.max_output = 10;
  const auto r = run(strings{sh, "-c", "head -c 100000 /dev/zero"}, o);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->succeeded());  // read to the end, so the writer never blocks
  EXPECT_EQ(r->output.size(), 10u);
}

TEST(process, finds_executables_on_an_absolute_search_path_only) {
  EXPECT_EQ(find_executable("sh", "/nonexistent:/bin"), "/bin/sh");
  EXPECT_EQ(find_executable("sh", "bin:."), "");
  EXPECT_EQ(find_executable("/bin/sh"), "/bin/sh");
  EXPECT_EQ(find_executable("/etc/passwd"), "");
  EXPECT_EQ(find_executable("/usr/sbin"), "") << "a directory is searchable, not executable";
  EXPECT_EQ(find_executable("sbin", "/usr"), "");
  EXPECT_EQ(find_executable("no-such-program-knock"), "");
}

}  // namespace
