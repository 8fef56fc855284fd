// EnumNames: one table per enum that gives each enumerator its name at the edges (config,
// JSON, CLI, metrics labels) and parses names back. Inside the program kinds and states
// stay enums; strings appear only where text comes in or goes out.
//
// Thread-safety: a table is an immutable constexpr value.
//
//   enum class Color { kRed, kGreen };
//   inline constexpr EnumNames<Color, 2> kColorNames{{{Color::kRed, "red"},
//                                                     {Color::kGreen, "green"}}};
//   std::string_view n = kColorNames.Name(Color::kGreen);   // "green"
//   std::optional<Color> c = kColorNames.Parse("red");       // Color::kRed
//   std::string all = kColorNames.List();                     // "red, green"
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace reflex::base {

template <typename E, size_t N>
struct EnumNames {
  std::array<std::pair<E, std::string_view>, N> entries;

  // The enumerator's name; "?" for a value not in the table (a bug: every enumerator has a
  // row, which the tests of each table check).
  constexpr std::string_view Name(E e) const {
    for (const auto& [v, n] : entries) {
      if (v == e) return n;
    }
    return "?";
  }
  // The enumerator with this exact name, or nullopt.
  constexpr std::optional<E> Parse(std::string_view name) const {
    for (const auto& [v, n] : entries) {
      if (n == name) return v;
    }
    return std::nullopt;
  }
  // Every name, in table order, joined by `sep`.
  std::string List(std::string_view sep = ", ") const {
    std::string out;
    for (const auto& [v, n] : entries) {
      if (!out.empty()) out += sep;
      out += n;
    }
    return out;
  }
  static constexpr size_t size() { return N; }
};

}  // namespace reflex::base
