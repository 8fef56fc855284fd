// Failover of `reflex run` replicas in one consumer group, as processes against a broker the
// test hosts: a replica killed with SIGKILL mid-stream, and a rolling restart with static
// membership. Every event must be decided; the survivors keep their own partitions (the
// cooperative-sticky assignor moves only the dead replica's); the time until the moved
// partitions were decided again is printed (a figure for docs/operations.md, not asserted:
// the machines are shared). The embedded broker's group coordinator waits up to the session
// timeout less a second for the members to rejoin a rebalance, where a real broker goes on as
// soon as all have: its figures are an upper bound.
#include <gtest/gtest.h>
#include <httplib.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../connectors/kafka_test_util.h"
#include "actions/test_server.h"
#include "pg_server.h"
#include "reflex/connectors/embedded_broker.h"
#include "run_cli.h"
#include "run_harness.h"
#include "temp_dir.h"

namespace reflex::cli_test {
namespace {

using nlohmann::json;
using Ms = std::chrono::milliseconds;

constexpr int kPartitions = 6;

int64_t WallMs() {
  return std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Produces one small event to every partition in turn, every `every`, from its own thread
// until Stop(); remembers when each event was produced (wall clock, as record timestamps).
class Stream {
 public:
  // `name(n)`: the alertname of the n-th event (default: every one is a Tick).
  Stream(
      const std::string& bootstrap, Ms every,
      std::function<std::string(int)> name = [](int) { return std::string("Tick"); }) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "linger.ms", "0", err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* self) {
      if (m->err) static_cast<Stream*>(self)->failed_.fetch_add(1);
    });
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    thread_ = std::thread([this, every, name] {
      for (int n = 0; !stop_.load(); ++n) {
        const int32_t p = n % kPartitions;
        const std::string id = "e-" + std::to_string(n);
        const std::string v = R"({"id":")" + id + R"(","labels":{"alertname":")" + name(n) +
                              R"(","p":")" + std::to_string(p) + R"("}})";
        {
          std::lock_guard<std::mutex> l(mu_);
          produced_[id] = {p, WallMs()};
        }
        rd_kafka_producev(producer_, RD_KAFKA_V_TOPIC("reflex.events"), RD_KAFKA_V_PARTITION(p),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()), RD_KAFKA_V_END);
        rd_kafka_poll(producer_, 0);
        std::this_thread::sleep_for(every);
      }
      rd_kafka_flush(producer_, 30000);
    });
  }
  ~Stream() {
    Stop();
    rd_kafka_destroy(producer_);
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Events the broker did not acknowledge.
  int failed() const { return failed_.load(); }
  // id -> (partition, produced at)
  std::map<std::string, std::pair<int32_t, int64_t>> produced() {
    std::lock_guard<std::mutex> l(mu_);
    return produced_;
  }

 private:
  rd_kafka_t* producer_ = nullptr;
  std::atomic<bool> stop_{false};
  std::atomic<int> failed_{0};
  std::mutex mu_;
  std::map<std::string, std::pair<int32_t, int64_t>> produced_;
  std::thread thread_;
};

// The value of the sample line `series` in a /metrics text; -1 when there is none.
double Sample(const std::string& metrics, const std::string& series) {
  for (const auto& l : Lines(metrics)) {
    if (l.rfind(series + " ", 0) == 0) return std::stod(l.substr(series.size() + 1));
  }
  return -1;
}

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = connectors::EmbeddedBroker::Start({});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    for (const char* t : {"reflex.events", "reflex.decisions", "reflex.escalations",
                          "reflex.dead-letter", "reflex.pattern-changelog"}) {
      ASSERT_TRUE(broker_->CreateTopic(t, kPartitions).ok());
    }
    tmp_.Write("rules/tables/t.csv", "id,labels.alertname,actions\ntick,Tick,ignore\n");
  }

  // Starts replica i (its own config and state directory; `extra` more kafka keys) and
  // returns its HTTP port.
  // `top`: more top-level keys.
  int StartReplica(int i, const std::string& extra = "", const std::string& top = "") {
    const std::string cfg = tmp_.Write(
        "reflex" + std::to_string(i) + ".yaml",
        "rules: " + tmp_.path() + "/rules\nstate_dir: " + tmp_.path() + "/state" +
            std::to_string(i) + "\nwatch_rules: false\nkafka:\n  group_id: failover-test\n" +
            extra + "processing: {batch_size: 50, batch_wait_ms: 5}\n" +
            "http: {listen: '127.0.0.1:0'}\n" + top);
    ++starts_[i];
    const std::string out = Out(i);
    replica_[i] = std::make_unique<Child>(
        REFLEX_CLI_PATH,
        std::vector<std::string>{"run", "--config", cfg, "--brokers", broker_->bootstrap()}, out,
        Err(i));
    int port = 0;
    EXPECT_TRUE(WaitUntil([&] {
      const std::string text = ReadFile(out);
      const size_t at = text.find("http://127.0.0.1:");
      if (at != std::string::npos) port = std::atoi(text.c_str() + at + 17);
      return port > 0;
    })) << ReadFile(Err(i));
    return port;
  }
  // A PostgreSQL server for this test; nullptr (the test skips) when its binaries are
  // missing, except with CI=true, where that fails the test.
  static std::unique_ptr<reflex::test::PgServer> StartPg() {
    const std::string bin = reflex::test::PgServer::FindBinDir();
    if (bin.empty()) {
      const char* ci = std::getenv("CI");
      if (ci != nullptr && std::string(ci) == "true") {
        ADD_FAILURE()
            << "PostgreSQL's binaries are missing (deploy/setup.sh --tests installs them)";
      }
      return nullptr;
    }
    return reflex::test::PgServer::Start(bin);
  }
  // Each start of a replica has its own stdout file (where it prints its HTTP port).
  std::string Out(int i) {
    return tmp_.path() + "/out" + std::to_string(i) + "." + std::to_string(starts_[i]);
  }
  std::string Err(int i) { return tmp_.path() + "/err" + std::to_string(i); }
  // reflex_kafka_partitions_owned of the replica on `port` (-1 when it does not answer).
  static int Owned(int port) {
    httplib::Client http("127.0.0.1", port);
    http.set_read_timeout(5);
    auto m = http.Get("/metrics");
    return m ? static_cast<int>(Sample(m->body, "reflex_kafka_partitions_owned")) : -1;
  }
  // Waits until each of the three replicas owns partitions and together they own all.
  static bool AllOwnPartitions(const int (&port)[3]) {
    return WaitUntil(
        [&] {
          const int a = Owned(port[0]), b = Owned(port[1]), c = Owned(port[2]);
          return a > 0 && b > 0 && c > 0 && a + b + c == kPartitions;
        },
        std::chrono::seconds(90));
  }
  std::string Logs(int n) {
    std::string all;
    for (int i = 0; i < n; ++i) all += "--- replica " + std::to_string(i) + "\n" + ReadFile(Err(i));
    return all;
  }
  // Waits until every produced event was decided; prints, per group of partitions, the
  // longest any event produced in [from_ms, to_ms) waited for its decision. Returns that
  // longest wait over all partitions (ms), or -1 when an event was not decided.
  int64_t CheckEveryEventDecided(Stream& stream, const char* what, int64_t from_ms, int64_t to_ms,
                                 const std::set<int32_t>& moved) {
    EXPECT_EQ(stream.failed(), 0) << "the broker acknowledged every event";
    const auto produced = stream.produced();
    std::map<std::string, int64_t> decided_at;
    // At least once: an event decided again after a move is there twice, so reading as many
    // records as events may stop short; read again for as many more as are missing.
    size_t want = produced.size();
    for (int attempt = 0; attempt < 5; ++attempt) {
      const auto decisions = connectors::test::ConsumeAll(broker_->bootstrap(), "reflex.decisions",
                                                          want, std::chrono::seconds(60));
      decided_at.clear();
      for (const auto& d : decisions) {
        const auto j = json::parse(d.value, nullptr, false);
        if (!j.is_object()) continue;
        const std::string id = j.value("event_id", "");
        // A redelivered event counts at its first decision.
        if (!decided_at.count(id)) decided_at[id] = d.timestamp_ms;
      }
      size_t have = 0;
      for (const auto& e : produced) have += decided_at.count(e.first);
      if (have == produced.size()) break;
      want = decisions.size() + (produced.size() - have);
    }
    int64_t worst_moved = 0, worst_kept = 0;
    size_t missing = 0;
    for (const auto& [id, at] : produced) {
      auto it = decided_at.find(id);
      if (it == decided_at.end()) {
        ++missing;
        continue;
      }
      if (at.second < from_ms || at.second >= to_ms) continue;
      int64_t& worst = moved.count(at.first) ? worst_moved : worst_kept;
      worst = std::max(worst, it->second - at.second);
    }
    std::string which;
    for (const auto& e : produced) {
      if (!decided_at.count(e.first) && which.size() < 200) which += " " + e.first;
    }
    EXPECT_EQ(missing, 0u) << "of " << produced.size() << " events:" << which;
    if (moved.empty()) {
      std::printf(
          "%s: %zu events in all; of those produced in the %.1f s from the first stop on, the "
          "longest wait for a decision was %.1f s\n",
          what, produced.size(), (to_ms - from_ms) / 1000.0, worst_kept / 1000.0);
    } else {
      std::printf(
          "%s: %zu events in all; of those produced in the %.1f s from the kill on, the moved "
          "partitions' waited at most %.1f s for their decision, the others' %.1f s\n",
          what, produced.size(), (to_ms - from_ms) / 1000.0, worst_moved / 1000.0,
          worst_kept / 1000.0);
    }
    return missing ? -1 : std::max(worst_moved, worst_kept);
  }

  void KillOneOfThree(const std::string& extra);

  TempDir tmp_;
  std::unique_ptr<connectors::EmbeddedBroker> broker_;
  std::unique_ptr<Child> replica_[3];
  int starts_[3] = {0, 0, 0};
};

// The partitions a replica's log says it was assigned (cooperative: every assignment adds)
// minus those it says were revoked or lost, in log order.
std::set<int32_t> OwnedByLog(const std::string& log) {
  std::set<int32_t> owned;
  for (const auto& line : Lines(log)) {
    const auto j = json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    const std::string msg = j.value("msg", "");
    const bool assigned = msg == "partitions assigned";
    if (!assigned && msg.rfind("partitions revoked", 0) != 0 &&
        msg.rfind("partitions lost", 0) != 0) {
      continue;
    }
    const std::string parts = j.value("partitions", "");  // "reflex.events[0,3]"
    const size_t open = parts.find('[');
    if (open == std::string::npos) continue;
    std::string num;
    for (size_t i = open + 1; i < parts.size(); ++i) {
      if (parts[i] == ',' || parts[i] == ']') {
        if (!num.empty()) {
          const int32_t p = std::stoi(num);
          if (assigned) {
            owned.insert(p);
          } else {
            owned.erase(p);
          }
        }
        num.clear();
      } else {
        num += parts[i];
      }
    }
  }
  return owned;
}

// Three replicas share six partitions; one is killed with SIGKILL while events stream in.
// The group declares it dead after the session timeout and gives its partitions to the two
// survivors; every event is decided (at least once), and the survivors' logs account for
// every partition once. `extra`: more kafka keys for every replica.
void FailoverTest::KillOneOfThree(const std::string& extra) {
  int port[3];
  for (int i = 0; i < 3; ++i) port[i] = StartReplica(i, extra);
  ASSERT_TRUE(AllOwnPartitions(port)) << Logs(3);
  Stream stream(broker_->bootstrap(), Ms(20));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::set<int32_t> moved = OwnedByLog(ReadFile(Err(0)));
  ASSERT_FALSE(moved.empty()) << ReadFile(Err(0));
  const int64_t killed_at = WallMs();
  replica_[0]->Signal(SIGKILL);
  ASSERT_EQ(replica_[0]->Wait(std::chrono::seconds(30)), 128 + SIGKILL);
  ASSERT_TRUE(WaitUntil([&] { return Owned(port[1]) + Owned(port[2]) == kPartitions; })) << Logs(3);
  std::printf("failover: the survivors owned all %d partitions %.1f s after the kill\n",
              kPartitions, (WallMs() - killed_at) / 1000.0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int64_t stopped_at = WallMs();
  stream.Stop();
  EXPECT_GE(CheckEveryEventDecided(stream, "failover", killed_at, stopped_at, moved), 0) << Logs(3);
  std::set<int32_t> now = OwnedByLog(ReadFile(Err(1)));
  for (int32_t p : OwnedByLog(ReadFile(Err(2)))) EXPECT_TRUE(now.insert(p).second) << p;
  EXPECT_EQ(now.size(), static_cast<size_t>(kPartitions))
      << "the survivors' logs account for every partition once\n"
      << Logs(3);
  for (int i = 1; i < 3; ++i) {
    replica_[i]->Signal(SIGTERM);
    EXPECT_EQ(replica_[i]->Wait(std::chrono::seconds(60)), 0) << ReadFile(Err(i));
  }
}

// With the default assignor (range: every replica stops its partitions on a rebalance and
// the coordinator hands them out again), no replica loses its assignment.
TEST_F(FailoverTest, AKilledReplicasPartitionsMoveToTheSurvivorsAndEveryEventIsDecided) {
  KillOneOfThree("");
  for (int i = 1; i < 3; ++i) {
    EXPECT_EQ(CountOf(ReadFile(Err(i)), "partitions lost"), 0) << ReadFile(Err(i));
  }
}

// With cooperative-sticky, librdkafka 2.0 (Debian 12) takes a survivor's assignment as lost
// when an offset commit is answered after the rebalance moved the generation on (fixed in
// later librdkafka releases): the survivor gives its partitions up and joins again. Nothing
// is lost even so: what was not committed is decided again by the partitions' next owner.
TEST_F(FailoverTest, WithCooperativeStickyEveryEventIsDecidedToo) {
  KillOneOfThree("  assignor: cooperative-sticky\n");
}

// A rolling restart with static membership: each replica in turn is stopped (SIGTERM) and
// started again with the same kafka.group_instance_id: every event is decided, and no event
// waits longer than the longest restart (no partition idle for longer than the restart of
// its owner). The embedded broker's coordinator (librdkafka 2.0's mock) does not implement
// static membership: it rebalances as for new members, where a real broker hands the
// restarted replica its partitions back without one. So the figures printed are those of a
// rolling restart with rebalances, and only what holds either way is asserted.
TEST_F(FailoverTest,
       ARollingRestartWithStaticMembershipDecidesEveryEventAndNoneWaitsLongerThanARestart) {
  int port[3];
  const auto extra = [](int i) {
    return "  group_instance_id: reflex-" + std::to_string(i) + "\n";
  };
  for (int i = 0; i < 3; ++i) port[i] = StartReplica(i, extra(i));
  ASSERT_TRUE(AllOwnPartitions(port)) << Logs(3);
  Stream stream(broker_->bootstrap(), Ms(20));
  const int64_t started = WallMs();
  int64_t longest_restart = 0;
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const int64_t stop_at = WallMs();
    replica_[i]->Signal(SIGTERM);
    ASSERT_EQ(replica_[i]->Wait(std::chrono::seconds(60)), 0) << ReadFile(Err(i));
    port[i] = StartReplica(i, extra(i));
    ASSERT_TRUE(WaitUntil([&] { return Owned(port[i]) > 0; })) << Logs(3);
    longest_restart = std::max(longest_restart, WallMs() - stop_at);
    std::printf("rolling restart: replica %d owned partitions again %.1f s after its SIGTERM\n", i,
                (WallMs() - stop_at) / 1000.0);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int64_t stopped_at = WallMs();
  stream.Stop();
  const int64_t longest_wait =
      CheckEveryEventDecided(stream, "rolling restart", started, stopped_at, {});
  EXPECT_GE(longest_wait, 0) << Logs(3);
  // No partition idle for longer than the restart of its owner: no event waited longer than
  // the longest restart (SIGTERM until the restarted replica owned partitions again), give or
  // take a batch and the 50 ms the restart's end is polled at (2 s allowed).
  EXPECT_LE(longest_wait, longest_restart + 2000)
      << "an event waited " << longest_wait << " ms; the longest restart took " << longest_restart
      << " ms";
  std::set<int32_t> now;
  for (int i = 0; i < 3; ++i) {
    for (int32_t p : OwnedByLog(ReadFile(Err(i)))) EXPECT_TRUE(now.insert(p).second) << p;
  }
  EXPECT_EQ(now.size(), static_cast<size_t>(kPartitions)) << Logs(3);
  for (int i = 0; i < 3; ++i) {
    replica_[i]->Signal(SIGTERM);
    EXPECT_EQ(replica_[i]->Wait(std::chrono::seconds(60)), 0) << ReadFile(Err(i));
  }
}

// The acceptance test of replicas sharing one store: three replicas on one PostgreSQL (a real
// server this test starts) decide a stream with actions, approvals and unknown events; one is
// killed with SIGKILL mid-stream, then another is restarted. Every event is decided, every
// action runs once per idempotency key (a run interrupted by the kill is resumed by a survivor
// after its claim's lease; only such a run may reach the target twice, with the same key),
// the approvals given through `reflex approvals` on any replica's store are carried out, and
// the escalation group's count is the number of unknown events, whole in the one store.
TEST_F(FailoverTest, ThreeReplicasOnOneSharedStoreRunEveryActionOnceThroughAKillAndARestart) {
  std::unique_ptr<reflex::test::PgServer> pg = StartPg();
  if (pg == nullptr) GTEST_SKIP() << "PostgreSQL's binaries are missing";
  const std::string dsn = pg->CreateDatabase("failover");
  ::setenv("REFLEX_TEST_STORE_DSN", dsn.c_str(), 1);  // the replicas inherit it

  // The target: counts the requests per Idempotency-Key.
  actions::test::TestServer target;
  std::mutex mu;
  std::map<std::string, int> calls;  // idempotency key -> requests
  target.svr().Post("/fix", [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    ++calls[req.get_header_value("Idempotency-Key")];
    res.status = 200;
  });
  target.Start();
  tmp_.Write(
      "rules/tables/t.csv",
      "id,labels.alertname,actions\ntick,Tick,ignore\nfix,Fix,fix_it\ngate,Gate,gated_fix\n");
  const std::string url = target.Url("/fix");
  tmp_.Write("rules/actions.yaml", "actions:\n  fix_it:\n    kind: webhook\n    url: " + url +
                                       "\n  gated_fix:\n    kind: webhook\n    url: " + url +
                                       "\n    approval: required\n");
  const std::string top = "storage:\n  store: {kind: postgresql, dsn_env: REFLEX_TEST_STORE_DSN}\n";
  // Every 10th event an action, every 20th one that needs approval, every 10th unknown.
  const auto name = [](int n) -> std::string {
    if (n % 10 == 1) return "Fix";
    if (n % 20 == 3) return "Gate";
    if (n % 10 == 5) return "Other";
    return "Tick";
  };

  int port[3];
  for (int i = 0; i < 3; ++i) port[i] = StartReplica(i, "", top);
  ASSERT_TRUE(AllOwnPartitions(port)) << Logs(3);
  Stream stream(broker_->bootstrap(), Ms(20), name);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::set<int32_t> moved = OwnedByLog(ReadFile(Err(0)));
  const int64_t killed_at = WallMs();
  replica_[0]->Signal(SIGKILL);
  ASSERT_EQ(replica_[0]->Wait(std::chrono::seconds(30)), 128 + SIGKILL);
  ASSERT_TRUE(WaitUntil([&] { return Owned(port[1]) + Owned(port[2]) == kPartitions; })) << Logs(3);
  std::printf("shared store: the survivors owned all %d partitions %.1f s after the kill\n",
              kPartitions, (WallMs() - killed_at) / 1000.0);
  // Then replica 1 is restarted (SIGTERM, started again).
  replica_[1]->Signal(SIGTERM);
  ASSERT_EQ(replica_[1]->Wait(std::chrono::seconds(60)), 0) << ReadFile(Err(1));
  port[1] = StartReplica(1, "", top);
  ASSERT_TRUE(WaitUntil([&] {
    const int a = Owned(port[1]), b = Owned(port[2]);
    return a > 0 && b > 0 && a + b == kPartitions;
  })) << Logs(3);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const int64_t stopped_at = WallMs();
  stream.Stop();
  EXPECT_GE(CheckEveryEventDecided(stream, "shared store", killed_at, stopped_at, moved), 0)
      << Logs(3);

  const auto produced = stream.produced();
  int fixes = 0, gates = 0, unknown = 0;
  for (const auto& e : produced) {
    const int n = std::atoi(e.first.c_str() + 2);  // "e-<n>"
    const std::string kind = name(n);
    fixes += kind == "Fix";
    gates += kind == "Gate";
    unknown += kind == "Other";
  }
  // The approvals, given from the command line on the shared store (replica 2's config).
  const std::string cfg2 = tmp_.path() + "/reflex2.yaml";
  std::set<int64_t> approved;
  ASSERT_TRUE(WaitUntil([&] {
    CliResult list = RunCli({"approvals", "list", "--json", "--config", cfg2});
    const auto arr = json::parse(list.out, nullptr, false);
    if (!arr.is_array()) return false;
    for (const auto& r : arr) {
      const int64_t id = r.value("id", int64_t{0});
      if (approved.count(id)) continue;
      CliResult ok =
          RunCli({"approvals", "approve", std::to_string(id), "--by", "oncall", "--config", cfg2});
      EXPECT_EQ(ok.exit_code, 0) << ok.Describe();
      approved.insert(id);
    }
    return approved.size() == static_cast<size_t>(gates);
  })) << approved.size()
      << " of " << gates << " approvals";
  // Every action reaches the target: the dead replica's interrupted runs after the lease.
  const int actions = fixes + gates;
  const bool all_called = WaitUntil(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return calls.size() == static_cast<size_t>(actions);
      },
      std::chrono::seconds(90));
  std::map<std::string, int> seen;
  {
    std::lock_guard<std::mutex> l(mu);
    seen = calls;
  }
  EXPECT_TRUE(all_called) << seen.size() << " of " << actions << " actions reached the target\n"
                          << Logs(3);
  CliResult runs = RunCli({"actions", "list", "--json", "--limit", "100000", "--config", cfg2});
  ASSERT_EQ(runs.exit_code, 0) << runs.Describe();
  const auto arr = json::parse(runs.out, nullptr, false);
  ASSERT_TRUE(arr.is_array()) << runs.out;
  EXPECT_EQ(arr.size(), static_cast<size_t>(actions)) << "one run per action, none twice";
  int succeeded = 0, interrupted = 0;
  for (const auto& r : arr) {
    succeeded += r.value("state", "") == "succeeded";
    interrupted += r.value("attempts", 0) > 1;
  }
  EXPECT_EQ(succeeded, actions) << runs.out;
  int twice = 0;
  for (const auto& [key, n] : seen) twice += n > 1;
  EXPECT_LE(twice, interrupted) << "only a run interrupted by the kill may reach the target again";
  CliResult groups = RunCli({"escalations", "list", "--json", "--config", cfg2});
  ASSERT_EQ(groups.exit_code, 0) << groups.Describe();
  const auto g = json::parse(groups.out, nullptr, false);
  ASSERT_TRUE(g.is_array() && g.size() == 1) << groups.out;
  EXPECT_EQ(g[0].value("count", int64_t{0}), unknown) << "the count is whole in the one store";
  std::printf(
      "shared store: %d actions (%d approved from the CLI) ran once each through the kill and "
      "the restart (%d interrupted and resumed, %d reached the target twice); %d unknown events "
      "in one escalation group of count %lld\n",
      actions, gates, interrupted, twice, unknown,
      static_cast<long long>(g[0].value("count", int64_t{0})));
  for (int i = 1; i < 3; ++i) {
    replica_[i]->Signal(SIGTERM);
    EXPECT_EQ(replica_[i]->Wait(std::chrono::seconds(60)), 0) << ReadFile(Err(i));
  }
}

// A replica whose shared store stops answering says so: the server and its backends are
// stopped (SIGSTOP: connections stay open, nothing answers, as with a hung database or a
// network that drops packets); /readyz turns 503 naming the store, reflex_store_up drops to 0
// and the log says it once; when the server resumes, all three recover. Before, /readyz stayed
// 200 and nothing was said while the engine could journal no action.
TEST_F(FailoverTest, AReplicaWhoseSharedStoreHangsIsNotReadyAndSaysWhy) {
  std::unique_ptr<reflex::test::PgServer> pg = StartPg();
  if (pg == nullptr) GTEST_SKIP() << "PostgreSQL's binaries are missing";
  ::setenv("REFLEX_TEST_STORE_DSN", pg->CreateDatabase("hang").c_str(), 1);
  const int port =
      StartReplica(0, "",
                   "storage:\n  store: {kind: postgresql, dsn_env: REFLEX_TEST_STORE_DSN}\n"
                   "  check_interval: 200ms\n");
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(5);
  const auto ready = [&](int* code, std::string* body) {
    auto res = http.Get("/readyz");
    *code = res ? res->status : -1;
    *body = res ? res->body : "";
  };
  const auto store_up = [&] {
    auto m = http.Get("/metrics");
    return m ? Sample(m->body, "reflex_store_up") : -1;
  };
  int code = 0;
  std::string body;
  ASSERT_TRUE(WaitUntil([&] {
    ready(&code, &body);
    return code == 200;
  })) << body
      << Logs(1);
  EXPECT_EQ(store_up(), 1);

  pg->Pause();
  const int64_t paused_at = WallMs();
  EXPECT_TRUE(WaitUntil(
      [&] {
        ready(&code, &body);
        return code == 503;
      },
      std::chrono::seconds(30)))
      << code << " " << body;
  std::printf("hung store: /readyz answered 503 %.1f s after the pause\n",
              (WallMs() - paused_at) / 1000.0);
  EXPECT_NE(body.find("action store has not answered for"), std::string::npos) << body;
  EXPECT_EQ(store_up(), 0);
  EXPECT_TRUE(WaitUntil([&] { return CountOf(ReadFile(Err(0)), "state store unreachable") == 1; }))
      << ReadFile(Err(0));

  pg->Resume();
  EXPECT_TRUE(WaitUntil(
      [&] {
        ready(&code, &body);
        return code == 200;
      },
      std::chrono::seconds(30)))
      << code << " " << body;
  EXPECT_EQ(store_up(), 1);
  EXPECT_TRUE(WaitUntil([&] {
    return CountOf(ReadFile(Err(0)), "state store answers again") == 1;
  })) << ReadFile(Err(0));
  EXPECT_EQ(CountOf(ReadFile(Err(0)), "state store unreachable"), 1) << "said once";
  replica_[0]->Signal(SIGTERM);
  EXPECT_EQ(replica_[0]->Wait(std::chrono::seconds(60)), 0) << ReadFile(Err(0));
}

}  // namespace
}  // namespace reflex::cli_test
