// Text helpers shared inside reflex::actions (journal output, escalation samples, notices).
#pragma once

#include <cstddef>
#include <string_view>

namespace reflex::actions {

// The longest prefix of `s` of at most `limit` bytes that does not split a UTF-8 sequence.
inline std::string_view CutUtf8(std::string_view s, size_t limit) {
  if (s.size() <= limit) return s;
  size_t n = limit;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace reflex::actions
