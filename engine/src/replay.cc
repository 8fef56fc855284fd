#include "reflex/engine/replay.h"

#include <algorithm>
#include <utility>

#include "reflex/base/hash.h"
#include "reflex/base/utf8.h"

namespace reflex::engine {

namespace {

std::string Base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(k[(v >> s) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(k[(v >> 18) & 63]);
    out.push_back(k[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? k[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

// A hash of an unknown event's shape, so the text is built once per shape.
uint64_t ShapeHash(const Event& ev) {
  const std::string* name = ev.Label("alertname");
  uint64_t h = base::Fnv1a64(name ? *name : "\x01");
  uint64_t keys = 0;  // order-independent combination of the label keys
  for (const auto& [k, v] : ev.labels) keys += base::Fnv1a64(k) * 0x9E3779B97F4A7C15ULL;
  return h ^ (keys + 0x632BE59BD9B4E019ULL);
}

// The shape of an unknown event: its alertname and the set of label keys it carries.
std::string UnknownShape(const Event& ev) {
  const std::string* name = ev.Label("alertname");
  std::vector<std::string> keys;
  for (const auto& [k, v] : ev.labels) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  std::string s = name ? *name : "(no alertname)";
  s += " {";
  for (size_t i = 0; i < keys.size(); ++i) s += (i ? "," : "") + keys[i];
  return s + "}";
}

// Most first, ties by name; at most `limit`.
std::vector<NamedCount> Ranked(std::vector<NamedCount> v, size_t limit) {
  std::sort(v.begin(), v.end(), [](const NamedCount& a, const NamedCount& b) {
    return a.count != b.count ? a.count > b.count : a.name < b.name;
  });
  if (v.size() > limit) v.resize(limit);
  return v;
}

}  // namespace

std::string DeadLetterRecord(std::string_view file, uint64_t line, std::string_view reason,
                             std::string_view raw) {
  std::string rec = "{\"file\":";
  base::AppendJsonString(file, &rec);
  rec += ",\"line\":" + std::to_string(line) + ",\"reason\":";
  base::AppendJsonString(reason, &rec);
  if (base::IsValidUtf8(raw)) {
    rec += ",\"raw\":";
    base::AppendJsonString(raw, &rec);
  } else {
    rec += ",\"raw_base64\":\"" + Base64(raw) + "\"";
  }
  rec += "}";
  return rec;
}

Replayer::Replayer(std::shared_ptr<const CompiledRuleSet> rules, const Clock& clock,
                   std::string source)
    : pipeline_(rules),
      patterns_(PatternStage::Create(rules)),
      clock_(clock),
      source_(std::move(source)) {}

void Replayer::AppendPatternDecisions(std::string* decision) {
  for (const PatternDecision& d : pattern_out_) {
    if (d.decision_json.empty()) continue;
    ++pattern_decisions_;
    if (decision == nullptr) continue;
    if (!decision->empty()) decision->push_back('\n');
    decision->append(d.decision_json);
  }
  pattern_out_.clear();
}

void Replayer::Finish(std::string* decisions) {
  if (!patterns_) return;
  pattern_out_.clear();
  patterns_->Drain(stream_now_ == INT64_MIN ? clock_.NowMillis() : stream_now_, &pattern_out_);
  AppendPatternDecisions(decisions);
}

Replayer::Line Replayer::Feed(std::string_view line, std::string* decision,
                              std::string* dead_letter) {
  ++lines_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return Line::kBlank;
  return FeedEvent(line, decision, dead_letter);
}

Replayer::Line Replayer::Reject(std::string_view line, std::string_view reason,
                                std::string* dead_letter) {
  ++malformed_;
  if (dead_letter != nullptr) *dead_letter += DeadLetterRecord(source_, lines_, reason, line);
  return Line::kMalformed;
}

Replayer::Line Replayer::FeedEvent(std::string_view line, std::string* decision,
                                   std::string* dead_letter) {
  const int64_t now = clock_.NowMillis();
  Status s = pipeline_.Process(line, now, patterns_ ? nullptr : decision);
  if (!s.ok()) return Reject(line, s.message(), dead_letter);
  ++decided_;
  if (patterns_) {
    const Event& ev = pipeline_.event();
    pattern_out_.clear();
    stream_now_ = std::max(stream_now_, ev.time_ms);
    patterns_->Advance(stream_now_, &pattern_out_);
    std::vector<PatternDecision> due;
    due.swap(pattern_out_);  // the timers due before the event come after its decision
    if (patterns_->Observe(ev, pipeline_.result().verdict, ev.time_ms, stream_now_,
                           &pattern_out_)) {
      pipeline_.MarkPending();
    }
    due.insert(due.end(), std::make_move_iterator(pattern_out_.begin()),
               std::make_move_iterator(pattern_out_.end()));
    pattern_out_.swap(due);
    if (decision != nullptr) pipeline_.AppendDecision(now, decision);
    AppendPatternDecisions(decision);
  }
  const MatchResult& r = pipeline_.result();
  ++verdicts_[static_cast<int>(r.verdict)];
  for (const auto& m : r.matches) ++row_hits_[{m.table, m.row}];
  if (r.verdict == Verdict::kUnknown) {
    NamedCount& shape = unknown_shapes_[ShapeHash(pipeline_.event())];
    if (shape.count++ == 0) shape.name = UnknownShape(pipeline_.event());
  }
  return Line::kDecided;
}

std::vector<NamedCount> Replayer::TopRows(size_t limit) const {
  const auto& tables = pipeline_.rules()->tables();
  std::vector<NamedCount> rows;
  for (const auto& [k, n] : row_hits_) {
    rows.push_back({tables[k.first].name + "/" + tables[k.first].rows[k.second].id, n});
  }
  return Ranked(std::move(rows), limit);
}

std::vector<NamedCount> Replayer::UnknownShapes(size_t limit) const {
  std::vector<NamedCount> shapes;
  for (const auto& [h, shape] : unknown_shapes_) shapes.push_back(shape);
  return Ranked(std::move(shapes), limit);
}

}  // namespace reflex::engine
