// PgServer: a real PostgreSQL server for one test binary, from Debian's `postgresql` package
// (deploy/setup.sh --tests installs it), in a fresh temporary directory; PgEnvironment: the
// GoogleTest environment that starts one for the whole binary, so the start (about one second
// on 2 cores: initdb 0.6 s, the server 0.2 s, CREATE DATABASE 0.2 s) is paid once.
//
// The server listens on 127.0.0.1 only, on a port free at start (bound to port 0 and read
// back), with its socket in the temporary directory, fsync=off and max_connections=50;
// authentication is `trust` and the superuser is `reflex`. initdb and postgres refuse to run
// as root: under uid 0 they run as the `postgres` user the package creates (else `nobody`),
// which then owns the directory (so $TMPDIR must be reachable by that user). The server is a
// child process that receives SIGQUIT if the process that started it dies, so a crashed test
// leaves no server behind (its directory stays).
//
// Thread-safety: Dsn(), port() from any thread; Start and the destructor from the thread that
// outlives the server (the server is bound to the life of the starting thread: the main
// thread, as PgEnvironment does). Errors: Start() and CreateDatabase() throw
// std::runtime_error with the reason and the tail of the server's log (the test fails).
//
//   static auto* const kPg = ::testing::AddGlobalTestEnvironment(new test::PgEnvironment);
//   TEST(Store, Works) { auto conn = pg::Connect(test::PgEnvironment::server()->Dsn(), "t"); }
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>

#include "temp_dir.h"

namespace reflex::test {

class PgServer {
 public:
  // The directory holding initdb and postgres: $REFLEX_PG_BIN when set, else the newest
  // /usr/lib/postgresql/<version>/bin that has both; "" when there is none.
  static std::string FindBinDir();

  // initdb, then the server, up and accepting connections, with an empty database
  // "reflex_test". `bin_dir` as FindBinDir() returns it. Bounded: initdb gets 120 s, the
  // server 30 s to accept connections; a port taken between the pick and the bind is picked
  // again (three tries).
  static std::unique_ptr<PgServer> Start(const std::string& bin_dir);

  // Immediate shutdown (SIGQUIT to the postmaster, which is what `pg_ctl stop -m immediate`
  // sends), waited for up to 30 s (then SIGKILL), and the directory removed.
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  // libpq connection string for `database` (default "reflex_test") as the superuser.
  std::string Dsn(const std::string& database = "reflex_test") const;
  // A fresh, empty database `name` ([a-z0-9_]+; one left by an earlier call is dropped
  // first, which fails while a session uses it); returns its Dsn().
  std::string CreateDatabase(const std::string& name);
  // Stops (SIGSTOP) and resumes (SIGCONT) the server and every backend it forked (its child
  // processes): a database that hangs without closing its connections. The destructor resumes
  // it before shutting it down.
  void Pause();
  void Resume();
  // The server's log (for a failing test's message).
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  PgServer() = default;
  void Stop();

  TempDir dir_;  // destroyed last: after the server stopped
  std::string bin_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free when this returned (bound to port 0, read back,
// closed). Throws std::runtime_error when no socket can be bound.
int FreeLoopbackPort();

// One PgServer for the whole test binary, started before the first test and stopped after
// the last. When the PostgreSQL binaries are missing, every test is skipped with the reason,
// except with the environment variable CI=true, where that fails the run.
class PgEnvironment : public ::testing::Environment {
 public:
  void SetUp() override;
  void TearDown() override;
  // The binary's server; nullptr before SetUp, after TearDown, or when skipped.
  static PgServer* server();
};

}  // namespace reflex::test
