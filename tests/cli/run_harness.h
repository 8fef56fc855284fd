// Harness for end-to-end tests of `reflex run` as a process: a child process started without
// a shell (its stdout and stderr in files), kcat as the outside Kafka producer and consumer
// against a broker the test hosts (connectors::EmbeddedBroker), and bounded waits.
//
// Ownership: a Child kills (SIGKILL) and reaps its process when destroyed, so a failed
// ASSERT never leaves a `reflex run` behind. Every wait here is bounded.
// Thread-safety: none; one test thread drives it.
//
//   Child reflex(REFLEX_CLI_PATH, {"run", "--config", cfg}, dir + "/out", dir + "/err");
//   KcatProduce(bootstrap, "reflex.events", events_file);
//   std::string d = WaitForDecision(bootstrap, [](const std::string& x) { ... });
//   ASSERT_TRUE(WaitUntil([&] { return CountOf(ReadFile(err), "rules reloaded") >= 1; }));
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "run_cli.h"

namespace reflex::cli_test {

// A child process started without a shell; stdout and stderr are appended to files.
class Child {
 public:
  Child(const std::string& binary, const std::vector<std::string>& args, const std::string& out,
        const std::string& err, const std::string& in = "/dev/null");
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; returns the exit code, 128+signal, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// Runs kcat to completion (at most 60 s; a failure is a test failure) and returns its stdout.
std::string Kcat(const std::vector<std::string>& args, const std::string& in = "/dev/null");
// Produces every line of `file` to `topic` (one record per line).
void KcatProduce(const std::string& bootstrap, const std::string& topic, const std::string& file);
// The non-empty lines of `text`.
std::vector<std::string> Lines(const std::string& text);
// Reads the whole topic with kcat until `expected` records arrived (at most ~100 attempts).
std::vector<std::string> KcatReadAll(const std::string& bootstrap, const std::string& topic,
                                     size_t expected);
// Polls `topic` until one record satisfies `pred` (at most ~60 s); "" when none did.
std::string WaitForRecord(const std::string& bootstrap, const std::string& topic,
                          const std::function<bool(const std::string&)>& pred);
// The same on reflex.decisions.
std::string WaitForDecision(const std::string& bootstrap,
                            const std::function<bool(const std::string&)>& pred);
// Polls `done` every 50 ms until it holds or `timeout` passes; whether it held.
bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(60));
// How many times `needle` occurs in `text`.
int CountOf(const std::string& text, const std::string& needle);

}  // namespace reflex::cli_test
