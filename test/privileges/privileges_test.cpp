// SPDX-License-Identifier: MIT
// knock::system::drop_privileges: each case runs in a forked child (a drop cannot be undone) and
// reports through its exit status what the kernel says the child has afterwards. Needs root.

#include <knock/system/privileges.hpp>
#include <knock/system/process.hpp>

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// Runs `body` in a child; the child's exit status is the number of the first failed expectation
// (0: all held), so the parent can say which.
int in_child(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

struct nobody {
  uid_t uid;
  gid_t gid;
};
nobody find_nobody() {
  const passwd* pw = ::getpwnam("nobody");
  return pw ? nobody{pw->pw_uid, pw->pw_gid} : nobody{65534, 65534};
}

#define NEED_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: it changes the uid and capabilities"

TEST(capability_set, names_the_capabilities_like_capabilities_7) {
  knock::system::capability_set s;
  EXPECT_EQ(s.to_string(), "none");
  s.add(knock::system::capability::net_raw).add(knock::system::capability::net_admin);
  EXPECT_EQ(s.to_string(), "cap_net_admin,cap_net_raw");
  EXPECT_EQ(s.bits, (1u << 12) | (1u << 13));
  EXPECT_TRUE(s.has(knock::system::capability::net_admin));
  EXPECT_FALSE(s.has(knock::system::capability::setuid));
}

TEST(drop_privileges, becomes_the_user_with_only_the_capabilities_kept) {
  NEED_ROOT();
  const nobody n = find_nobody();
  EXPECT_EQ(in_child([&] {
              knock::system::privilege_plan plan;
              plan.user = n.uid, plan.group = n.gid;
              plan.keep.add(knock::system::capability::net_admin);
              if (!knock::system::drop_privileges(plan)) return 1;
              const auto c = knock::system::process_credentials::current();
              if (c.real_uid != n.uid || c.effective_uid != n.uid || c.saved_uid != n.uid) return 2;
              if (c.real_gid != n.gid || c.effective_gid != n.gid) return 3;
              if (c.effective != plan.keep || c.permitted != plan.keep) return 4;
              if (c.bounding != plan.keep) return 5;  // nothing else can ever come back
              if (!c.ambient.empty() || !c.inheritable.empty()) return 6;
              if (!c.no_new_privs) return 7;
              if (::setuid(0) == 0 || ::seteuid(0) == 0) return 8;  // root is gone for good
              if (::access("/etc/shadow", R_OK) == 0) return 9;     // and with it root's files
              return 0;
            }),
            0);
}

TEST(drop_privileges, ambient_capabilities_reach_the_programs_it_runs_and_only_those) {
  NEED_ROOT();
  const nobody n = find_nobody();
  EXPECT_EQ(
      in_child([&] {
        knock::system::privilege_plan plan;
        plan.user = n.uid, plan.group = n.gid;
        plan.keep.add(knock::system::capability::net_admin).add(knock::system::capability::net_raw);
        plan.inherit.add(knock::system::capability::net_admin);
        if (!knock::system::drop_privileges(plan)) return 1;
        const std::string argv[] = {"/bin/grep", "^Cap", "/proc/self/status"};
        auto r = knock::system::run(argv);
        if (!r || !r->succeeded()) return 2;
        // A child gets exactly the ambient set: cap_net_admin, not cap_net_raw.
        if (r->output.find("CapEff:\t0000000000001000") == std::string::npos) return 3;
        if (r->output.find("CapAmb:\t0000000000001000") == std::string::npos) return 4;
        knock::system::process_options none;
        none.inherit_capabilities = false;  // ENABLE_CMD_EXEC's commands
        r = knock::system::run(argv, none);
        if (!r || !r->succeeded()) return 5;
        if (r->output.find("CapEff:\t0000000000000000") == std::string::npos) return 6;
        if (r->output.find("CapAmb:\t0000000000000000") == std::string::npos) return 7;
        return 0;
      }),
      0);
}

TEST(drop_privileges, keeps_the_uid_when_none_is_given_and_only_shrinks_the_sets) {
  NEED_ROOT();
  EXPECT_EQ(
      in_child([&] {
        knock::system::privilege_plan plan;  // no user: e.g. started by systemd as the service user
        plan.keep.add(knock::system::capability::net_admin);
        if (!knock::system::drop_privileges(plan)) return 1;
        const auto c = knock::system::process_credentials::current();
        if (c.effective_uid != 0) return 2;
        if (c.effective != plan.keep || c.bounding != plan.keep) return 3;
        if (!c.no_new_privs) return 4;
        return 0;
      }),
      0);
}

TEST(drop_privileges, an_unprivileged_process_cannot_gain_what_it_does_not_have) {
  NEED_ROOT();
  const nobody n = find_nobody();
  EXPECT_EQ(in_child([&] {
              knock::system::privilege_plan first;
              first.user = n.uid, first.group = n.gid;  // nothing kept
              if (!knock::system::drop_privileges(first)) return 1;
              knock::system::privilege_plan more;
              more.keep.add(knock::system::capability::net_admin);
              const auto refused = knock::system::drop_privileges(more);
              if (refused) return 2;  // the kernel refuses
              if (refused.error().message.find(
                      "setting the capabilities: Operation not permitted") == std::string::npos)
                return 3;
              if (refused.error().code != knock::errc::io_failed) return 4;
              return 0;
            }),
            0);
}

}  // namespace
