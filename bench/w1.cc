#include "w1.h"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <utility>

#include "reflex/base/time.h"
#include "reflex/base/utf8.h"

namespace w1 {

using reflex::engine::ActionSpec;
using reflex::engine::ColumnSpec;
using reflex::engine::Condition;
using reflex::engine::Event;
using reflex::engine::EventParser;
using reflex::engine::ExtractRule;
using reflex::engine::FieldPath;
using reflex::engine::LabelingSpec;
using reflex::engine::NumRange;
using reflex::engine::RowSpec;
using reflex::engine::TableSpec;

namespace {

constexpr const char* kSeverities[4] = {"critical", "warning", "info", "page"};
constexpr double kInf = std::numeric_limits<double>::infinity();

// splitmix64: small, fast, and the same sequence on every platform and library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) (n small: the modulo bias is negligible).
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t s_;
};

FieldPath Path(std::string_view text) {
  auto p = FieldPath::Parse(text);
  if (!p.ok()) {
    std::fprintf(stderr, "w1: bad field path %.*s\n", static_cast<int>(text.size()), text.data());
    std::abort();
  }
  return std::move(*p);
}

ActionSpec Action(size_t i) {
  ActionSpec a;
  a.name = "job" + std::to_string(i % 50);
  return a;
}

// The text of a message of roughly `target` bytes: the W1 sentence, then padding words.
std::string Message(size_t usage, const std::string& instance, size_t code, size_t target) {
  std::string m = "usage ";
  m += std::to_string(usage);
  m += "% on ";
  m += instance;
  if (target > 80) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "E%05zu", code);
    m += " error ";
    m += buf;
    m += " in module storage: write to /var/lib/data/blk failed after 3 retries";
  }
  static const char* kPad[] = {"(errno=28,", "no", "space", "left", "on", "device)", "retrying"};
  for (size_t k = 0; m.size() < target; ++k) {
    m += ' ';
    m += kPad[k % 7];
  }
  return m;
}

}  // namespace

TableSpec Table(size_t rows) {
  TableSpec t;
  t.name = "w1";
  t.file = "tables/w1.csv";
  for (const char* c : {"alertname", "severity", "usage"})
    t.columns.push_back(ColumnSpec{Path(c), {}});
  t.rows.reserve(rows);
  for (size_t i = 0; i < rows; ++i) {
    RowSpec r;
    r.id = "r";
    r.id += std::to_string(i);
    r.where.file = t.file;
    r.where.line = static_cast<int>(i + 4);
    r.where.column = 1;
    r.conditions.push_back(Condition::Equals("Alert" + std::to_string(i / 4)));
    r.conditions.push_back(Condition::Equals(kSeverities[i % 4]));
    r.conditions.push_back(
        Condition::Range(NumRange{static_cast<double>((7 * i) % 100), kInf, true, false}));
    r.condition_where.resize(3);
    r.actions.push_back(Action(i));
    t.rows.push_back(std::move(r));
  }
  return t;
}

std::string TableCsv(size_t rows) {
  std::string s = "table,w1\nhit_policy,first\nid,alertname,severity,usage,action\n";
  s.reserve(rows * 40);
  for (size_t i = 0; i < rows; ++i) {
    s += 'r' + std::to_string(i) + ",Alert" + std::to_string(i / 4) + ',' + kSeverities[i % 4] +
         ",>= " + std::to_string((7 * i) % 100) + ",job" + std::to_string(i % 50) + '\n';
  }
  return s;
}

TableSpec RegexTable(size_t rows) {
  TableSpec t;
  t.name = "w1_regex";
  t.file = "tables/w1_regex.csv";
  for (const char* c : {"message", "severity"}) t.columns.push_back(ColumnSpec{Path(c), {}});
  for (size_t i = 0; i < rows; ++i) {
    RowSpec r;
    r.id = "x";
    r.id += std::to_string(i);
    r.where.file = t.file;
    r.where.line = static_cast<int>(i + 4);
    auto re = Condition::Regex("on web" + std::to_string(i) + ":\\d+ ");
    if (!re.ok()) {
      std::fprintf(stderr, "w1: %s\n", re.status().ToString().c_str());
      std::abort();
    }
    r.conditions.push_back(std::move(*re));
    r.conditions.push_back(Condition::Equals(kSeverities[i % 4]));
    r.condition_where.resize(2);
    r.actions.push_back(Action(i));
    t.rows.push_back(std::move(r));
  }
  return t;
}

std::vector<std::string> EventJson(size_t rows, size_t count, EventSize size, uint64_t seed) {
  Rng rng(seed);
  const size_t known = rows / 4 > 0 ? rows / 4 : 1;
  std::vector<std::string> out;
  out.reserve(count);
  const int64_t base_ms = 1795600800000;  // 2026-11-24T10:00:00Z
  for (size_t n = 0; n < count; ++n) {
    const bool is_known = rng.Below(10) != 0;  // 90 %
    const size_t alert = rng.Below(is_known ? known : 1000);
    const char* sev = kSeverities[rng.Below(4)];
    const size_t usage = rng.Below(100);
    const std::string instance = "web" + std::to_string(rng.Below(1000)) + ":9100";
    const size_t code = rng.Below(10000);
    std::string s;
    s.reserve(size == EventSize::kSmall ? 256 : 560);
    s += "{\"id\":\"e";
    s += std::to_string(n);
    s += "\",\"timestamp\":\"";
    reflex::base::AppendRfc3339Millis(base_ms + static_cast<int64_t>(n) * 10, &s);
    s += "\",\"source\":\"prom\",\"labels\":{\"alertname\":\"";
    s += (is_known ? "Alert" : "NoSuchAlert") + std::to_string(alert);
    s += "\",\"severity\":\"";
    s += sev;
    s += "\",\"instance\":\"" + instance + "\",\"job\":\"node\"";
    if (size == EventSize::kLarge) {
      s += ",\"env\":\"prod\",\"region\":\"eu-west-1\",\"cluster\":\"k8s-prod-";
      s += std::to_string(alert % 7);
      s += "\",\"namespace\":\"storage\",\"team\":\"platform\"";
    }
    s += "},\"values\":{\"usage\":" + std::to_string(usage) + "},\"message\":";
    reflex::base::AppendJsonString(
        Message(usage, instance, code, size == EventSize::kSmall ? 30 : 200), &s);
    s += '}';
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Event> Events(size_t rows, size_t count, EventSize size, uint64_t seed) {
  std::vector<Event> out(count);
  EventParser parser;
  const std::vector<std::string> lines = EventJson(rows, count, size, seed);
  for (size_t i = 0; i < count; ++i) {
    if (auto s = parser.Parse(lines[i], 0, &out[i]); !s.ok()) {
      std::fprintf(stderr, "w1: generated event does not parse: %s\n%s\n", s.ToString().c_str(),
                   lines[i].c_str());
      std::abort();
    }
  }
  return out;
}

LabelingSpec RegexLabeling(size_t patterns) {
  LabelingSpec spec;
  spec.extract.reserve(patterns);
  for (size_t k = 0; k < patterns; ++k) {
    char code[32];
    std::snprintf(code, sizeof(code), "E%05zu", k);
    ExtractRule r;
    r.name = std::string("err_") + code;
    r.from = Path("message");
    r.pattern = std::string("error ") + code + " in module (?P<module>\\w+)";
    spec.extract.push_back(std::move(r));
  }
  return spec;
}

std::shared_ptr<const reflex::engine::CompiledRuleSet> Compile(std::vector<TableSpec> tables,
                                                               LabelingSpec labeling) {
  auto rs = reflex::engine::CompiledRuleSet::Create(std::move(tables), std::move(labeling), "w1");
  if (!rs.ok()) {
    std::fprintf(stderr, "w1: compile failed: %s\n", rs.status().ToString().c_str());
    std::abort();
  }
  return std::move(*rs);
}

double AverageBytes(const std::vector<std::string>& lines) {
  if (lines.empty()) return 0;
  size_t total = 0;
  for (const auto& l : lines) total += l.size();
  return static_cast<double>(total) / static_cast<double>(lines.size());
}

}  // namespace w1
