#include "run_harness.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <sstream>
#include <thread>

extern char** environ;

namespace reflex::cli_test {

Child::Child(const std::string& binary, const std::vector<std::string>& args,
             const std::string& out, const std::string& err, const std::string& in) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, binary.c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

void Child::Signal(int sig) {
  if (pid_ > 0 && !reaped_) kill(pid_, sig);
}

int Child::Wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

std::string Kcat(const std::vector<std::string>& args, const std::string& in) {
  TempDir tmp;
  Child c("/usr/bin/kcat", args, tmp.path() + "/out", tmp.path() + "/err", in);
  const int rc = c.Wait(std::chrono::seconds(60));
  EXPECT_EQ(rc, 0) << ReadFile(tmp.path() + "/err");
  return ReadFile(tmp.path() + "/out");
}

void KcatProduce(const std::string& bootstrap, const std::string& topic, const std::string& file) {
  Kcat({"-P", "-b", bootstrap, "-t", topic, "-l", file});
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

std::vector<std::string> KcatReadAll(const std::string& bootstrap, const std::string& topic,
                                     size_t expected) {
  std::vector<std::string> got;
  for (int attempt = 0; attempt < 100; ++attempt) {
    got = Lines(
        Kcat({"-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"}));
    if (got.size() >= expected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return got;
}

std::string WaitForRecord(const std::string& bootstrap, const std::string& topic,
                          const std::function<bool(const std::string&)>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& d : KcatReadAll(bootstrap, topic, 0)) {
      if (pred(d)) return d;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return "";
}

std::string WaitForDecision(const std::string& bootstrap,
                            const std::function<bool(const std::string&)>& pred) {
  return WaitForRecord(bootstrap, "reflex.decisions", pred);
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int CountOf(const std::string& text, const std::string& needle) {
  if (needle.empty()) return 0;
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace reflex::cli_test
