// Checks an EnumNames table against its enum for the tests of each module: every enumerator
// the compiler knows (not only those the table lists) has exactly one row, and its name parses
// back to it. Adding an enumerator without a row therefore fails the table's test.
//
//   TEST(VerdictNamesTest, EveryVerdictHasAName) {
//     reflex::enum_test::ExpectNamesEveryEnumerator(kVerdictNames);
//   }
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "reflex/base/enum_names.h"

namespace reflex::enum_test {

// True when V is a declared enumerator of its enum. The compiler spells a declared value by
// its name ("V = reflex::engine::Verdict::kKnown") and any other value as a cast
// ("V = (reflex::engine::Verdict)3"), so the last identifier of the spelling starts with a
// letter or '_' only for a declared one. (GCC and Clang.)
template <auto V>
constexpr bool IsEnumerator() {
  std::string_view f = __PRETTY_FUNCTION__;
  size_t end = f.size();
  while (end > 0 && (f[end - 1] == ']' || f[end - 1] == ' ')) --end;
  size_t begin = end;
  auto ident = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  while (begin > 0 && ident(f[begin - 1])) --begin;
  return begin < end && !(f[begin] >= '0' && f[begin] <= '9');
}

template <typename E, size_t... I>
std::vector<E> EnumeratorsIn(std::index_sequence<I...>) {
  std::vector<E> out;
  ((IsEnumerator<static_cast<E>(I)>() ? out.push_back(static_cast<E>(I)) : void()), ...);
  return out;
}

// The declared enumerators of the scoped enum E whose values lie in [0, kLimit), in value order.
template <typename E, size_t kLimit = 64>
std::vector<E> Enumerators() {
  return EnumeratorsIn<E>(std::make_index_sequence<kLimit>{});
}

// Every enumerator of E has a row in `names` (and the table has no other rows), and
// Parse(Name(e)) == e. Enumerators are looked for in [0, 64): enough for every enum we name.
template <typename E, size_t N>
void ExpectNamesEveryEnumerator(const base::EnumNames<E, N>& names) {
  const std::vector<E> all = Enumerators<E>();
  EXPECT_EQ(all.size(), N) << "the enum has " << all.size() << " enumerators, the table " << N
                           << " rows";
  for (E e : all) {
    const std::string_view name = names.Name(e);
    EXPECT_NE(name, "?") << "enumerator " << static_cast<long>(e) << " has no name";
    EXPECT_EQ(names.Parse(name), e)
        << "'" << name << "' does not parse back to enumerator " << static_cast<long>(e);
  }
}

}  // namespace reflex::enum_test
