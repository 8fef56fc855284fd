#include "commands.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "progress.h"
#include "reflex/actions/catalog.h"
#include "reflex/base/diagnostic.h"
#include "reflex/base/hash.h"
#include "reflex/base/time.h"
#include "reflex/base/utf8.h"
#include "reflex/connectors/mapping.h"
#include "reflex/engine/clock.h"
#include "reflex/engine/explain.h"
#include "reflex/engine/pattern_stage.h"
#include "reflex/engine/pipeline.h"
#include "reflex/engine/replay.h"
#include "reflex/engine/topology.h"
#include "reflex/rules/loader.h"
#include "reflex/rules/test_cases.h"

namespace reflex::cli {

using engine::Verdict;
namespace fs = std::filesystem;

namespace {

void PrintDiagnostics(const rules::Diagnostics& d, std::ostream& err) {
  for (const auto& item : d.Sorted()) err << item.ToString() << "\n";
}

// Loads and compiles a rules directory, printing every problem. nullptr on error.
std::shared_ptr<const engine::CompiledRuleSet> LoadOrReport(const std::string& dir,
                                                            std::ostream& err,
                                                            rules::LoadedRules* keep = nullptr) {
  rules::DiskSource disk;
  rules::LoadedRules lr = rules::LoadRules(disk, dir);
  PrintDiagnostics(lr.diags, err);
  if (lr.diags.has_errors()) {
    err << dir << ": " << lr.diags.error_count() << " error(s); rules not loaded\n";
    return nullptr;
  }
  if (keep) {
    keep->case_files = lr.case_files;
    keep->version = lr.version;
    keep->dir = lr.dir;
  }
  rules::Diagnostics cd;
  auto rs = rules::Compile(std::move(lr), &cd);
  PrintDiagnostics(cd, err);
  return rs;
}

std::string FormatCount(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s.push_back(',');
    s.push_back(digits[i]);
  }
  return s;
}

// The mapping of --mapping / --config --source; prints the problem and returns nullopt.
std::optional<connectors::Mapping> ChooseOrReport(const MappingChoice& choice, std::ostream& err) {
  auto m = connectors::ChooseMapping(choice, connectors::SystemEnv());
  if (!m.ok()) {
    err << m.status().message() << "\n";
    return std::nullopt;
  }
  return std::move(*m);
}

}  // namespace

// ---- check -----------------------------------------------------------------------------

int RunCheck(const CheckOptions& o, std::ostream& out, std::ostream& err) {
  rules::DiskSource disk;
  rules::LoadedRules lr = rules::LoadRules(disk, o.rules_dir);
  // The loader reads only the action names from actions.yaml; the strict catalog reader
  // checks every setting. Its problems at a position the loader already reported (YAML
  // syntax, a redefined built-in) are not repeated.
  const std::string catalog_path = rules::JoinPath(lr.dir, "actions.yaml");
  if (disk.Exists(catalog_path)) {
    std::set<std::pair<int, int>> seen;
    for (const auto& d : lr.diags.items()) {
      if (d.severity == rules::Severity::kError && d.file == catalog_path) {
        seen.emplace(d.line, d.column);
      }
    }
    base::Diagnostics catalog_diags;
    (void)actions::LoadCatalog(catalog_path, &catalog_diags);
    for (const auto& d : catalog_diags.items()) {
      if (d.severity == rules::Severity::kError && seen.count({d.line, d.column}) > 0) continue;
      lr.diags.Add(d);
    }
  }
  PrintDiagnostics(lr.diags, err);
  const size_t errors = lr.diags.error_count(), warnings = lr.diags.warning_count();
  size_t rows = 0;
  for (const auto& t : lr.tables) rows += t.rows.size();
  const size_t ntables = lr.tables.size();
  const size_t npatterns = lr.patterns.size();
  const std::string version = lr.version;
  if (errors > 0) {
    out << o.rules_dir << ": " << errors << " error(s), " << warnings << " warning(s)\n";
    return 1;
  }
  std::vector<std::string> names;
  for (const auto& t : lr.tables) names.push_back(t.name);
  rules::Diagnostics cd;
  const auto start = std::chrono::steady_clock::now();
  auto rs = rules::Compile(std::move(lr), &cd);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  PrintDiagnostics(cd, err);
  if (!rs) {
    out << o.rules_dir << ": " << cd.error_count() << " error(s)\n";
    return 1;
  }
  out << o.rules_dir << ": OK: " << ntables << " table(s), " << rows << " row(s), "
      << (npatterns > 0 ? std::to_string(npatterns) + " pattern(s), " : std::string()) << warnings
      << " warning(s); rule set " << version << "\n";
  if (o.stats) {
    out << "compiled in " << std::fixed << std::setprecision(1) << ms << " ms\n";
    for (size_t t = 0; t < rs->tables().size(); ++t) {
      const auto st = rs->TableStats(t);
      const auto& spec = rs->tables()[t];
      out << "  " << spec.name << " (" << engine::HitPolicyName(spec.hit_policy)
          << "): " << spec.rows.size() << " rows, " << spec.columns.size() << " columns, index "
          << st.nodes << " nodes, depth " << st.max_depth << ", largest leaf " << st.max_leaf
          << "\n";
    }
  }
  return 0;
}

// ---- replay ----------------------------------------------------------------------------

namespace {

// Where a replay reads events and writes decisions and dead letters.
struct ReplayStreams {
  std::ifstream file;
  std::istream* in = &std::cin;
  uint64_t total_bytes = 0;  // of the events file; 0 for stdin
  std::ofstream decisions_file, dead_letter_file;
  std::ostream* decisions = nullptr;
  std::ostream* dead_letters = nullptr;
};

// Opens the files `o` names. Prints the problem and returns false when one cannot be opened.
bool OpenReplayStreams(const ReplayOptions& o, std::ostream& out, std::ostream& err,
                       ReplayStreams* s) {
  if (o.events_file != "-") {
    std::error_code dir_ec;
    if (fs::is_directory(o.events_file, dir_ec)) {  // opens fine, then reads nothing
      err << o.events_file << ": is a directory\n";
      return false;
    }
    s->file.open(o.events_file, std::ios::binary);
    if (!s->file) {
      err << o.events_file << ": cannot open\n";
      return false;
    }
    s->in = &s->file;
    std::error_code ec;
    s->total_bytes = fs::file_size(o.events_file, ec);
  }
  s->decisions = &out;
  if (o.output != "-") {
    s->decisions_file.open(o.output, std::ios::binary | std::ios::trunc);
    if (!s->decisions_file) {
      err << o.output << ": cannot write\n";
      return false;
    }
    s->decisions = &s->decisions_file;
  }
  s->dead_letters = &err;
  if (!o.dead_letter.empty()) {
    s->dead_letter_file.open(o.dead_letter, std::ios::binary | std::ios::trunc);
    if (!s->dead_letter_file) {
      err << o.dead_letter << ": cannot write\n";
      return false;
    }
    s->dead_letters = &s->dead_letter_file;
  }
  return true;
}

void PrintReplaySummary(const ReplayOptions& o, const engine::CompiledRuleSet& rs,
                        const engine::Replayer& replay, double secs, std::ostream& so) {
  const uint64_t events = replay.decided(), malformed = replay.malformed();
  so << "Replayed " << FormatCount(events + malformed) << " event(s) from " << o.events_file
     << " with rule set " << rs.version() << " (" << rs.tables().size() << " tables, "
     << rs.row_count() << " rows) in " << std::fixed << std::setprecision(3) << secs << " s";
  if (secs > 0)
    so << " (" << FormatCount(static_cast<uint64_t>(static_cast<double>(events) / secs))
       << " events/s)";
  so << "\n\n  verdict        count       %\n";
  for (Verdict v : {Verdict::kKnown, Verdict::kSuppressed, Verdict::kUnknown, Verdict::kPending}) {
    const uint64_t n = replay.verdicts(v);
    if (v == Verdict::kPending && n == 0 && !rs.patterns()) continue;
    so << "  " << std::left << std::setw(12) << engine::VerdictName(v) << std::right << std::setw(8)
       << FormatCount(n) << std::setw(8) << std::setprecision(1)
       << (events ? 100.0 * static_cast<double>(n) / static_cast<double>(events) : 0.0) << "\n";
  }
  so << "  " << std::left << std::setw(12) << "malformed" << std::right << std::setw(8)
     << FormatCount(malformed)
     << (malformed
             ? "   (dead-lettered" +
                   (o.dead_letter.empty() ? std::string(" to stderr") : " to " + o.dead_letter) +
                   ")"
             : "")
     << "\n";
  if (rs.patterns()) {
    so << "  " << std::left << std::setw(12) << "patterns" << std::right << std::setw(8)
       << FormatCount(replay.pattern_decisions()) << "   (decisions of pattern outcomes)\n";
  }
  const auto top = replay.TopRows(10);
  if (!top.empty()) {
    so << "\n  top rows" << std::string(34, ' ') << "hits\n";
    for (const auto& row : top) {
      so << "  " << std::left << std::setw(40) << row.name << std::right << std::setw(6)
         << FormatCount(row.count) << "\n";
    }
  }
  const auto shapes = replay.UnknownShapes(10);
  if (!shapes.empty()) {
    // Count first: shapes vary in length and would push a trailing count out of line.
    so << "\n  unknown shapes: count, alertname {label keys}\n";
    for (const auto& shape : shapes) {
      so << "  " << std::setw(7) << FormatCount(shape.count) << "  " << shape.name << "\n";
    }
  }
}

}  // namespace

int RunReplay(const ReplayOptions& o, std::ostream& out, std::ostream& err) {
  const auto mapping = ChooseOrReport(o.mapping, err);
  if (!mapping) return 2;
  auto rs = LoadOrReport(o.rules_dir, err);
  if (!rs) return 1;
  ReplayStreams io;
  if (!OpenReplayStreams(o, out, err, &io)) return 2;
  const bool emit_decisions = o.format == "jsonl";

  engine::SystemClock system_clock;
  engine::ManualClock fixed_clock(o.now_ms.value_or(0));
  const engine::Clock& clock = o.now_ms ? static_cast<const engine::Clock&>(fixed_clock)
                                        : static_cast<const engine::Clock&>(system_clock);
  engine::Replayer replay(rs, clock, o.events_file);
  const bool bar_on = o.progress == "always" || (o.progress == "auto" && isatty(STDERR_FILENO) &&
                                                 io.total_bytes > (16u << 20));
  ProgressBar bar(err, io.total_bytes, bar_on);

  uint64_t bytes = 0;
  std::string line, decision, record;
  // Writes what one Feed gave: the decision, or the dead-letter record.
  auto emit = [&](engine::Replayer::Line kind) {
    if (kind == engine::Replayer::Line::kBlank) return;
    if (kind == engine::Replayer::Line::kMalformed) {
      if (io.dead_letters == &err) io.decisions->flush();  // keep terminal output in order
      record.push_back('\n');
      *io.dead_letters << record;
      return;
    }
    if (emit_decisions) {
      decision.push_back('\n');
      io.decisions->write(decision.data(), static_cast<std::streamsize>(decision.size()));
    }
    if ((replay.decided() & 255) == 0) bar.Update(bytes, replay.decided());
  };
  std::vector<std::string> mapped, notes;
  const auto start = std::chrono::steady_clock::now();
  while (std::getline(*io.in, line)) {
    bytes += line.size() + 1;
    decision.clear();
    record.clear();
    if (mapping->passthrough()) {
      emit(replay.Feed(line, emit_decisions ? &decision : nullptr, &record));
      continue;
    }
    // One payload per line: each of its events is decided; a refused payload is one dead
    // letter with the mapping's reason.
    replay.CountLine();
    std::string_view payload = line;
    if (!payload.empty() && payload.back() == '\r') payload.remove_suffix(1);
    if (payload.find_first_not_of(" \t") == std::string_view::npos) continue;
    mapped.clear();
    if (engine::Status s = mapping->Map(payload, &mapped, {}, &notes); !s.ok()) {
      emit(replay.Reject(payload, s.message(), &record));
      continue;
    }
    for (const auto& ev : mapped) {
      decision.clear();
      record.clear();
      emit(replay.FeedEvent(ev, emit_decisions ? &decision : nullptr, &record));
    }
  }
  // Events still held by patterns at the end of the input are decided (evicted), not lost.
  decision.clear();
  replay.Finish(emit_decisions ? &decision : nullptr);
  if (emit_decisions && !decision.empty()) {
    decision.push_back('\n');
    io.decisions->write(decision.data(), static_cast<std::streamsize>(decision.size()));
  }
  bar.Finish();
  if (!notes.empty()) {
    err << notes.size() << " mapping note(s), the first: " << notes.front() << "\n";
  }
  io.decisions->flush();
  if (io.in->bad()) {
    err << o.events_file << ": read error after line " << replay.lines() << "\n";
    return 2;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!o.quiet || !emit_decisions) {
    PrintReplaySummary(o, *rs, replay, secs, emit_decisions && o.output == "-" ? err : out);
  }
  if (replay.malformed() > 0 && o.fail_on_malformed) return 3;
  return 0;
}

// ---- test ------------------------------------------------------------------------------

int RunTest(const TestOptions& o, std::ostream& out, std::ostream& err) {
  const auto mapping = ChooseOrReport(o.mapping, err);
  if (!mapping) return 2;
  rules::LoadedRules meta;
  auto rs = LoadOrReport(o.rules_dir, err, &meta);
  if (!rs) return 1;
  std::vector<std::string> paths = o.case_files.empty() ? meta.case_files : o.case_files;
  rules::DiskSource disk;
  std::vector<rules::CaseFile> files;
  for (const auto& f : paths) {
    auto text = disk.Read(f);
    if (!text.ok()) {
      err << text.status().message() << "\n";
      return 2;
    }
    files.push_back({f, std::move(*text)});
  }
  engine::SystemClock clock;
  rules::CaseExpander expand;
  if (!mapping->passthrough()) {
    // Each JSON Lines case's `event` is a payload: one case per event it maps to.
    expand = [&](rules::TestCase tc, std::vector<rules::TestCase>* cases,
                 rules::Diagnostics* diags) {
      std::vector<connectors::MappedEvent> events;
      std::vector<std::string> notes;
      // A mapping that reads text (influx) takes the case's `event` as a JSON string.
      std::string payload = tc.event_json;
      if (mapping->reads_text()) {
        const auto j = nlohmann::json::parse(payload, nullptr, false);
        if (!j.is_string()) {
          diags->Error(tc.file, tc.line, 1,
                       "case '" + tc.name + "': with mapping " +
                           connectors::MappingKindName(mapping->spec().kind) +
                           " the event is the payload's text, a JSON string");
          return;
        }
        payload = j.get<std::string>();
      }
      if (engine::Status s = connectors::MapDocuments(*mapping, payload, &events, {}, &notes);
          !s.ok()) {
        diags->Error(tc.file, tc.line, 1, "case '" + tc.name + "': " + s.message());
        return;
      }
      for (const auto& n : notes) err << tc.file << ":" << tc.line << ": note: " << n << "\n";
      if (events.empty()) {
        diags->Error(tc.file, tc.line, 1, "case '" + tc.name + "': the payload maps to no events");
        return;
      }
      for (auto& ev : events) {
        rules::TestCase one = tc;
        if (events.size() > 1) one.name += " [" + ev.where + "]";
        one.event_json = std::move(ev.event);
        cases->push_back(std::move(one));
      }
    };
  }
  const rules::RuleSetVerification v = rules::VerifyRuleSet(*rs, files, clock.NowMillis(), expand);
  PrintDiagnostics(v.diags, err);
  if (v.diags.has_errors()) return 1;
  int failed = 0;
  for (const auto& oc : v.outcomes) {
    if (!oc.passed) {
      ++failed;
      out << "FAIL " << oc.test->file << ":" << oc.test->line << " " << oc.test->name << ": "
          << oc.detail << "\n";
    } else if (o.verbose) {
      out << "ok   " << oc.test->file << ":" << oc.test->line << " " << oc.test->name << "\n";
    }
  }
  int pattern_failed = 0;
  for (const auto& oc : v.pattern_outcomes) {
    if (!oc.passed) {
      ++pattern_failed;
      out << "FAIL " << oc.test->file << ":" << oc.test->line << " " << oc.test->name << ": "
          << oc.detail << "\n";
    } else if (o.verbose) {
      out << "ok   " << oc.test->file << ":" << oc.test->line << " " << oc.test->name << "\n";
    }
  }
  out << "\n  table" << std::string(27, ' ') << "passed  failed  status\n";
  for (const auto& t : v.tables) {
    out << "  " << std::left << std::setw(32) << t.table << std::right << std::setw(6) << t.passed
        << std::setw(8) << t.failed << "  " << rules::TableStateText(t.state) << "\n";
  }
  if (!v.pattern_outcomes.empty()) {
    out << "  " << std::left << std::setw(32) << "(patterns)" << std::right << std::setw(6)
        << v.pattern_outcomes.size() - static_cast<size_t>(pattern_failed) << std::setw(8)
        << pattern_failed << "  " << (pattern_failed ? "not verified" : "verified") << "\n";
  }
  const size_t untested = v.Count(rules::TableState::kUntested);
  failed += pattern_failed;
  out << "\n"
      << v.outcomes.size() + v.pattern_outcomes.size() - static_cast<size_t>(failed) << " passed, "
      << failed << " failed";
  out << " (rule set " << rs->version() << ")\n";
  if (failed > 0) {
    out << "rule set NOT VERIFIED: fix the tables or the cases before deploying\n";
    return 1;
  }
  if (o.require_all && untested > 0) {
    out << "rule set NOT VERIFIED: " << untested << " table(s) have no cases\n";
    return 1;
  }
  out << "rule set verified\n";
  return 0;
}

// ---- explain ---------------------------------------------------------------------------

int RunExplain(const ExplainOptions& o, std::ostream& out, std::ostream& err) {
  const auto mapping = ChooseOrReport(o.mapping, err);
  if (!mapping) return 2;
  auto rs = LoadOrReport(o.rules_dir, err);
  if (!rs) return 1;
  std::stringstream text;
  if (o.event_file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream f(o.event_file, std::ios::binary);
    if (!f) {
      err << o.event_file << ": cannot open\n";
      return 2;
    }
    text << f.rdbuf();
  }
  // The events to explain: the text itself (it already is an event), or what the mapping
  // makes of the payload, each with where it came from.
  std::vector<connectors::MappedEvent> events;
  if (mapping->passthrough()) {
    events.push_back({text.str(), ""});
  } else {
    std::vector<std::string> notes;
    if (engine::Status s = connectors::MapDocuments(*mapping, text.str(), &events, {}, &notes);
        !s.ok()) {
      err << o.event_file << ": " << s.message() << "\n";
      return 2;
    }
    for (const auto& n : notes) err << o.event_file << ": note: " << n << "\n";
    if (events.empty()) {
      err << o.event_file << ": the payload maps to no events (no alerts in it?)\n";
      return 0;
    }
  }
  engine::SystemClock clock;
  engine::ExplainOptions options;
  options.near_misses = o.near_misses > 0 ? static_cast<size_t>(o.near_misses) : 0;
  const std::shared_ptr<const engine::Topology>& topology = rs->topology();
  if (!o.incidents.empty()) {
    if (!topology) {
      err << o.rules_dir << ": --incident needs a topology (topology/nodes.csv); see "
          << "docs/topology.md\n";
      return 2;
    }
    for (const std::string& id : o.incidents) {
      if (topology->Find(id) < 0) {
        err << "--incident " << id << ": no such node in " << o.rules_dir << "/topology\n";
        return 2;
      }
    }
  }
  // Patterns: the state the history leaves, as `reflex replay` builds it (event time).
  std::unique_ptr<engine::PatternStage> stage = engine::PatternStage::Create(rs);
  if (!o.history_file.empty()) {
    if (!stage) {
      err << "--history: " << o.rules_dir << " has no patterns (patterns/*.yaml)\n";
      return 2;
    }
    std::ifstream h(o.history_file, std::ios::binary);
    if (!h) {
      err << o.history_file << ": cannot open\n";
      return 2;
    }
    engine::Pipeline pipeline(rs);
    std::vector<engine::PatternDecision> ignored;
    std::string line;
    for (int n = 1; std::getline(h, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (engine::Status s = pipeline.Process(line, clock.NowMillis(), nullptr); !s.ok()) {
        err << o.history_file << ":" << n << ": " << s.message() << "\n";
        return 2;
      }
      const int64_t t = pipeline.event().time_ms;
      stage->Advance(t, &ignored);
      stage->Observe(pipeline.event(), pipeline.result().verdict, t, t, &ignored);
      ignored.clear();
    }
  }
  nlohmann::json all = nlohmann::json::array();
  for (size_t i = 0; i < events.size(); ++i) {
    const std::string at =
        o.event_file + (events[i].where.empty() ? "" : " (" + events[i].where + ")");
    std::optional<std::vector<engine::PatternStage::PatternView>> patterns;
    if (stage) {
      engine::Pipeline pipeline(rs);
      if (pipeline.Process(events[i].event, clock.NowMillis(), nullptr).ok()) {
        std::vector<engine::PatternDecision> ignored;
        stage->Advance(pipeline.event().time_ms, &ignored);  // windows closed before it
        patterns = stage->Explain(pipeline.event());
      }
    }
    auto explanation = engine::ExplainEventText(*rs, events[i].event, clock.NowMillis(), options);
    if (!explanation.ok()) {
      err << at << ": " << explanation.status().message() << "\n";
      return 2;
    }
    if (explanation->labels.empty() && explanation->values.empty()) {
      err << "warning: " << at
          << ": the event has no labels and no values: nothing was mapped. If this is an "
             "Alertmanager payload or your own JSON rather than a Reflex event, pass "
             "--mapping alertmanager (or --mapping fields), or --config FILE --source NAME "
             "for a source's mapping\n";
    }
    // Root cause: the event's node against the incidents given, on the labeled event.
    std::optional<engine::Symptom> symptom;
    std::string node;
    if (!o.incidents.empty()) {
      engine::Event ev;
      engine::EventParser parser;
      if (parser.Parse(events[i].event, clock.NowMillis(), &ev).ok()) {
        rs->Label(&ev);
        const int64_t v = topology->NodeOf(ev);
        if (v >= 0) node = topology->node(static_cast<uint32_t>(v)).id;
      }
      engine::RootCauseTracker tracker(topology, {});
      for (const std::string& id : o.incidents) tracker.Open(id, clock.NowMillis());
      symptom = node.empty() ? engine::Symptom{} : tracker.Classify(node, clock.NowMillis());
    }
    if (o.json) {
      nlohmann::json j = engine::ExplanationToJson(*explanation);
      if (symptom) {
        nlohmann::json rc = {{"node", node.empty() ? nlohmann::json() : nlohmann::json(node)},
                             {"symptom", symptom->symptom}};
        if (symptom->symptom) {
          rc["root"] = symptom->root;
          rc["path"] = symptom->path;
        }
        j["root_cause"] = std::move(rc);
      }
      if (patterns) j["patterns"] = engine::PatternViewsToJson(*patterns);
      all.push_back(std::move(j));
      continue;
    }
    if (events.size() > 1) {
      if (i > 0) out << "\n";
      out << "=== event " << i + 1 << " of " << events.size() << ": " << events[i].where << "\n";
    }
    out << engine::ExplanationToText(*explanation);
    if (symptom) {
      out << "\nroot cause: ";
      if (node.empty()) {
        out << "the event names no topology node (" << topology->node_field().text() << ")\n";
      } else if (!symptom->symptom) {
        out << "node " << node << " depends on no node with an open incident\n";
      } else {
        out << engine::SymptomToText(*symptom) << "\n";
      }
    }
    if (patterns) out << "\n" << engine::PatternViewsToText(*patterns);
  }
  if (o.json) {
    const nlohmann::json& doc = all.size() == 1 ? all[0] : all;
    out << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  return 0;
}

}  // namespace reflex::cli
