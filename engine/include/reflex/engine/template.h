// Template: text with `{{ field.path }}` placeholders rendered over an event.
//
// Used for action parameters (`host={{labels.instance}}`). Parsing happens at rule load
// time, so a malformed template is a load error, never a runtime surprise. A placeholder
// whose field is missing renders as the empty string, or as its default:
// `{{ labels.team | default("ops") }}`. Rendering never evaluates code and never touches a
// shell: the output is plain text that callers escape for their own format.
// For a pattern match (correlation.h) three more names read the matched events:
// `{{events.count}}`, `{{events.first.<path>}}` and `{{events.last.<path>}}` (e.g.
// `{{events.first.labels.instance}}`); they render through an EventsView, and as missing
// (empty or their default) without one.
// Thread-safety: immutable after Parse; Render is const and re-entrant.
//
//   Result<Template> t = Template::Parse("restart {{labels.service}} on {{labels.instance}}");
//   std::string s = t->Render(event);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "reflex/engine/event.h"
#include "reflex/engine/status.h"

namespace reflex::engine {

// One `{{ name }}` or `{{ name | default("text") }}` placeholder of a template text.
struct TemplatePlaceholder {
  std::string_view name;  // trimmed, e.g. "labels.instance"
  std::string fallback;   // the default("...") text; empty when none
  size_t offset = 0;      // of its "{{" in the text (0-based)
};

// The placeholder syntax every template in Reflex shares (table action cells, the action
// catalog, notifications). Calls `on_segment(literal, &placeholder)` for each placeholder
// with the literal text before it, then `on_segment(trailing literal, nullptr)` once.
// Stops at the first syntax error or the first error the callback returns. Syntax errors
// read "template offset N: ..." (N 1-based); TemplateErrorAt builds the same for callers.
Status ScanTemplate(
    std::string_view text,
    const std::function<Status(std::string literal, const TemplatePlaceholder* placeholder)>&
        on_segment);
Status TemplateErrorAt(size_t offset, const std::string& message);

// The matched events of a pattern output, as `events.*` placeholders read them.
class EventsView {
 public:
  virtual ~EventsView() = default;
  // `events.count`.
  virtual FieldValue Count() const = 0;
  // `events.first.<inner>` (first = true) or `events.last.<inner>`.
  virtual FieldValue Member(bool first, const FieldPath& inner) const = 0;
};

class Template {
 public:
  // Errors carry the 1-based character offset of the problem in `text`.
  static Result<Template> Parse(std::string_view text);

  // `events` (may be null) answers the `events.*` placeholders.
  void RenderTo(const Event& ev, std::string* out, const EventsView* events = nullptr) const;
  std::string Render(const Event& ev, const EventsView* events = nullptr) const {
    std::string s;
    RenderTo(ev, &s, events);
    return s;
  }

  const std::string& source() const { return source_; }
  bool is_literal() const { return vars_.empty(); }
  // The event fields this template reads, in order of appearance (not `events.*`).
  std::vector<FieldPath> variables() const;
  // True when it has an `events.*` placeholder (only a pattern match can answer those).
  bool uses_events() const;
  // The inner paths of its `events.first.<path>` / `events.last.<path>` placeholders.
  std::vector<FieldPath> member_variables() const;

 private:
  struct Segment {
    std::string literal;  // text before the placeholder
    int var = -1;         // index into vars_, -1 for a trailing literal
  };
  enum class VarKind : uint8_t { kField, kEventsCount, kEventsFirst, kEventsLast };
  struct Var {
    FieldPath path;  // the field; for kEventsFirst / kEventsLast the member's field
    std::string fallback;
    VarKind kind = VarKind::kField;
  };
  std::string source_;
  std::vector<Segment> segments_;
  std::vector<Var> vars_;
};

}  // namespace reflex::engine
