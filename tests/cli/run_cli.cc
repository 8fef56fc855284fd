#include "run_cli.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace reflex::cli_test {

namespace fs = std::filesystem;

std::string CliResult::Describe() const {
  std::string s = signal ? "signal " + std::to_string(signal) : "exit " + std::to_string(exit_code);
  return s + "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
}

namespace {

[[noreturn]] void Die(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

CliResult RunProgram(const std::string& binary, const std::vector<std::string>& args,
                     const RunOptions& options) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) Die("pipe");
  int err_read = -1, err_write = -1;
  if (options.stderr_is_tty) {
    err_read = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (err_read < 0 || grantpt(err_read) != 0 || unlockpt(err_read) != 0) Die("posix_openpt");
    const char* slave = ptsname(err_read);
    if (slave == nullptr) Die("ptsname");
    err_write = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (err_write < 0) Die("open pty");
  } else {
    if (pipe2(err_pipe, O_CLOEXEC) != 0) Die("pipe");
    err_read = err_pipe[0];
    err_write = err_pipe[1];
  }
  const std::string in_path = options.stdin_file.empty() ? "/dev/null" : options.stdin_file;
  const int in_fd = open(in_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in_fd < 0) Die("open stdin file");

  std::vector<std::string> argv_store;
  argv_store.push_back(binary);
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The child's environment: the inherited one with options.env applied (built before fork).
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
  for (const std::string& change : options.env) {
    const std::string name = change.substr(0, change.find('='));
    std::erase_if(env_store, [&name](const std::string& e) {
      return e.compare(0, name.size() + 1, name + "=") == 0;
    });
    if (change.find('=') != std::string::npos) env_store.push_back(change);
  }
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_pipe[1], STDOUT_FILENO) < 0 ||
        dup2(err_write, STDERR_FILENO) < 0) {
      _exit(127);
    }
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  close(in_fd);
  close(out_pipe[1]);
  close(err_write);

  CliResult r;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_seconds);
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_read, POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  bool killed = false;
  char buf[65536];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    const int n = poll(fds, 2, static_cast<int>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      Die("poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t got = read(fds[i].fd, buf, sizeof(buf));
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        // EOF, or EIO from a pty master once the child has closed the terminal.
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) Die("waitpid");
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  if (killed)
    r.err += "\n[run_cli: killed after " + std::to_string(options.timeout_seconds) + " s]";
  return r;
}

CliResult RunCli(const std::vector<std::string>& args, const RunOptions& options) {
  return RunProgram(REFLEX_CLI_PATH, args, options);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace reflex::cli_test
