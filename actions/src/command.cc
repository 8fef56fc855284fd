#include "reflex/actions/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace reflex::actions {

std::string CommandResult::Describe() const {
  if (timed_out) return "timed out (process group killed)";
  if (term_signal != 0) return "killed by signal " + std::to_string(term_signal);
  return "exit " + std::to_string(exit_code);
}

namespace {

void CloseFd(int* fd) {
  if (*fd >= 0) {
    ::close(*fd);
    *fd = -1;
  }
}

}  // namespace

engine::Result<CommandResult> RunCommand(const CommandRequest& request) {
  if (request.argv.empty() || request.argv[0].empty()) {
    return engine::InvalidArgument("command: empty argv");
  }
  // Everything the child needs is prepared before fork: after fork only async-signal-safe
  // calls are allowed (the parent has other threads).
  std::vector<std::string> env_strings;
  bool has_path = false;
  for (const auto& [k, v] : request.env) {
    env_strings.push_back(k + "=" + v);
    has_path = has_path || k == "PATH";
  }
  if (!has_path) env_strings.emplace_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  std::vector<char*> argv;
  for (const auto& a : request.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* cwd = request.cwd.empty() ? nullptr : request.cwd.c_str();
  // For the descriptor sweep when close_range is unavailable (sysconf is not async-signal-safe).
  const long max_fd = std::clamp<long>(::sysconf(_SC_OPEN_MAX), 256, 1L << 20);

  int out_pipe[2];
  int err_pipe[2];  // the child reports exec failures here (closed on a successful exec)
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return engine::Unavailable(std::string("command: pipe: ") + std::strerror(errno));
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return engine::Unavailable(std::string("command: pipe: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) ::close(fd);
    return engine::Unavailable(std::string("command: fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent already died
    int in = ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(out_pipe[1], 2);
    // Nothing else the parent holds reaches the program: every other descriptor (sockets,
    // the journal, files a library opened without O_CLOEXEC) closes at exec. err_pipe[1]
    // stays open until then, to report an exec failure.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (long fd = 3; fd < max_fd; ++fd) ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    }
    // Restore default signal dispositions the parent may have changed.
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) ::sigaction(s, &sa, nullptr);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int err = 0;
    if (cwd != nullptr && ::chdir(cwd) != 0) {
      err = errno;
    } else {
      ::execve(argv[0], argv.data(), envp.data());
      err = errno;
    }
    ssize_t ignored = ::write(err_pipe[1], &err, sizeof(err));
    (void)ignored;
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent, so a kill(-pid) never misses
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  int out_fd = out_pipe[0];
  int err_fd = err_pipe[0];

  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_fd, &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  CloseFd(&err_fd);
  if (n == static_cast<ssize_t>(sizeof(child_errno))) {
    CloseFd(&out_fd);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return engine::Unavailable("command: cannot run " + request.argv[0] +
                               (cwd != nullptr ? " in " + request.cwd : std::string()) + ": " +
                               std::strerror(child_errno));
  }

  CommandResult result;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(std::max<int64_t>(request.timeout_ms, 1));
  char buf[8192];
  bool killed = false;
  // After a kill, output still buffered is read for a bounded time only (a process that
  // left the group could hold the pipe open).
  std::chrono::steady_clock::time_point drain_deadline{};
  while (out_fd >= 0) {
    auto now = std::chrono::steady_clock::now();
    if (!killed && now >= deadline) {
      ::kill(-pid, SIGKILL);
      killed = true;
      result.timed_out = true;
      drain_deadline = now + std::chrono::milliseconds(500);
    }
    if (killed && now >= drain_deadline) break;
    auto until = killed ? drain_deadline : deadline;
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    struct pollfd pfd = {out_fd, POLLIN, 0};
    int pr = ::poll(&pfd, 1, static_cast<int>(std::clamp<int64_t>(wait_ms, 1, 1000)));
    if (pr < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pr == 0) continue;
    n = ::read(out_fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      break;
    }
    if (n == 0) break;  // EOF: every writer closed the pipe
    size_t room = request.max_output_bytes > result.output.size()
                      ? request.max_output_bytes - result.output.size()
                      : 0;
    size_t take = std::min(room, static_cast<size_t>(n));
    result.output.append(buf, take);
    if (take < static_cast<size_t>(n)) result.truncated = true;
  }
  CloseFd(&out_fd);
  int status = 0;
  pid_t w;
  while (true) {
    w = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (w < 0 && errno == EINTR) continue;
    if (w == pid || w < 0) break;
    // Output closed but the leader is still running: wait for it until the deadline.
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      killed = true;
      result.timed_out = true;
      continue;
    }
    ::usleep(2000);
  }
  if (w == pid) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace reflex::actions
