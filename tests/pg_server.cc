#include "pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace reflex::test {
namespace {

using Clock = std::chrono::steady_clock;

// Who runs initdb and postgres: ourselves, or (under uid 0) an unprivileged user.
struct RunAs {
  bool drop = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
};

RunAs PickUser() {
  RunAs who;
  if (::geteuid() != 0) return who;
  for (const char* name : {"postgres", "nobody"}) {
    if (const passwd* pw = ::getpwnam(name); pw != nullptr && pw->pw_uid != 0) {
      who.drop = true;
      who.uid = pw->pw_uid;
      who.gid = pw->pw_gid;
      who.name = name;
      return who;
    }
  }
  throw std::runtime_error(
      "PgServer: running as root and neither a `postgres` nor a `nobody` user exists to run "
      "initdb and postgres as (they refuse to run as root)");
}

// Forks and runs `argv` (argv[0] a path) in `dir`, with stdin from /dev/null and stdout and
// stderr appended to `log_path`, as `who`. The child gets SIGQUIT when the calling thread
// ends, so it does not outlive a test process that died.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& dir,
            const std::string& log_path, const RunAs& who) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    throw std::runtime_error("PgServer: cannot open " + log_path + " or /dev/null");
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    if (who.drop &&
        (::setgroups(0, nullptr) != 0 || ::setgid(who.gid) != 0 || ::setuid(who.uid) != 0)) {
      ::_exit(126);
    }
    // After the uid change, which would clear it.
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (::getppid() != parent) ::_exit(125);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    if (::chdir(dir.c_str()) != 0) ::_exit(124);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) throw std::runtime_error("PgServer: fork failed");
  return pid;
}

// The exit status of `pid` once it ended, or nullopt when it still runs at `deadline`.
std::optional<int> WaitUntil(pid_t pid, Clock::time_point deadline) {
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return status;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// How a child of Spawn ended, for messages.
std::string Describe(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (!WIFEXITED(status)) return "stopped";
  switch (const int code = WEXITSTATUS(status)) {
    case 124:
      return "exit 124: cannot enter the directory";
    case 125:
      return "exit 125: the test process ended";
    case 126:
      return "exit 126: cannot switch to the unprivileged user";
    case 127:
      return "exit 127: cannot execute the program";
    default:
      return "exit " + std::to_string(code);
  }
}

std::string ReadTail(const std::string& path, size_t max_bytes, size_t from = 0) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string all = ss.str();
  if (from > all.size()) from = all.size();
  all.erase(0, from);
  if (all.size() > max_bytes) all.erase(0, all.size() - max_bytes);
  return all;
}

size_t FileSize(const std::string& path) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<size_t>(n);
}

int VersionOf(const std::filesystem::path& dir) {
  try {
    return std::stoi(dir.filename().string());
  } catch (const std::exception&) {
    return -1;
  }
}

bool Executable(const std::filesystem::path& p) { return ::access(p.c_str(), X_OK) == 0; }

std::unique_ptr<PgServer>& Shared() {
  static std::unique_ptr<PgServer> server;
  return server;
}

}  // namespace

int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("FreeLoopbackPort: socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("FreeLoopbackPort: cannot bind 127.0.0.1:0");
  return ntohs(addr.sin_port);
}

std::string PgServer::FindBinDir() {
  if (const char* env = std::getenv("REFLEX_PG_BIN"); env != nullptr && *env != '\0') {
    const std::filesystem::path dir(env);
    return Executable(dir / "initdb") && Executable(dir / "postgres") ? dir.string() : "";
  }
  std::error_code ec;
  std::filesystem::path best;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::filesystem::path bin = entry.path() / "bin";
    if (!Executable(bin / "initdb") || !Executable(bin / "postgres")) continue;
    if (best.empty() || VersionOf(entry.path()) > VersionOf(best.parent_path())) best = bin;
  }
  return best.string();
}

std::unique_ptr<PgServer> PgServer::Start(const std::string& bin_dir) {
  std::unique_ptr<PgServer> s(new PgServer());
  s->bin_ = bin_dir;
  const RunAs who = PickUser();
  const std::string& dir = s->dir_.path();
  if (who.drop && ::chown(dir.c_str(), who.uid, who.gid) != 0) {
    throw std::runtime_error("PgServer: cannot chown " + dir + " to " + who.name);
  }
  const std::string data = dir + "/data";
  const std::string initdb_log = dir + "/initdb.log";
  const std::string log = dir + "/postgres.log";
  const std::string as_whom =
      who.drop ? " (run as " + who.name + "; is " + dir + " reachable by that user? see $TMPDIR)"
               : "";

  const pid_t initdb = Spawn({bin_dir + "/initdb", "-D", data, "-U", "reflex", "--auth=trust",
                              "--no-sync", "--no-locale", "-E", "UTF8", "--no-instructions"},
                             dir, initdb_log, who);
  const std::optional<int> st = WaitUntil(initdb, Clock::now() + std::chrono::seconds(120));
  if (!st) {
    ::kill(initdb, SIGKILL);
    WaitUntil(initdb, Clock::now() + std::chrono::seconds(10));
    throw std::runtime_error("PgServer: initdb did not finish within 120 s:\n" +
                             ReadTail(initdb_log, 4000));
  }
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
    throw std::runtime_error("PgServer: initdb failed (" + Describe(*st) + ")" + as_whom + ":\n" +
                             ReadTail(initdb_log, 4000));
  }

  constexpr int kTries = 3;
  for (int attempt = 1;; ++attempt) {
    s->port_ = FreeLoopbackPort();
    const size_t log_from = FileSize(log);
    s->pid_ = Spawn(
        {bin_dir + "/postgres", "-D", data, "-p", std::to_string(s->port_), "-c",
         "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir, "-c", "fsync=off",
         "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=50"},
        dir, log, who);
    const std::string ping = s->Dsn("postgres");
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    bool ready = false;
    std::optional<int> exited;
    while (!ready && Clock::now() < deadline) {
      exited = WaitUntil(s->pid_, Clock::now());
      if (exited) break;
      ready = PQping(ping.c_str()) == PQPING_OK;
      if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (ready) break;
    if (exited) {
      s->pid_ = -1;
      const std::string why = ReadTail(log, 4000, log_from);
      if (attempt < kTries && why.find("could not bind") != std::string::npos) continue;
      std::string m = "PgServer: postgres exited on port " + std::to_string(s->port_);
      m += " (" + Describe(*exited) + ")";
      m += as_whom;
      m += ":\n" + why;
      throw std::runtime_error(m);
    }
    s->Stop();
    throw std::runtime_error("PgServer: postgres did not accept connections within 30 s:\n" +
                             ReadTail(log, 4000, log_from));
  }
  s->CreateDatabase("reflex_test");
  return s;
}

PgServer::~PgServer() { Stop(); }

void PgServer::Stop() {
  if (pid_ <= 0) return;
  Resume();  // a paused server could not act on the SIGQUIT
  ::kill(pid_, SIGQUIT);
  if (!WaitUntil(pid_, Clock::now() + std::chrono::seconds(30))) {
    ::kill(pid_, SIGKILL);
    WaitUntil(pid_, Clock::now() + std::chrono::seconds(10));
  }
  pid_ = -1;
}

std::string PgServer::Dsn(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=reflex dbname=" + database +
         " connect_timeout=10";
}

// The processes whose parent is `parent` (the server's backends: each is a session leader of
// its own, so a process group does not reach them).
static std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; read after the last ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == parent) out.push_back(std::stoi(name));
  }
  return out;
}

void PgServer::Pause() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGSTOP);  // first, so it starts no new backend meanwhile
  for (pid_t child : ChildrenOf(pid_)) ::kill(child, SIGSTOP);
}

void PgServer::Resume() {
  if (pid_ <= 0) return;
  for (pid_t child : ChildrenOf(pid_)) ::kill(child, SIGCONT);
  ::kill(pid_, SIGCONT);
}

std::string PgServer::CreateDatabase(const std::string& name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      })) {
    throw std::runtime_error("PgServer::CreateDatabase: bad name '" + name + "'");
  }
  PGconn* conn = PQconnectdb(Dsn("postgres").c_str());
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    for (const std::string& sql : {"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name}) {
      PGresult* r = PQexec(conn, sql.c_str());
      if (PQresultStatus(r) != PGRES_COMMAND_OK) error = sql + ": " + PQresultErrorMessage(r);
      PQclear(r);
      if (!error.empty()) break;
    }
  }
  PQfinish(conn);
  if (!error.empty()) {
    throw std::runtime_error("PgServer: " + error + "\n" + LogTail());
  }
  return Dsn(name);
}

std::string PgServer::LogTail(size_t max_bytes) const {
  return ReadTail(dir_.path() + "/postgres.log", max_bytes);
}

void PgEnvironment::SetUp() {
  const std::string bin = PgServer::FindBinDir();
  if (bin.empty()) {
    const std::string why =
        "PostgreSQL server binaries not found (initdb and postgres under "
        "/usr/lib/postgresql/<version>/bin, or in $REFLEX_PG_BIN); Debian's `postgresql` "
        "package has them: bash deploy/setup.sh --tests";
    if (const char* ci = std::getenv("CI"); ci != nullptr && std::string(ci) == "true") {
      GTEST_FAIL() << why << ". CI=true: the PostgreSQL tests must run.";
    }
    GTEST_SKIP() << "All tests skipped: " << why;
  }
  try {
    const auto start = Clock::now();
    Shared() = PgServer::Start(bin);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    std::printf("PostgreSQL from %s up on 127.0.0.1:%d in %lld ms\n", bin.c_str(), Shared()->port(),
                static_cast<long long>(ms));
  } catch (const std::exception& e) {
    GTEST_FAIL() << e.what();
  }
}

void PgEnvironment::TearDown() { Shared().reset(); }

PgServer* PgEnvironment::server() { return Shared().get(); }

}  // namespace reflex::test
