// RunCommand with real programs: output capture, exit codes, timeouts (process group
// killed), start failures, environment, working directory, the output bound and the
// descriptors a program inherits (only 0, 1, 2).
#include "reflex/actions/command.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "exec_test_util.h"

namespace reflex::actions {
namespace {

CommandRequest Cmd(std::vector<std::string> argv, int64_t timeout_ms = 30000) {
  CommandRequest r;
  r.argv = std::move(argv);
  r.timeout_ms = timeout_ms;
  return r;
}

TEST(CommandTest, CapturesOutputAndExitCode) {
  auto r = RunCommand(Cmd({"/bin/echo", "hello", "world"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, "hello world\n");
  EXPECT_FALSE(r->timed_out);
}

TEST(CommandTest, NonZeroExitAndStderr) {
  auto r = RunCommand(Cmd({"/bin/sh", "-c", "echo oops >&2; exit 3"}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->output, "oops\n");
  EXPECT_EQ(r->Describe(), "exit 3");
}

TEST(CommandTest, ShellMetacharactersAreJustBytes) {
  test::TempDir dir;
  std::string marker = dir.File("pwned");
  std::string arg = "$(touch " + marker + "); `touch " + marker + "` | && ;";
  auto r = RunCommand(Cmd({"/bin/echo", arg}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, arg + "\n");
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(CommandTest, TimeoutKillsTheProcessGroup) {
  test::TempDir dir;
  std::string pid_file = dir.File("pid");
  // The shell starts a grandchild and waits for it; both are in the group and both die.
  auto r =
      RunCommand(Cmd({"/bin/sh", "-c", "/bin/sleep 30 & echo $! > " + pid_file + "; wait"}, 300));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->term_signal, SIGKILL);
  EXPECT_NE(r->Describe().find("timed out"), std::string::npos);
  auto lines = test::ReadLines(pid_file);
  ASSERT_EQ(lines.size(), 1u);
  pid_t grandchild = static_cast<pid_t>(std::stol(lines[0]));
  // Dead: gone, or a zombie waiting for whoever adopted it to reap it.
  auto dead = [&] {
    if (::kill(grandchild, 0) != 0 && errno == ESRCH) return true;
    auto stat = test::ReadLines("/proc/" + std::to_string(grandchild) + "/stat");
    if (stat.empty()) return true;
    size_t paren = stat[0].rfind(')');
    return paren != std::string::npos && paren + 2 < stat[0].size() && stat[0][paren + 2] == 'Z';
  };
  EXPECT_TRUE(test::WaitFor(dead)) << "the grandchild " << grandchild << " outlived the timeout";
}

TEST(CommandTest, StartFailuresAreErrors) {
  auto r = RunCommand(Cmd({"/nonexistent/program"}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), engine::StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("No such file"), std::string::npos);
  CommandRequest bad_cwd = Cmd({"/bin/true"});
  bad_cwd.cwd = "/nonexistent/dir";
  auto c = RunCommand(bad_cwd);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("/nonexistent/dir"), std::string::npos);
  EXPECT_FALSE(RunCommand({}).ok());
}

TEST(CommandTest, EnvironmentIsOnlyWhatIsGivenAndCwdApplies) {
  test::TempDir dir;
  CommandRequest req = Cmd({"/bin/sh", "-c", "echo \"$FOO|$HOME|$PATH\"; pwd"});
  req.env = {{"FOO", "bar baz"}};
  req.cwd = dir.path();
  auto r = RunCommand(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->output, "bar baz||/usr/sbin:/usr/bin:/sbin:/bin\n" +
                           std::filesystem::canonical(dir.path()).string() + "\n");
}

TEST(CommandTest, OutputIsBounded) {
  CommandRequest req = Cmd({"/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"});
  req.max_output_bytes = 1000;
  auto r = RunCommand(req);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, std::string(1000, 'a'));
  EXPECT_TRUE(r->truncated);
}

TEST(CommandTest, ChildInheritsOnlyStandardDescriptors) {
  // A descriptor this process holds without O_CLOEXEC (as a library might open one): the
  // program must not see it.
  const int leaked = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 3);
  auto r = RunCommand(Cmd({"/bin/sh", "-c", "ls /proc/$$/fd"}));
  ::close(leaked);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_EQ(r->output, "0\n1\n2\n");
}

}  // namespace
}  // namespace reflex::actions
