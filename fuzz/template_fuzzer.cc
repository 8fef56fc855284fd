// Fuzz target: reflex::engine::Template (action-parameter templates).
// Invariants: an error names an offset within the text ("template offset N", 1 <= N <=
// size); a parsed template keeps its source, renders over events without crashing, renders
// a template without placeholders as itself, renders missing fields as their default, and
// re-parses its own variables.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "reflex/engine/event.h"
#include "reflex/engine/template.h"

using namespace reflex::engine;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  const std::string_view text = reflex::fuzz::AsText(data, size);
  Result<Template> t = Template::Parse(text);
  if (!t.ok()) {
    const std::string& m = t.status().message();
    constexpr std::string_view kPrefix = "template offset ";
    REFLEX_FUZZ_CHECK(m.rfind(kPrefix, 0) == 0, m.c_str());
    const long offset = std::strtol(m.c_str() + kPrefix.size(), nullptr, 10);
    REFLEX_FUZZ_CHECK(offset >= 1 && offset <= static_cast<long>(size), m.c_str());
    return 0;
  }
  REFLEX_FUZZ_CHECK(t->source() == text, "source() differs from the input");
  Event empty;
  Event full;
  full.id = "e1";
  full.message = "disk full on /var";
  full.source = "prometheus";
  full.SetLabel("instance", "web1:9100");
  full.SetLabel("alertname", "\xff\xfe not utf-8");
  full.SetValue("usage", 93.5);
  full.payload = R"({"a":[1,{"b":"c"}],"k":"v","n":null})";
  const std::string r1 = t->Render(empty);
  const std::string r2 = t->Render(full);
  if (t->is_literal()) {
    REFLEX_FUZZ_CHECK(text.find("{{") == std::string_view::npos, "literal with a placeholder");
    REFLEX_FUZZ_CHECK(r1 == text && r2 == text, "a literal template renders as itself");
  }
  for (const FieldPath& p : t->variables()) {
    auto again = FieldPath::Parse(p.text());
    REFLEX_FUZZ_CHECK(again.ok() && again->text() == p.text(), p.text().c_str());
  }
  return 0;
}
