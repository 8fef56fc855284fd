// UTF-8 checks, safe cuts and JSON string escaping for text that comes from outside.
//
// Events, payloads and rule files are untrusted bytes: these functions never read past the
// input, never produce invalid UTF-8 and never split a multi-byte sequence. Thread-safe.
//
//   if (!IsValidUtf8(text)) ...;
//   std::string_view head = CutUtf8(sample, 16 * 1024);  // at most 16 KiB, whole characters
//   std::string out;
//   AppendJsonString(text, &out);                        // "\"...\"", always valid JSON
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace reflex::base {

// True when `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);
// Byte offset of the first byte that is not part of well-formed UTF-8, or npos.
size_t FirstInvalidUtf8(std::string_view s);

// The longest prefix of `s` of at most `limit` bytes that does not split a UTF-8 sequence.
inline std::string_view CutUtf8(std::string_view s, size_t limit) {
  if (s.size() <= limit) return s;
  size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Appends `s` as a JSON string literal (quotes included). Invalid UTF-8 bytes are replaced
// by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace reflex::base
