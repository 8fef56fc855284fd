// Replayer: decides a stream of JSON Lines events line by line, as `reflex replay` does,
// and tallies what it saw: the verdicts, the rows that decided events, the shapes of the
// unknown events, and the malformed lines with the dead-letter record for each.
//
// The caller reads the lines and writes the decisions and records wherever it likes; the
// replayer does no I/O and reads the time only through the Clock it is given.
//
// Thread-safety: one Replayer per thread (it owns a Pipeline). The Clock must outlive it.
//
//   Replayer replay(rules, clock, "events.jsonl");
//   std::string decision, record;
//   for (std::string line; std::getline(in, line); decision.clear(), record.clear()) {
//     if (replay.Feed(line, &decision, &record) == Replayer::Line::kDecided) out << decision;
//   }
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "reflex/engine/clock.h"
#include "reflex/engine/matcher.h"
#include "reflex/engine/pattern_stage.h"
#include "reflex/engine/pipeline.h"

namespace reflex::engine {

// A name and how often it was seen.
struct NamedCount {
  std::string name;
  uint64_t count = 0;
  bool operator==(const NamedCount&) const = default;
};

class Replayer {
 public:
  // `source` names the input in dead-letter records ("-" for stdin, say).
  Replayer(std::shared_ptr<const CompiledRuleSet> rules, const Clock& clock, std::string source);

  enum class Line {
    kBlank,      // only spaces, tabs and a final '\r': skipped, not counted as an event
    kDecided,    // an event, decided
    kMalformed,  // not an event: dead-lettered
  };

  // Decides one line (without its '\n'; a trailing '\r' is dropped). Lines are numbered
  // from 1 in the order fed, blank ones included. kDecided: appends the decision JSON to
  // `*decision` when not null (skipping the formatting when null). kMalformed: appends the
  // dead-letter record (DeadLetterRecord) to `*dead_letter` when not null. Neither appends
  // a newline.
  // With multi-event patterns in the set (pattern_stage.h), events are placed in windows at
  // their own time and the stream's clock is the latest event time seen, so a replay is
  // deterministic: before each event the timers due by then fire; an unknown event a
  // pattern holds is `pending`; each pattern decision follows the event's decision as one
  // more line ('\n'-separated, still no final newline).
  Line Feed(std::string_view line, std::string* decision, std::string* dead_letter);

  // For callers that map each line to events themselves (a payload mapping, one payload per
  // line): CountLine numbers the next line as Feed would; then either Reject dead-letters
  // it with the mapping's reason (counted malformed), or FeedEvent decides each event it
  // gave (dead-lettering a malformed one under the same line number).
  uint64_t CountLine() { return ++lines_; }
  Line Reject(std::string_view line, std::string_view reason, std::string* dead_letter);
  Line FeedEvent(std::string_view event, std::string* decision, std::string* dead_letter);

  uint64_t lines() const { return lines_; }          // fed, blank ones included
  uint64_t decided() const { return decided_; }      // events decided
  uint64_t malformed() const { return malformed_; }  // lines dead-lettered
  uint64_t verdicts(Verdict v) const { return verdicts_[static_cast<int>(v)]; }
  uint64_t pattern_decisions() const { return pattern_decisions_; }

  // At the end of the input: the events still held in open windows leave as `evicted` (the
  // pending ones in an unknown decision each window), appended to `*decisions` as lines
  // ('\n'-separated, no final newline) when not null. Timers not yet due by the stream's
  // clock do not fire.
  void Finish(std::string* decisions);

  // The rows that decided events, as "table/row", most hits first (ties by name); at most
  // `limit`.
  std::vector<NamedCount> TopRows(size_t limit) const;
  // The shapes of the unknown events, "alertname {sorted label keys}" ("(no alertname)"
  // when there is none), most frequent first (ties by name); at most `limit`.
  std::vector<NamedCount> UnknownShapes(size_t limit) const;

 private:
  // Appends the pattern decisions in pattern_out_ to `*decision` as lines, and counts them.
  void AppendPatternDecisions(std::string* decision);

  Pipeline pipeline_;
  std::unique_ptr<PatternStage> patterns_;  // null: the set has no patterns
  std::vector<PatternDecision> pattern_out_;
  int64_t stream_now_ = INT64_MIN;
  uint64_t pattern_decisions_ = 0;
  const Clock& clock_;
  std::string source_;
  uint64_t lines_ = 0, decided_ = 0, malformed_ = 0;
  uint64_t verdicts_[4] = {0, 0, 0, 0};
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> row_hits_;  // (table, row) -> hits
  // Keyed by a hash of the shape, so its text is built once per shape.
  std::unordered_map<uint64_t, NamedCount> unknown_shapes_;
};

// The dead-letter record of a malformed line, one JSON object:
// {"file":..,"line":N,"reason":..,"raw":..}; "raw_base64" replaces "raw" when the bytes
// are not valid UTF-8, so they survive exactly.
std::string DeadLetterRecord(std::string_view file, uint64_t line, std::string_view reason,
                             std::string_view raw);

}  // namespace reflex::engine
