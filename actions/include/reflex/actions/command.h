// RunCommand: runs one program without a shell and captures its output, bounded.
//
// The program is started with fork + execve (no shell, no PATH search: argv[0] is the path),
// in a process group of its own, with stdin from /dev/null and stdout and stderr together
// in one pipe; it inherits no other descriptor (all above 2 are closed at exec). At most
// `max_output_bytes` are kept; the rest is read and dropped. When the timeout passes the whole
// process group is killed with SIGKILL. The child also gets SIGKILL if the thread that started it
// dies (PR_SET_PDEATHSIG), so a crashed Reflex leaves no half-run commands behind to finish later.
// Shell metacharacters in arguments are plain bytes: nothing interprets them.
//
// Thread-safety: RunCommand may be called from many threads at once.
//
//   CommandRequest req;
//   req.argv = {"/bin/echo", "hello"};
//   Result<CommandResult> r = RunCommand(req);
//   if (r.ok() && r->exit_code == 0) std::cout << r->output;
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reflex/engine/status.h"

namespace reflex::actions {

struct CommandRequest {
  // REQUIRES: non-empty; argv[0] an absolute path.
  std::vector<std::string> argv;
  // The child's whole environment (nothing is inherited). PATH=/usr/sbin:/usr/bin:/sbin:/bin
  // is added when not given.
  std::vector<std::pair<std::string, std::string>> env;
  std::string cwd;  // "" = the current directory
  int64_t timeout_ms = 30000;
  size_t max_output_bytes = 64 * 1024;
};

struct CommandResult {
  int exit_code = -1;   // when the program exited
  int term_signal = 0;  // when a signal ended it (SIGKILL after a timeout)
  bool timed_out = false;
  std::string output;  // stdout and stderr interleaved, at most max_output_bytes
  bool truncated = false;
  std::string Describe() const;  // "exit 3", "killed by signal 9", "timed out after ..."
};

// kInvalidArgument for an empty argv; kUnavailable when the program cannot be started
// (not found, not executable, bad cwd: the reason says which). Any exit is a result.
engine::Result<CommandResult> RunCommand(const CommandRequest& request);

}  // namespace reflex::actions
