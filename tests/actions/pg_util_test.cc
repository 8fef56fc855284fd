// The libpq layer (actions/src/pg_util.h) against a real PostgreSQL server started for this
// binary (tests/pg_server.h): parameters, results, transactions, the mapping of failures to
// Status, and the two primitives the PostgreSQL stores build on: claiming rows with
// FOR UPDATE SKIP LOCKED, and a once-only duty held with a session advisory lock.
#include "pg_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_server.h"

namespace reflex::actions::pg {
namespace {

using engine::StatusCode;

::testing::Environment* const kPg = ::testing::AddGlobalTestEnvironment(new test::PgEnvironment);

class PgUtilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = test::PgEnvironment::server();
    ASSERT_NE(server_, nullptr);
  }

  // A connection to the shared test database, or a failed test.
  Connection Open(std::string_view store = "test") {
    auto c = Connect(server_->Dsn(), store);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) throw std::runtime_error(c.status().ToString());
    return std::move(*c);
  }

  // Runs `sql`, failing the test on an error.
  static Rows Must(Connection& c, std::string_view sql) {
    auto r = c.Exec(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : Rows();
  }

  int64_t Count(Connection& c, const std::string& table) {
    Rows r = Must(c, "SELECT count(*) FROM " + table);
    return r.size() == 1 ? r.Int(0, 0) : -1;
  }

  test::PgServer* server_ = nullptr;
};

TEST_F(PgUtilTest, ParametersRoundTrip) {
  Connection c = Open();
  const std::string text = "it's \"quoted\"; -- ünïcødé 日本語 🚀 \\ $1 \t tab";
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

  auto r = c.Exec(
      "SELECT $1::text AS t, $2::bigint AS lo, $3::bigint AS hi, $4::text AS n, "
      "$5::bigint AS ni, $6::text AS empty",
      text, kMin, kMax, kNull, kNull, "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1);
  ASSERT_EQ(r->columns(), 6);
  EXPECT_EQ(r->Text(0, 0), text);
  EXPECT_EQ(r->Int(0, 1), kMin);
  EXPECT_EQ(r->Int(0, 2), kMax);
  EXPECT_TRUE(r->IsNull(0, 3));
  EXPECT_TRUE(r->IsNull(0, 4));
  EXPECT_EQ(r->Int(0, 4), 0);
  EXPECT_FALSE(r->IsNull(0, 5));  // '' is not NULL
  EXPECT_EQ(r->Text(0, 5), "");
  EXPECT_EQ(r->Column("hi"), 2);
  EXPECT_EQ(r->Column("missing"), -1);

  // Through a table: stored and read back unchanged; parameters are never spliced into SQL.
  ASSERT_TRUE(c.ExecScript("DROP TABLE IF EXISTS t_params;"
                           "CREATE TABLE t_params (id bigint PRIMARY KEY, body text, n bigint)")
                  .ok());
  auto ins = c.Exec("INSERT INTO t_params (id, body, n) VALUES ($1, $2, $3), ($4, $5, $6)", 1, text,
                    kMin, 2, "'); DROP TABLE t_params; --", kNull);
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  EXPECT_EQ(ins->affected(), 2);
  auto back = c.Exec("SELECT id, body, n FROM t_params ORDER BY id");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 2);
  EXPECT_EQ(back->Text(0, 1), text);
  EXPECT_EQ(back->Int(0, 2), kMin);
  EXPECT_EQ(back->Text(1, 1), "'); DROP TABLE t_params; --");
  EXPECT_TRUE(back->IsNull(1, 2));
  auto b = c.Exec("SELECT $1::boolean, $2::boolean", true, false);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->Bool(0, 0));
  EXPECT_FALSE(b->Bool(0, 1));

  // PostgreSQL text cannot hold NUL: refused before it reaches the server.
  auto nul = c.Exec("SELECT $1::text", std::string_view("a\0b", 3));
  EXPECT_EQ(nul.status().code(), StatusCode::kInvalidArgument) << nul.status().ToString();
  EXPECT_TRUE(c.ok());
}

TEST_F(PgUtilTest, TransactionRollsBackOnScopeExitAndKeepsWhatCommitted) {
  Connection c = Open();
  Connection other = Open();
  ASSERT_TRUE(
      c.ExecScript("DROP TABLE IF EXISTS t_tx; CREATE TABLE t_tx (id bigint PRIMARY KEY)").ok());
  {
    Transaction tx(c);
    ASSERT_TRUE(tx.Begin().ok());
    ASSERT_TRUE(c.Exec("INSERT INTO t_tx VALUES ($1), ($2)", 1, 2).ok());
    EXPECT_EQ(Count(c, "t_tx"), 2);      // visible inside
    EXPECT_EQ(Count(other, "t_tx"), 0);  // not outside
  }                                      // no Commit: rolled back here
  EXPECT_EQ(Count(c, "t_tx"), 0);
  EXPECT_EQ(Count(other, "t_tx"), 0);

  {
    Transaction tx(c);
    ASSERT_TRUE(tx.Begin("BEGIN ISOLATION LEVEL SERIALIZABLE").ok());
    ASSERT_TRUE(c.Exec("INSERT INTO t_tx VALUES ($1)", 3).ok());
    ASSERT_TRUE(tx.Commit().ok());
  }
  EXPECT_EQ(Count(other, "t_tx"), 1);

  // A statement failed inside: COMMIT is refused and nothing of the transaction stays.
  {
    Transaction tx(c);
    ASSERT_TRUE(tx.Begin().ok());
    ASSERT_TRUE(c.Exec("INSERT INTO t_tx VALUES ($1)", 4).ok());
    EXPECT_FALSE(c.Exec("INSERT INTO t_tx VALUES ($1)", 3).ok());  // duplicate
    const engine::Status s = tx.Commit();
    EXPECT_EQ(s.code(), StatusCode::kInternal) << s.ToString();
    EXPECT_NE(s.message().find("rolled back"), std::string::npos) << s.message();
  }
  EXPECT_EQ(Count(other, "t_tx"), 1);
  // The connection is usable again.
  EXPECT_EQ(Count(c, "t_tx"), 1);
}

TEST_F(PgUtilTest, UniqueViolationIsDistinguishable) {
  Connection c = Open("journal");
  ASSERT_TRUE(
      c.ExecScript("DROP TABLE IF EXISTS t_uniq; CREATE TABLE t_uniq (k text PRIMARY KEY)").ok());
  ASSERT_TRUE(c.Exec("INSERT INTO t_uniq (k) VALUES ($1)", "run-1").ok());
  auto again = c.Exec("INSERT INTO t_uniq (k) VALUES ($1)", "run-1");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  EXPECT_TRUE(IsUniqueViolation(again.status()));
  const std::string& m = again.status().message();
  EXPECT_EQ(m.rfind("journal: INSERT INTO t_uniq (k) VALUES ($1): duplicate key value", 0), 0) << m;
  EXPECT_NE(m.find("(SQLSTATE 23505)"), std::string::npos) << m;

  // Other failures are not mistaken for it.
  auto syntax = c.Exec("INSRT INTO t_uniq VALUES ($1)", "x");
  EXPECT_EQ(syntax.status().code(), StatusCode::kInternal) << syntax.status().ToString();
  EXPECT_FALSE(IsUniqueViolation(syntax.status()));
  auto not_null = c.Exec("INSERT INTO t_uniq (k) VALUES ($1)", kNull);
  EXPECT_EQ(not_null.status().code(), StatusCode::kInternal) << not_null.status().ToString();
  EXPECT_TRUE(c.ok());
}

TEST(PgErrorTest, SqlStatesMapToRetryableOrNot) {
  const std::map<std::string, StatusCode> want = {
      {"40001", StatusCode::kUnavailable},  // serialization failure
      {"40P01", StatusCode::kUnavailable},  // deadlock
      {"55P03", StatusCode::kUnavailable},  // lock not available
      {"57014", StatusCode::kUnavailable},  // query canceled (timeout)
      {"57P01", StatusCode::kUnavailable},  // admin shutdown
      {"57P02", StatusCode::kUnavailable},  // crash shutdown
      {"57P03", StatusCode::kUnavailable},  // cannot connect now
      {"53000", StatusCode::kUnavailable},  // insufficient resources
      {"53100", StatusCode::kUnavailable},  // disk full
      {"53300", StatusCode::kUnavailable},  // too many connections
      {"08006", StatusCode::kUnavailable},  // connection failure
      {"08P01", StatusCode::kUnavailable},  // protocol violation
      {"23505", StatusCode::kAlreadyExists}, {"23503", StatusCode::kInternal},  // foreign key
      {"23502", StatusCode::kInternal},                                              // not null
      {"42601", StatusCode::kInternal},                                              // syntax
      {"42P01", StatusCode::kInternal},  // undefined table
      {"40002", StatusCode::kInternal},           {"", StatusCode::kInternal},
  };
  for (const auto& [state, code] : want) {
    EXPECT_EQ(CodeForSqlState(state), code) << "SQLSTATE '" << state << "'";
  }
}

// Workers claim queued runs in transactions with SELECT ... FOR UPDATE SKIP LOCKED: a row
// locked by one is skipped (not waited for) by the others, so no row is claimed twice.
TEST_F(PgUtilTest, SkipLockedClaimsNeverHandTheSameRowTwice) {
  constexpr int kRows = 200;
  constexpr std::string_view kClaim =
      "SELECT id FROM t_runs WHERE state = 'queued' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED";
  Connection setup = Open();
  ASSERT_TRUE(setup
                  .ExecScript("DROP TABLE IF EXISTS t_runs;"
                              "CREATE TABLE t_runs (id bigint PRIMARY KEY, state text NOT NULL,"
                              "  worker bigint)")
                  .ok());
  ASSERT_TRUE(setup
                  .Exec("INSERT INTO t_runs (id, state) SELECT g, 'queued' "
                        "FROM generate_series(1, $1::bigint) g",
                        kRows)
                  .ok());

  // Step by step: A holds its row in an open transaction; B gets the next one, not A's.
  {
    Connection a = Open();
    Connection b = Open();
    Transaction ta(a);
    Transaction tb(b);
    ASSERT_TRUE(ta.Begin().ok());
    ASSERT_TRUE(tb.Begin().ok());
    auto ra = a.Exec(kClaim);
    auto rb = b.Exec(kClaim);
    ASSERT_TRUE(ra.ok() && rb.ok());
    ASSERT_EQ(ra->size(), 1);
    ASSERT_EQ(rb->size(), 1);
    EXPECT_EQ(ra->Int(0, 0), 1);
    EXPECT_EQ(rb->Int(0, 0), 2);
    // A's transaction ends uncommitted: its row is free again, and claimable.
    ta.Rollback();
    auto again = a.Exec(kClaim);
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->size(), 1);
    EXPECT_EQ(again->Int(0, 0), 1);
  }

  // Four workers race through the queue, each on its own connection.
  constexpr int kWorkers = 4;
  std::mutex mu;
  std::map<int64_t, int> claimed;  // id -> times claimed
  std::vector<std::string> errors;
  std::vector<std::thread> workers;
  workers.reserve(kWorkers);
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      auto conn = Connect(server_->Dsn(), "worker");
      if (!conn.ok()) {
        std::lock_guard<std::mutex> l(mu);
        errors.push_back(conn.status().ToString());
        return;
      }
      for (int i = 0; i <= kRows; ++i) {  // bounded: never more than the rows
        Transaction tx(*conn);
        engine::Status s = tx.Begin();
        auto row = s.ok() ? conn->Exec(kClaim) : engine::Result<Rows>(s);
        if (!row.ok()) {
          std::lock_guard<std::mutex> l(mu);
          errors.push_back(row.status().ToString());
          return;
        }
        if (row->empty()) return;  // the queue is drained
        const int64_t id = row->Int(0, 0);
        auto upd =
            conn->Exec("UPDATE t_runs SET state = 'claimed', worker = $1 WHERE id = $2", w, id);
        s = upd.ok() ? tx.Commit() : upd.status();
        std::lock_guard<std::mutex> l(mu);
        if (!s.ok()) {
          errors.push_back(s.ToString());
          return;
        }
        ++claimed[id];
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(claimed.size(), static_cast<size_t>(kRows));
  for (const auto& [id, times] : claimed) EXPECT_EQ(times, 1) << "run " << id;
  auto left = setup.Exec("SELECT count(*) FROM t_runs WHERE state <> 'claimed'");
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->Int(0, 0), 0);
}

// A once-only duty is held with a session advisory lock: refused to every other session while
// the holder's connection lives, free once it is closed.
TEST_F(PgUtilTest, AdvisoryLockIsHeldUntilTheHoldersConnectionCloses) {
  constexpr int64_t kDuty = 0x5265666c6578;  // any bigint key
  auto try_lock = [](Connection& c, int64_t key) {
    auto r = c.Exec("SELECT pg_try_advisory_lock($1::bigint)", key);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->Bool(0, 0);
  };
  Connection b = Open();
  {
    Connection a = Open();
    ASSERT_TRUE(try_lock(a, kDuty));
    EXPECT_FALSE(try_lock(b, kDuty));
    EXPECT_FALSE(try_lock(b, kDuty));     // still refused: the lock is the session's, not a tx's
    EXPECT_TRUE(try_lock(b, kDuty + 1));  // another duty is independent
    ASSERT_TRUE(b.Exec("SELECT pg_advisory_unlock($1::bigint)", kDuty + 1).ok());
  }  // a's connection closes: the server ends its session and frees the lock
  // The server notices the closed connection asynchronously: wait for it, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool got = false;
  while (!got && std::chrono::steady_clock::now() < deadline) {
    got = try_lock(b, kDuty);
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(got) << "the lock stayed held after its holder's connection closed";
  Connection c = Open();
  EXPECT_FALSE(try_lock(c, kDuty));  // now b is the holder
}

TEST_F(PgUtilTest, ServerThatIsGoneIsUnavailable) {
  const int port = test::FreeLoopbackPort();  // nothing listens there
  auto c = Connect("host=127.0.0.1 port=" + std::to_string(port) +
                       " user=reflex dbname=reflex_test connect_timeout=2",
                   "escalations");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable) << c.status().ToString();
  EXPECT_EQ(c.status().message().rfind("escalations: connect: ", 0), 0) << c.status().message();
  EXPECT_NE(c.status().message().find(std::to_string(port)), std::string::npos)
      << c.status().message();

  // A malformed connection string is a configuration error instead.
  auto bad = Connect("host=127.0.0.1 no_such_option=1", "escalations");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
}

TEST_F(PgUtilTest, SessionEndedByTheServerIsUnavailable) {
  Connection victim = Open("audit");
  Connection admin = Open();
  ASSERT_TRUE(victim.ok());
  // Waits (up to 5 s) until the session is gone.
  auto killed = admin.Exec("SELECT pg_terminate_backend($1, 5000)", victim.backend_pid());
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  ASSERT_TRUE(killed->Bool(0, 0));
  auto r = victim.Exec("SELECT 1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(r.status().message().rfind("audit: SELECT 1: ", 0), 0) << r.status().message();
  EXPECT_FALSE(victim.ok());
  auto later = victim.Exec("SELECT 1");
  EXPECT_EQ(later.status().code(), StatusCode::kUnavailable) << later.status().ToString();
}

// Two transactions that lock two rows in opposite orders: the server breaks the deadlock by
// failing one of them with 40P01, which is worth retrying.
TEST_F(PgUtilTest, DeadlockVictimIsUnavailable) {
  Connection setup = Open();
  ASSERT_TRUE(setup
                  .ExecScript("DROP TABLE IF EXISTS t_dl;"
                              "CREATE TABLE t_dl (id bigint PRIMARY KEY, v bigint);"
                              "INSERT INTO t_dl VALUES (1, 0), (2, 0)")
                  .ok());
  std::atomic<int> first_locks{0};
  std::vector<engine::Status> outcome(2);
  auto run = [&](int who) {
    auto c = Connect(server_->Dsn(), "deadlock");
    if (!c.ok()) {
      outcome[who] = c.status();
      return;
    }
    // Detected after 50 ms of waiting instead of the default second.
    if (auto s = c->ExecScript("SET deadlock_timeout = '50ms'"); !s.ok()) {
      outcome[who] = s;
      return;
    }
    Transaction tx(*c);
    engine::Status s = tx.Begin();
    const int mine = who == 0 ? 1 : 2;
    const int theirs = who == 0 ? 2 : 1;
    if (s.ok()) s = c->Exec("UPDATE t_dl SET v = v + 1 WHERE id = $1", mine).status();
    ++first_locks;
    // Both hold their first row before either asks for the other's (bounded wait).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (first_locks.load() < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (s.ok()) s = c->Exec("UPDATE t_dl SET v = v + 1 WHERE id = $1", theirs).status();
    if (s.ok()) s = tx.Commit();
    outcome[who] = s;
  };
  std::thread t0(run, 0);
  std::thread t1(run, 1);
  t0.join();
  t1.join();
  const int failed = !outcome[0].ok() + !outcome[1].ok();
  EXPECT_EQ(failed, 1) << outcome[0].ToString() << " / " << outcome[1].ToString();
  for (const engine::Status& s : outcome) {
    if (s.ok()) continue;
    EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
    EXPECT_NE(s.message().find("40P01"), std::string::npos) << s.message();
  }
}

TEST_F(PgUtilTest, HarnessServerIsLoopbackOnlyAndUnprivileged) {
  Connection c = Open();
  auto r = c.Exec(
      "SELECT current_setting('listen_addresses'), current_setting('max_connections'),"
      " current_setting('fsync'), inet_server_addr()::text, inet_server_port()");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->Text(0, 0), "127.0.0.1");
  EXPECT_EQ(r->Int(0, 1), 50);
  EXPECT_EQ(r->Text(0, 2), "off");
  EXPECT_EQ(r->Text(0, 3), "127.0.0.1/32");
  EXPECT_EQ(r->Int(0, 4), server_->port());
  // The server's files belong to whoever runs it, never root.
  auto dir = c.Exec("SELECT current_setting('data_directory')");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(dir->Text(0, 0).c_str(), &st), 0) << dir->Text(0, 0);
  EXPECT_NE(st.st_uid, 0u);
  // A second database for tests that want their own.
  const std::string dsn = server_->CreateDatabase("pg_util_second");
  auto second = Connect(dsn, "test");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto name = second->Exec("SELECT current_database()");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->Text(0, 0), "pg_util_second");
}

// Binaries that each start a server can run side by side (ctest -j): each gets its own port
// and directory.
TEST_F(PgUtilTest, HarnessStartsAnotherServerBesideTheFirst) {
  auto other = test::PgServer::Start(test::PgServer::FindBinDir());
  ASSERT_NE(other->port(), server_->port());
  auto a = Connect(server_->Dsn(), "test");
  auto b = Connect(other->Dsn(), "test");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(a->ExecScript("DROP TABLE IF EXISTS t_which; CREATE TABLE t_which (x int)").ok());
  // The table is in the first server only.
  EXPECT_EQ(b->Exec("SELECT x FROM t_which").status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace reflex::actions::pg
