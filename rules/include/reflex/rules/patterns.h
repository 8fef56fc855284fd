// Reading multi-event patterns (correlation.h) from `patterns/*.yaml` in a rules directory.
//
// A file is a list of patterns:
//   - name: disk-and-backup
//     kind: all_of            # all_of | sequence | count | rate | absence | heartbeat | sustained
//     group_by: [labels.instance]
//     within: 10m             # the window W, the timeout T or the duration D
//     lateness: 1m            # optional, default 1m: older events are refused as late
//     max_keys: 100000        # optional, default 100000 groups
//     members:
//       - {name: disk, when: {alertname: NodeFilesystemAlmostOutOfSpace}}
//       - {name: backup, when: {alertname: BackupFailed, severity: "in(critical, page)"}}
//     actions:                # action cells as in tables, templates may read events.*
//       - page_oncall(team=storage, text="{{events.count}} on {{events.first.labels.instance}}")
//     runbook: https://...
// Kind keys: `count: N` (count), `rate: R` events/s (rate), `value: values.x` with
// `above: B` or `below: B` (sustained). `when` maps fields to condition cells (the table
// cell language, rules/cell.h). Every problem is reported with file, line and column.
// Thread-safety: pure functions.
//
//   Diagnostics diags;
//   std::vector<engine::PatternSpec> p = ReadPatternsYaml(text, "rules/patterns/x.yaml", ctx,
//                                                         &diags);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "reflex/engine/correlation.h"
#include "reflex/rules/diagnostics.h"
#include "reflex/rules/table_reader.h"

namespace reflex::rules {

// Default of `lateness` when a pattern does not set it.
inline constexpr int64_t kDefaultPatternLatenessMs = 60000;

// Appends the file's valid patterns to *out (a pattern with an error is left out; its
// problems are in *diags). `ctx` checks action names and parameters against the catalog.
void ReadPatternsYaml(std::string_view text, const std::string& file, const TableContext& ctx,
                      std::vector<engine::PatternSpec>* out, Diagnostics* diags);

}  // namespace reflex::rules
