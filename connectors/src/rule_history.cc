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

// Reads the files the loader asks for from `base` and keeps a copy of each.
class RecordingSource final : public rules::FileSource {
 public:
  explicit RecordingSource(const rules::FileSource& base) : disk_(base) {}
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
  const rules::FileSource& disk_;
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
  HistoryActivation a;
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
    a.a.version = j.value("version", "");
    if (!IsVersionName(a.a.version)) continue;
    a.a.at_ms = j.value("activated_at_ms", int64_t{0});
    a.a.trigger = j.value("trigger", "");
    a.a.previous = j.value("previous", "");
    a.a.replica = j.value("replica", "");
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

// Loads and compiles the rules directory `dir` of `base` (see LoadRuleSnapshot).
RuleSnapshot LoadSnapshotFrom(const rules::FileSource& base, const std::string& dir_in) {
  RuleSnapshot snap;
  snap.dir = NormalizeDir(dir_in);
  RecordingSource source(base);
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

// The history as files under <state_dir>/rules-history (the layout of the header comment).
class FileHistoryStorage final : public RuleHistoryStorage {
 public:
  FileHistoryStorage(const std::string& state_dir, base::Durability durability)
      : dir_((fs::path(NormalizeDir(state_dir)) / "rules-history").string()),
        durability_(durability) {}

  std::string Location() const override { return dir_; }
  std::string VersionLocation(std::string_view version) const override {
    return (fs::path(dir_) / std::string(version)).string();
  }

  Result<bool> HasVersion(std::string_view version) override {
    std::error_code ec;
    return fs::exists(fs::path(VersionLocation(version)) / kManifest, ec);
  }

  Status PutVersion(const HistoryVersionRecord& r,
                    const std::map<std::string, std::string>& files) override {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return engine::Internal(dir_ + ": " + ec.message());
    const fs::path vdir = VersionLocation(r.version);
    if (fs::exists(vdir / kManifest, ec)) return Status::Ok();
    // Build the copy in a temporary directory and rename it into place: a crash leaves
    // either no version directory or a complete one.
    const fs::path tmp = fs::path(dir_) / (".tmp-" + r.version + "-" + std::to_string(::getpid()));
    fs::remove_all(tmp, ec);
    json list = json::array();
    for (const auto& [rel, bytes] : files) {
      if (Status s = base::WriteFileAtomic(tmp / rel, bytes, durability_); !s.ok()) {
        fs::remove_all(tmp, ec);
        return s;
      }
      list.push_back({{"path", rel}, {"size", bytes.size()}});
    }
    json manifest = {{"version", r.version},
                     {"activated_at", base::FormatRfc3339Millis(r.first_activated_at_ms)},
                     {"activated_at_ms", r.first_activated_at_ms},
                     {"trigger", r.trigger},
                     {"previous", r.previous},
                     {"rules_dir", r.rules_dir},
                     {"tables", r.tables},
                     {"rows", r.rows},
                     {"replica", r.replica},
                     {"files", list}};
    if (Status s = base::WriteFileAtomic(
            tmp / kManifest, manifest.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
            durability_);
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
    if (durability_ == base::Durability::kFsync) return base::SyncPath(dir_);
    return Status::Ok();
  }

  Status AppendActivation(const HistoryActivation& a) override {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) return engine::Internal(dir_ + ": " + ec.message());
    json line = {{"version", a.version},       {"activated_at", base::FormatRfc3339Millis(a.at_ms)},
                 {"activated_at_ms", a.at_ms}, {"trigger", a.trigger},
                 {"previous", a.previous},     {"replica", a.replica}};
    return AppendLine(fs::path(dir_) / kActivations,
                      line.dump(-1, ' ', false, json::error_handler_t::replace), durability_);
  }

  Result<std::vector<HistoryActivation>> Activations() override {
    std::vector<HistoryActivation> out;
    for (auto& a : ReadActivations(fs::path(dir_) / kActivations)) out.push_back(std::move(a.a));
    return out;
  }

  Result<std::vector<HistoryVersionRecord>> Versions() override {
    std::vector<HistoryVersionRecord> out;
    std::error_code ec;
    if (!fs::exists(dir_, ec)) return out;
    if (!fs::is_directory(dir_, ec)) return engine::Internal(dir_ + ": not a directory");
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!IsVersionName(name) || !it->is_directory(ec)) continue;
      auto text = ReadWhole((it->path() / kManifest).string());
      if (!text.ok()) continue;  // an unfinished copy
      json m = json::parse(*text, nullptr, false);
      if (m.is_discarded() || !m.is_object()) continue;
      HistoryVersionRecord r;
      r.version = name;
      r.first_activated_at_ms = m.value("activated_at_ms", int64_t{0});
      r.trigger = m.value("trigger", "");
      r.previous = m.value("previous", "");
      r.rules_dir = m.value("rules_dir", "");
      r.tables = m.value("tables", size_t{0});
      r.rows = m.value("rows", size_t{0});
      r.replica = m.value("replica", "");
      if (auto f = m.find("files"); f != m.end() && f->is_array()) {
        for (const auto& file : *f) {
          if (!file.is_object()) continue;
          r.files.push_back({file.value("path", ""), file.value("size", uint64_t{0})});
        }
      }
      out.push_back(std::move(r));
    }
    if (ec) return engine::Internal(dir_ + ": " + ec.message());
    return out;
  }

  // Every file of the copy but its manifest, as the loader would find them on disk.
  Result<std::map<std::string, std::string>> Files(std::string_view version) override {
    const fs::path vdir = VersionLocation(version);
    std::error_code ec;
    if (!IsVersionName(version) || !fs::exists(vdir / kManifest, ec)) {
      return engine::NotFound("no rule-set version " + std::string(version) + " in " + dir_);
    }
    std::map<std::string, std::string> files;
    for (fs::recursive_directory_iterator it(vdir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      const std::string rel = it->path().lexically_relative(vdir).generic_string();
      if (rel == kManifest || !SafeRelative(rel)) continue;
      auto bytes = ReadWhole(it->path().string());
      if (!bytes.ok()) return engine::Internal(bytes.status().message());
      files.emplace(rel, std::move(*bytes));
    }
    if (ec) return engine::Internal(vdir.string() + ": " + ec.message());
    return files;
  }

  Status Prune(const std::vector<std::string>& pruned, size_t max_activations) override {
    std::error_code ec;
    for (const auto& v : pruned) {
      fs::remove_all(VersionLocation(v), ec);
      if (ec) return engine::Internal(VersionLocation(v) + ": " + ec.message());
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
    // beyond max_activations.
    const fs::path activations = fs::path(dir_) / kActivations;
    std::vector<Activation> log = ReadActivations(activations);
    if (pruned.empty() && log.size() <= max_activations) return Status::Ok();
    std::vector<std::string> kept;
    for (const auto& a : log) {
      if (std::find(pruned.begin(), pruned.end(), a.a.version) == pruned.end()) {
        kept.push_back(a.raw);
      }
    }
    if (kept.size() > max_activations) {
      kept.erase(kept.begin(), kept.end() - static_cast<long>(max_activations));
    }
    std::string text;
    for (const auto& l : kept) text += l + "\n";
    return base::WriteFileAtomic(activations, text, durability_);
  }

 private:
  const std::string dir_;
  const base::Durability durability_;
};

}  // namespace

std::unique_ptr<RuleHistoryStorage> NewFileHistoryStorage(const std::string& state_dir,
                                                          base::Durability durability) {
  return std::make_unique<FileHistoryStorage>(state_dir, durability);
}

std::vector<std::string> RuleSnapshot::Errors() const {
  std::vector<std::string> out;
  for (const auto& d : diags.Sorted()) {
    if (d.severity == rules::Severity::kError) out.push_back(d.ToString());
  }
  return out;
}

RuleSnapshot LoadRuleSnapshot(const std::string& dir) {
  const rules::DiskSource disk;
  return LoadSnapshotFrom(disk, dir);
}

RuleHistory::RuleHistory(std::unique_ptr<RuleHistoryStorage> storage, RuleHistoryOptions options)
    : options_(std::move(options)),
      storage_(std::move(storage)),
      dir_(storage_->Location()),
      clock_(options_.clock == nullptr ? &kSystemClock : options_.clock) {
  if (options_.keep == 0) options_.keep = 1;
}

Result<std::unique_ptr<RuleHistory>> RuleHistory::Open(RuleHistoryOptions options) {
  std::unique_ptr<RuleHistory> h = OpenReadOnly(std::move(options));
  std::error_code ec;
  fs::create_directories(h->dir_, ec);
  if (ec || !fs::is_directory(h->dir_, ec)) {
    return engine::Internal("cannot create rule-set history directory " + h->dir_ + ": " +
                            (ec ? ec.message() : "not a directory"));
  }
  return h;
}

std::unique_ptr<RuleHistory> RuleHistory::OpenReadOnly(RuleHistoryOptions options) {
  auto storage = NewFileHistoryStorage(options.state_dir, options.durability);
  return std::unique_ptr<RuleHistory>(new RuleHistory(std::move(storage), std::move(options)));
}

std::unique_ptr<RuleHistory> RuleHistory::WithStorage(std::unique_ptr<RuleHistoryStorage> storage,
                                                      RuleHistoryOptions options) {
  return std::unique_ptr<RuleHistory>(new RuleHistory(std::move(storage), std::move(options)));
}

std::string RuleHistory::VersionDir(std::string_view version) const {
  return storage_->VersionLocation(version);
}

Status RuleHistory::Record(const RuleSnapshot& snap, std::string_view trigger) {
  if (!snap.ok()) return engine::InvalidArgument("rule set " + snap.version + " has errors");
  if (!IsVersionName(snap.version)) {
    return engine::InvalidArgument("not a rule-set version: '" + snap.version + "'");
  }
  base::MutexLock lock(mu_);
  const int64_t now = clock_->NowMillis();
  auto log = storage_->Activations();
  if (!log.ok()) return log.status();
  const std::string previous = log->empty() ? "" : log->back().version;

  auto has = storage_->HasVersion(snap.version);
  if (!has.ok()) return has.status();
  if (!*has) {
    HistoryVersionRecord r;
    r.version = snap.version;
    r.first_activated_at_ms = now;
    r.trigger = std::string(trigger);
    r.previous = previous;
    r.rules_dir = snap.dir;
    r.tables = snap.tables;
    r.rows = snap.rows;
    r.replica = options_.replica;
    for (const auto& [rel, bytes] : snap.files) r.files.push_back({rel, bytes.size()});
    if (Status s = storage_->PutVersion(r, snap.files); !s.ok()) return s;
  }
  if (Status s = storage_->AppendActivation({.version = snap.version,
                                             .at_ms = now,
                                             .trigger = std::string(trigger),
                                             .previous = previous,
                                             .replica = options_.replica});
      !s.ok()) {
    return s;
  }
  return Prune();
}

Result<std::vector<HistoryEntry>> RuleHistory::List() const {
  auto versions = storage_->Versions();
  if (!versions.ok()) return versions.status();
  auto activations = storage_->Activations();
  if (!activations.ok()) return activations.status();
  const std::vector<HistoryActivation>& log = *activations;
  std::vector<HistoryEntry> entries;
  std::vector<long> last_index;  // per entry: index of its latest activation, -1 if none
  for (auto& r : *versions) {
    HistoryEntry e;
    e.version = r.version;
    e.first_activated_at_ms = r.first_activated_at_ms;
    e.activated_at_ms = e.first_activated_at_ms;
    e.trigger = r.trigger;
    e.previous = r.previous;
    e.tables = r.tables;
    e.rows = r.rows;
    e.files = std::move(r.files);
    e.replica = r.replica;
    long last = -1;
    for (size_t i = 0; i < log.size(); ++i) {
      if (log[i].version != e.version) continue;
      ++e.activations;
      last = static_cast<long>(i);
    }
    if (last >= 0) {
      const HistoryActivation& a = log[static_cast<size_t>(last)];
      e.activated_at_ms = a.at_ms;
      e.trigger = a.trigger;
      e.previous = a.previous;
      e.replica = a.replica;
    }
    entries.push_back(std::move(e));
    last_index.push_back(last);
  }
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
  std::vector<std::string> pruned;
  for (size_t i = options_.keep; i < listed->size(); ++i) pruned.push_back((*listed)[i].version);
  return storage_->Prune(pruned, kMaxActivationLines);
}

Result<RollbackReport> RuleHistory::Rollback(std::string_view version,
                                             const std::string& rules_dir_in) const {
  const std::string rules_dir = NormalizeDir(rules_dir_in);
  std::error_code ec;
  bool known = false;
  if (IsVersionName(version)) {
    auto has = storage_->HasVersion(version);
    if (!has.ok()) return has.status();
    known = *has;
  }
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
  // The stored bytes, loaded from memory: what is checked is exactly what is written.
  auto stored = storage_->Files(version);
  if (!stored.ok()) return stored.status();
  const std::string vdir = NormalizeDir(VersionDir(version));
  rules::MemorySource memory;
  for (auto& [rel, bytes] : *stored) memory.Put(rules::JoinPath(vdir, rel), std::move(bytes));
  RuleSnapshot old = LoadSnapshotFrom(memory, vdir);
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
