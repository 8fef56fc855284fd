#include "reflex/engine/labeling.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <map>

namespace reflex::engine {

// The extraction rules that read one field, with an optional RE2::Set that finds in one
// pass which of their patterns can match.
struct Labeler::Group {
  FieldPath from;
  struct Rule {
    const ExtractRule* spec;
    std::unique_ptr<RE2> re;
    std::vector<std::pair<std::string, int>> names;  // label name, capture index
    bool anchored = false;  // `re` is "(?s:.*?)(?:pattern)", run anchored at the start
  };
  std::vector<Rule> rules;
  std::unique_ptr<RE2::Set> set;
};

namespace {
// Below this many patterns on one field, running each one is as cheap as a set pass.
constexpr size_t kMinSetSize = 4;
constexpr int64_t kSetMaxMem = int64_t{256} << 20;
}  // namespace

Labeler::~Labeler() = default;

Result<std::unique_ptr<Labeler>> Labeler::Create(LabelingSpec spec) {
  std::unique_ptr<Labeler> l(new Labeler());
  l->spec_ = std::move(spec);
  std::map<std::string, size_t> by_field;
  for (const ExtractRule& r : l->spec_.extract) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_unique<RE2>(r.pattern, opts);
    if (!re->ok()) {
      return InvalidArgument("extraction rule '" + r.name + "': bad pattern: " + re->error());
    }
    if (re->NamedCapturingGroups().empty()) {
      return InvalidArgument("extraction rule '" + r.name +
                             "': the pattern has no named group (?P<label>...) to extract");
    }
    auto [it, fresh] = by_field.try_emplace(r.from.text(), l->groups_.size());
    if (fresh) {
      l->groups_.push_back(std::make_unique<Group>());
      l->groups_.back()->from = r.from;
    }
    Group& g = *l->groups_[it->second];
    Group::Rule rule{&r, std::move(re), {}, false};
    for (const auto& [name, idx] : rule.re->NamedCapturingGroups())
      rule.names.emplace_back(name, idx);
    std::sort(rule.names.begin(), rule.names.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    g.rules.push_back(std::move(rule));
  }
  for (auto& g : l->groups_) {
    if (g->rules.size() < kMinSetSize) continue;
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(kSetMaxMem);
    auto set = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
    bool ok = true;
    for (const auto& rule : g->rules) {
      if (set->Add(rule.spec->pattern, nullptr) < 0) {
        ok = false;
        break;
      }
    }
    if (!ok || !set->Compile()) continue;  // run the patterns one by one
    // In a large group each pattern runs only when the set says it matches, so its own DFA
    // is always cold, and an unanchored search with captures builds two (forward, then
    // reverse for the start). "(?s:.*?)(?:p)" anchored at the start finds the same
    // leftmost-first match and lets RE2 go straight to its capturing backtracker.
    for (auto& rule : g->rules) {
      RE2::Options ropts = rule.re->options();
      auto anchored = std::make_unique<RE2>("(?s:.*?)(?:" + rule.spec->pattern + ")", ropts);
      if (anchored->ok() &&
          anchored->NumberOfCapturingGroups() == rule.re->NumberOfCapturingGroups()) {
        rule.re = std::move(anchored);
        rule.anchored = true;
      }
    }
    g->set = std::move(set);
  }
  return l;
}

void Labeler::Apply(Event* ev) const {
  if (groups_.empty() && spec_.lookups.empty()) return;
  std::string text;
  std::vector<int> hits;
  re2::StringPiece subs[16];
  std::vector<re2::StringPiece> big_subs;
  for (const auto& g : groups_) {
    FieldValue v = ev->Get(g->from);
    if (v.missing()) continue;
    text.assign(v.text());  // labels may change below; keep our own copy
    auto run = [&](const Group::Rule& rule) {
      for (const auto& [path, cond] : rule.spec->when) {
        if (!cond.Evaluate(ev->Get(path))) return;
      }
      const int n = rule.re->NumberOfCapturingGroups() + 1;
      re2::StringPiece* sp = subs;
      if (n > 16) {
        big_subs.assign(static_cast<size_t>(n), re2::StringPiece());
        sp = big_subs.data();
      }
      if (!rule.re->Match(text, 0, text.size(), rule.anchored ? RE2::ANCHOR_START : RE2::UNANCHORED,
                          sp, n)) {
        return;
      }
      for (const auto& [name, idx] : rule.names) {
        const re2::StringPiece& m = sp[idx];
        if (m.data() == nullptr) continue;
        if (!rule.spec->overwrite && ev->Label(name) != nullptr) continue;
        ev->SetLabel(name, std::string_view(m.data(), m.size()));
      }
    };
    if (g->set) {
      hits.clear();
      RE2::Set::ErrorInfo info{};
      if (g->set->Match(text, &hits, &info)) {
        std::sort(hits.begin(), hits.end());
        for (int h : hits) run(g->rules[static_cast<size_t>(h)]);
      } else if (info.kind != RE2::Set::kNoError) {
        for (const auto& rule : g->rules) run(rule);  // DFA out of memory: no shortcut
      }
    } else {
      for (const auto& rule : g->rules) run(rule);
    }
  }
  for (const LookupTable& lt : spec_.lookups) {
    FieldValue key = ev->Get(lt.key);
    if (key.missing()) continue;
    auto it = lt.rows.find(std::string(key.text()));
    if (it == lt.rows.end()) continue;
    for (size_t c = 0; c < lt.columns.size() && c < it->second.size(); ++c) {
      if (it->second[c].empty()) continue;
      if (!lt.overwrite && ev->Label(lt.columns[c]) != nullptr) continue;
      ev->SetLabel(lt.columns[c], it->second[c]);
    }
  }
}

std::vector<std::string> Labeler::OutputLabels() const {
  std::vector<std::string> out;
  for (const auto& g : groups_) {
    for (const auto& r : g->rules) {
      for (const auto& [name, idx] : r.names) out.push_back(name);
    }
  }
  for (const LookupTable& lt : spec_.lookups) {
    out.insert(out.end(), lt.columns.begin(), lt.columns.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace reflex::engine
