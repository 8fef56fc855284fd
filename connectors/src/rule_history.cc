#include "reflex/connectors/rule_history.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "reflex/base/durability.h"
#include "reflex/base/time.h"
#include "reflex/engine/event.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/source.h"
#include "reflex/rules/xlsx.h"

namespace reflex::connectors {

namespace fs = std::filesystem;
using engine::Result;
using engine::Status;
using engine::StatusCode;
using nlohmann::json;

namespace {

const engine::SystemClock kSystemClock;
constexpr size_t kMaxActivationLines = 1000;
constexpr char kActivations[] = "activations.jsonl";
constexpr char kManifest[] = "manifest.json";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string NormalizeDir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) dir = ".";
  return dir;
}

// A relative path that stays inside its directory: no absolute path, no "..", no empty or
// "." components.
bool SafeRelative(std::string_view rel) {
  if (rel.empty() || rel.front() == '/') return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view part = rel.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

// "v-" + 16 lowercase hex digits: the only names used as history directories.
bool IsVersionName(std::string_view v) {
  if (v.size() != 18 || v.substr(0, 2) != "v-") return false;
  return std::all_of(v.begin() + 2, v.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Reads the files the loader asks for from disk and keeps a copy of each.
class RecordingSource final : public rules::FileSource {
 public:
  engine::Result<std::string> Read(const std::string& path) const override {
    auto r = disk_.Read(path);
    if (r.ok()) {
      base::MutexLock lock(mu_);
      read_[path] = *r;
    }
    return r;
  }
  std::vector<std::string> List(const std::string& dir) const override { return disk_.List(dir); }
  bool IsDirectory(const std::string& path) const override { return disk_.IsDirectory(path); }
  bool Exists(const std::string& path) const override { return disk_.Exists(path); }

  std::map<std::string, std::string> Take() {
    base::MutexLock lock(mu_);
    return std::move(read_);
  }

 private:
  rules::DiskSource disk_;
  mutable base::Mutex mu_;
  mutable std::map<std::string, std::string> read_;
};

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return engine::NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return engine::Internal(path + ": read error");
  return ss.str();
}

// Appends one line with a single write (O_APPEND), so concurrent appenders never interleave.
// With kFsync the file and its directory are synced before returning.
Status AppendLine(const fs::path& path, std::string line, base::Durability durability) {
  line.push_back('\n');
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return engine::Internal(path.string() + ": " + std::strerror(errno));
  ssize_t n;
  do {
    n = ::write(fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
  std::string err = n < 0 ? std::strerror(errno) : "";
  if (n >= 0 && durability == base::Durability::kFsync) {
    int rc;
    do {
      rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) err = std::string("fsync: ") + std::strerror(errno);
  }
  ::close(fd);
  if (!err.empty()) return engine::Internal(path.string() + ": " + err);
  if (static_cast<size_t>(n) != line.size())
    return engine::Internal(path.string() + ": short write");
  if (durability == base::Durability::kFsync) return base::SyncPath(path.parent_path().string());
  return Status::Ok();
}

struct Activation {
  std::string version;
  int64_t at_ms = 0;
  std::string trigger;
  std::string previous;
  std::string raw;  // the line as stored
};

// Activations oldest first; malformed lines (a torn last line after a crash) are skipped.
std::vector<Activation> ReadActivations(const fs::path& path) {
  std::vector<Activation> out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    Activation a;
    a.version = j.value("version", "");
    if (!IsVersionName(a.version)) continue;
    a.at_ms = j.value("activated_at_ms", int64_t{0});
    a.trigger = j.value("trigger", "");
    a.previous = j.value("previous", "");
    a.raw = line;
    out.push_back(std::move(a));
  }
  return out;
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

std::vector<std::string> RuleSnapshot::Errors() const {
  std::vector<std::string> out;
  for (const auto& d : diags.Sorted()) {
    if (d.severity == rules::Severity::kError) out.push_back(d.ToString());
  }
  return out;
}

RuleSnapshot LoadRuleSnapshot(const std::string& dir_in) {
  RuleSnapshot snap;
  snap.dir = NormalizeDir(dir_in);
  RecordingSource source;
  rules::LoadedRules lr = rules::LoadRules(source, snap.dir);
  // Test cases are not read by the loader but belong to the rule set's history.
  for (const auto& path : lr.case_files) (void)source.Read(path);
  snap.version = lr.version;
  snap.tables = lr.tables.size();
  for (const auto& t : lr.tables) snap.rows += t.rows.size();
  snap.diags = lr.diags;
  snap.rules = rules::Compile(std::move(lr), &snap.diags);
  const std::string prefix = snap.dir == "/" ? "/" : snap.dir + "/";
  for (auto& [path, bytes] : source.Take()) {
    if (path.compare(0, prefix.size(), prefix) != 0 ||
        !SafeRelative(std::string_view(path).substr(prefix.size()))) {
      snap.diags.Warning(path, 0, 0,
                         "outside the rules directory: not kept in the rule-set history");
      continue;
    }
    snap.files.emplace(path.substr(prefix.size()), std::move(bytes));
  }
  return snap;
}

RuleHistory::RuleHistory(RuleHistoryOptions options)
    : options_(std::move(options)),
      dir_((fs::path(NormalizeDir(options_.state_dir)) / "rules-history").string()),
      clock_(options_.clock == nullptr ? &kSystemClock : options_.clock) {
  if (options_.keep == 0) options_.keep = 1;
}

Result<std::unique_ptr<RuleHistory>> RuleHistory::Open(RuleHistoryOptions options) {
  std::unique_ptr<RuleHistory> h(new RuleHistory(std::move(options)));
  std::error_code ec;
  fs::create_directories(h->dir_, ec);
  if (ec || !fs::is_directory(h->dir_, ec)) {
    return engine::Internal("cannot create rule-set history directory " + h->dir_ + ": " +
                            (ec ? ec.message() : "not a directory"));
  }
  return h;
}

std::unique_ptr<RuleHistory> RuleHistory::OpenReadOnly(RuleHistoryOptions options) {
  return std::unique_ptr<RuleHistory>(new RuleHistory(std::move(options)));
}

std::string RuleHistory::VersionDir(std::string_view version) const {
  return (fs::path(dir_) / std::string(version)).string();
}

Status RuleHistory::Record(const RuleSnapshot& snap, std::string_view trigger) {
  if (!snap.ok()) return engine::InvalidArgument("rule set " + snap.version + " has errors");
  if (!IsVersionName(snap.version)) {
    return engine::InvalidArgument("not a rule-set version: '" + snap.version + "'");
  }
  base::MutexLock lock(mu_);
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return engine::Internal(dir_ + ": " + ec.message());
  const int64_t now = clock_->NowMillis();
  const fs::path activations = fs::path(dir_) / kActivations;
  const std::vector<Activation> log = ReadActivations(activations);
  const std::string previous = log.empty() ? "" : log.back().version;

  const fs::path vdir = VersionDir(snap.version);
  if (!fs::exists(vdir / kManifest, ec)) {
    // Build the copy in a temporary directory and rename it into place: a crash leaves
    // either no version directory or a complete one.
    const fs::path tmp =
        fs::path(dir_) / (".tmp-" + snap.version + "-" + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    json files = json::array();
    for (const auto& [rel, bytes] : snap.files) {
      if (Status s = base::WriteFileAtomic(tmp / rel, bytes, options_.durability); !s.ok()) {
        fs::remove_all(tmp, ec);
        return s;
      }
      files.push_back({{"path", rel}, {"size", bytes.size()}});
    }
    json manifest = {{"version", snap.version}, {"activated_at", base::FormatRfc3339Millis(now)},
                     {"activated_at_ms", now},  {"trigger", std::string(trigger)},
                     {"previous", previous},    {"rules_dir", snap.dir},
                     {"tables", snap.tables},   {"rows", snap.rows},
                     {"files", files}};
    if (Status s = base::WriteFileAtomic(
            tmp / kManifest, manifest.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
            options_.durability);
        !s.ok()) {
      fs::remove_all(tmp, ec);
      return s;
    }
    fs::remove_all(vdir, ec);  // a partial copy without a manifest
    fs::rename(tmp, vdir, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove_all(tmp, ignored);
      return engine::Internal(vdir.string() + ": " + ec.message());
    }
    if (options_.durability == base::Durability::kFsync) {
      if (Status s = base::SyncPath(dir_); !s.ok()) return s;
    }
  }
  json line = {{"version", snap.version},
               {"activated_at", base::FormatRfc3339Millis(now)},
               {"activated_at_ms", now},
               {"trigger", std::string(trigger)},
               {"previous", previous}};
  if (Status s = AppendLine(activations, line.dump(-1, ' ', false, json::error_handler_t::replace),
                            options_.durability);
      !s.ok()) {
    return s;
  }
  return Prune();
}

Result<std::vector<HistoryEntry>> RuleHistory::List() const {
  std::vector<HistoryEntry> entries;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return entries;
  if (!fs::is_directory(dir_, ec)) return engine::Internal(dir_ + ": not a directory");
  const std::vector<Activation> log = ReadActivations(fs::path(dir_) / kActivations);
  std::vector<long> last_index;  // per entry: index of its latest activation, -1 if none
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!IsVersionName(name) || !it->is_directory(ec)) continue;
    auto text = ReadWhole((it->path() / kManifest).string());
    if (!text.ok()) continue;  // an unfinished copy
    json m = json::parse(*text, nullptr, false);
    if (m.is_discarded() || !m.is_object()) continue;
    HistoryEntry e;
    e.version = name;
    e.first_activated_at_ms = m.value("activated_at_ms", int64_t{0});
    e.activated_at_ms = e.first_activated_at_ms;
    e.trigger = m.value("trigger", "");
    e.previous = m.value("previous", "");
    e.tables = m.value("tables", size_t{0});
    e.rows = m.value("rows", size_t{0});
    if (auto f = m.find("files"); f != m.end() && f->is_array()) {
      for (const auto& file : *f) {
        if (!file.is_object()) continue;
        e.files.push_back({file.value("path", ""), file.value("size", uint64_t{0})});
      }
    }
    long last = -1;
    for (size_t i = 0; i < log.size(); ++i) {
      if (log[i].version != name) continue;
      ++e.activations;
      last = static_cast<long>(i);
    }
    if (last >= 0) {
      const Activation& a = log[static_cast<size_t>(last)];
      e.activated_at_ms = a.at_ms;
      e.trigger = a.trigger;
      e.previous = a.previous;
    }
    entries.push_back(std::move(e));
    last_index.push_back(last);
  }
  if (ec) return engine::Internal(dir_ + ": " + ec.message());
  std::vector<size_t> order(entries.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (last_index[a] != last_index[b]) return last_index[a] > last_index[b];
    if (entries[a].activated_at_ms != entries[b].activated_at_ms) {
      return entries[a].activated_at_ms > entries[b].activated_at_ms;
    }
    return entries[a].version < entries[b].version;
  });
  std::vector<HistoryEntry> sorted;
  sorted.reserve(entries.size());
  for (size_t i : order) sorted.push_back(std::move(entries[i]));
  if (!sorted.empty() && !log.empty() && sorted.front().version == log.back().version) {
    sorted.front().current = true;
  }
  return sorted;
}

Status RuleHistory::Prune() {
  auto listed = List();
  if (!listed.ok()) return listed.status();
  std::error_code ec;
  std::vector<std::string> pruned;
  for (size_t i = options_.keep; i < listed->size(); ++i) {
    const std::string& v = (*listed)[i].version;
    fs::remove_all(VersionDir(v), ec);
    if (ec) return engine::Internal(VersionDir(v) + ": " + ec.message());
    pruned.push_back(v);
  }
  // Leftovers of an interrupted copy by this process (other processes' are theirs).
  const std::string own_tmp_suffix = "-" + std::to_string(::getpid());
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(".tmp-", 0) == 0 && EndsWith(name, own_tmp_suffix)) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
  }
  // Keep activations.jsonl bounded: drop lines of pruned versions and the oldest lines
  // beyond kMaxActivationLines.
  const fs::path activations = fs::path(dir_) / kActivations;
  std::vector<Activation> log = ReadActivations(activations);
  if (pruned.empty() && log.size() <= kMaxActivationLines) return Status::Ok();
  std::vector<std::string> kept;
  for (const auto& a : log) {
    if (std::find(pruned.begin(), pruned.end(), a.version) == pruned.end()) kept.push_back(a.raw);
  }
  if (kept.size() > kMaxActivationLines) {
    kept.erase(kept.begin(), kept.end() - static_cast<long>(kMaxActivationLines));
  }
  std::string text;
  for (const auto& l : kept) text += l + "\n";
  return base::WriteFileAtomic(activations, text, options_.durability);
}

Result<RollbackReport> RuleHistory::Rollback(std::string_view version,
                                             const std::string& rules_dir_in) const {
  const std::string rules_dir = NormalizeDir(rules_dir_in);
  std::error_code ec;
  const bool known =
      IsVersionName(version) && fs::exists(fs::path(VersionDir(version)) / kManifest, ec);
  if (!known) {
    auto listed = List();
    std::vector<std::string> versions;
    if (listed.ok()) {
      for (const auto& e : *listed) versions.push_back(e.version + (e.current ? " (current)" : ""));
    }
    return engine::NotFound("unknown rule-set version '" + std::string(version) + "'; " +
                            (versions.empty() ? "no versions are recorded in " + dir_
                                              : "known versions: " + Join(versions, ", ")));
  }
  if (!fs::is_directory(rules_dir, ec)) {
    return engine::InvalidArgument("rules directory " + rules_dir + " does not exist");
  }
  RuleSnapshot old = LoadRuleSnapshot(VersionDir(version));
  if (!old.ok()) {
    return Status(
        StatusCode::kFailedPrecondition,
        "version " + std::string(version) + " no longer compiles:\n" + Join(old.Errors(), "\n"));
  }
  if (old.version != version) {
    return Status(StatusCode::kFailedPrecondition, "the history copy of " + std::string(version) +
                                                       " is damaged: its files hash to " +
                                                       old.version);
  }
  RollbackReport report;
  report.version = old.version;
  report.previous_version = LoadRuleSnapshot(rules_dir).version;

  const fs::path root(rules_dir);
  for (const auto& [rel, bytes] : old.files) {
    const fs::path target = root / rel;
    bool exists = fs::exists(target, ec);
    if (exists) {
      auto cur = ReadWhole(target.string());
      if (cur.ok() && *cur == bytes) {
        ++report.unchanged;
        continue;
      }
    }
    if (Status s = base::WriteFileAtomic(target, bytes, options_.durability); !s.ok()) return s;
    (exists ? report.changed : report.added).push_back(rel);
  }
  // Rule files of the current set that the old set did not have.
  auto remove_if_extra = [&](const std::string& rel) -> Status {
    if (old.files.count(rel) > 0) return Status::Ok();
    std::error_code rec;
    if (!fs::is_regular_file(root / rel, rec)) return Status::Ok();
    fs::remove(root / rel, rec);
    if (rec) return engine::Internal((root / rel).string() + ": " + rec.message());
    report.removed.push_back(rel);
    return Status::Ok();
  };
  for (const char* top : {"labeling.yaml", "actions.yaml", "inhibit.yaml"}) {
    if (Status s = remove_if_extra(top); !s.ok()) return s;
  }
  std::vector<std::string> table_files;
  for (fs::directory_iterator it(root / "tables", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (EndsWith(name, ".csv") || EndsWith(name, ".yaml") || EndsWith(name, ".yml") ||
        EndsWith(name, ".cases.jsonl") || rules::IsXlsxFile(name)) {
      table_files.push_back("tables/" + name);
    }
  }
  std::sort(table_files.begin(), table_files.end());
  for (const auto& rel : table_files) {
    if (Status s = remove_if_extra(rel); !s.ok()) return s;
  }
  report.resulting_version = LoadRuleSnapshot(rules_dir).version;
  return report;
}

}  // namespace reflex::connectors
