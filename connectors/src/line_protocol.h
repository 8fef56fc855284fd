// Influx line protocol reader (what Telegraf's Kafka and HTTP outputs write), private to the
// payload mapping (mapping.cc, kind influx).
//
//   measurement[,tag=value...] field=value[,field=value...] [timestamp]
//
// One payload holds any number of lines; blank lines and `#` comments are skipped. Escapes
// follow the line protocol reference: in the measurement `\,` and `\ `; in tag keys, tag
// values and field keys `\,`, `\=` and `\ `; `\\` is one backslash everywhere; any other
// backslash is kept as it is. String field values are double-quoted, with `\"` and `\\`
// (a newline inside the quotes belongs to the value). Field values: floats (`1.5`, `-3`,
// `1e3`; NaN and infinities are refused), integers `12i` (int64), unsigned `12u` (uint64),
// booleans `t`/`T`/`true`/`True`/`TRUE` and `f`/`F`/`false`/`False`/`FALSE`, strings. The
// timestamp is an int64 in the payload's precision (the caller converts it).
//
// Errors: InvalidArgument "line N: <what>" for the first bad line; nothing is returned then
// (all or nothing). A tag given twice on a line is an error; a field given twice keeps its
// last value (as InfluxDB does). Linear in the size of the text (O(n log n) in the tags and
// fields of a line, for the duplicate check).
//
// Thread-safety: pure function.
//
//   std::vector<InfluxLine> lines;
//   if (Status s = ParseLineProtocol("cpu,host=a usage=97.5 1700000000000000000", {}, &lines);
//       !s.ok()) reject(s.message());
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/engine/status.h"

namespace reflex::connectors::influx {

enum class FieldType { kFloat, kInt, kUint, kBool, kString };

struct Field {
  std::string key;
  FieldType type = FieldType::kFloat;
  double f = 0;    // kFloat
  int64_t i = 0;   // kInt
  uint64_t u = 0;  // kUint
  bool b = false;  // kBool
  std::string s;   // kString (unescaped)
  // The number a rule compares: floats as they are, integers converted (exact up to 2^53),
  // booleans 1 / 0; nullopt for strings.
  std::optional<double> Number() const;
};

struct Line {
  size_t line_no = 0;  // 1-based line of the payload where the line starts
  std::string measurement;
  std::vector<std::pair<std::string, std::string>> tags;  // in the order written
  std::vector<Field> fields;                              // in the order written, keys unique
  std::optional<int64_t> timestamp;                       // in the payload's precision
};

// Most tags and fields on one line; more is an error naming the cap (the mapping passes the
// run config's processing.max_labels / max_values).
struct LineCaps {
  size_t max_tags = 1000;
  size_t max_fields = 1000;
};

// Parses every line of `text`; appends them to `lines` only when all are well-formed.
[[nodiscard]] engine::Status ParseLineProtocol(std::string_view text, const LineCaps& caps,
                                               std::vector<Line>* lines);

}  // namespace reflex::connectors::influx
