// Helpers shared by Correlator and ReferenceCorrelator: how an event is selected and
// grouped, and when it is late. Internal to reflex::engine.
#pragma once

#include <cstdint>
#include <string>

#include "reflex/engine/correlation.h"

namespace reflex::engine {

// all_of, sequence, count and rate hold their (firing) member events in a window.
inline bool HoldsEvents(PatternKind k) {
  return k == PatternKind::kAllOf || k == PatternKind::kSequence || k == PatternKind::kCount ||
         k == PatternKind::kRate;
}

// An event at `t` in a group whose watermark is `wm` is refused: older than the lateness
// allows, or (windowed kinds) its window has already passed.
inline bool IsLate(const PatternSpec& spec, int64_t wm, int64_t t) {
  if (t < wm - spec.lateness_ms) return true;
  return HoldsEvents(spec.kind) && t + spec.within_ms < wm;
}

// The group key of `ev` (group_by values joined by '\x1f'); false when a field is missing.
bool BuildGroupKey(const PatternSpec& spec, const Event& ev, std::string* key);

}  // namespace reflex::engine
