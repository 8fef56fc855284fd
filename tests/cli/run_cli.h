// Runs the real `reflex` binary for end-to-end tests: fork + exec (no shell), stdin from a
// file or /dev/null, stdout and stderr captured separately, exit code or signal reported.
//
// Not thread-safe (uses fork); one call at a time.
//
//   CliResult r = RunCli({"check", dir});
//   EXPECT_EQ(r.exit_code, 0) << r.err;
#pragma once

#include <string>
#include <vector>

#include "temp_dir.h"

namespace reflex::cli_test {

struct CliResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  int signal = 0;      // the terminating signal, 0 when it exited
  std::string out;
  std::string err;
  // "exit 1" / "signal 11", plus both streams: for assertion messages.
  std::string Describe() const;
};

struct RunOptions {
  std::string stdin_file;      // "" = /dev/null
  bool stderr_is_tty = false;  // run with stderr on a pseudo-terminal
  int timeout_seconds = 60;    // the child is killed after this
  // "NAME=value" set in the child's environment (over the inherited one); "NAME" unsets it.
  std::vector<std::string> env;
};

// Runs the binary at `binary` with `args` (argv[1..]).
CliResult RunProgram(const std::string& binary, const std::vector<std::string>& args,
                     const RunOptions& options = {});

// Runs the `reflex` binary under test.
CliResult RunCli(const std::vector<std::string>& args, const RunOptions& options = {});

using reflex::test::TempDir;

std::string ReadFile(const std::string& path);

}  // namespace reflex::cli_test
