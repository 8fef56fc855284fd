// The web console's files (web/console/: index.html, console.js, console.css), compiled into
// the binary so `reflex run` serves the console at /console/ with nothing to install and no
// network beyond its own listener. docs/console.md describes the console.
//
// Thread-safety: immutable data; FindConsoleAsset may be called from any thread.
// Errors: none; an unknown path is nullptr (the server answers 404).
//
//   const ConsoleAsset* a = FindConsoleAsset("console.js");  // "" is index.html
#pragma once

#include <string_view>

namespace reflex::web {

struct ConsoleAsset {
  std::string_view path;          // relative to /console/, e.g. "console.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// The file at `path` (relative to /console/; "" means index.html), or nullptr.
const ConsoleAsset* FindConsoleAsset(std::string_view path);

}  // namespace reflex::web
