// Diagnostics helpers shared by the rules tests: find the one diagnostic a test expects and
// check where it points.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "reflex/rules/diagnostics.h"

namespace reflex::rules::test_util {

// Every diagnostic, one per line, for failure messages.
inline std::string All(const Diagnostics& d) {
  std::string s;
  for (const auto& x : d.Sorted()) s += x.ToString() + "\n";
  return s;
}

// The one diagnostic whose message contains `needle` (a second one fails the test).
inline const Diagnostic* Find(const Diagnostics& d, const std::string& needle) {
  const Diagnostic* found = nullptr;
  for (const auto& x : d.items()) {
    if (x.message.find(needle) != std::string::npos) {
      EXPECT_EQ(found, nullptr) << "more than one diagnostic with '" << needle << "'";
      found = &x;
    }
  }
  return found;
}

}  // namespace reflex::rules::test_util

// Expects exactly one diagnostic containing `needle`, at (line, column).
#define EXPECT_DIAG_AT(diags, needle, want_line, want_col)                                  \
  do {                                                                                      \
    const ::reflex::rules::Diagnostics& dd_ = (diags);                                      \
    const ::reflex::rules::Diagnostic* dg_ = ::reflex::rules::test_util::Find(dd_, needle); \
    ASSERT_NE(dg_, nullptr) << "no diagnostic with '" << needle << "' in:\n"                \
                            << ::reflex::rules::test_util::All(dd_);                        \
    EXPECT_EQ(dg_->line, want_line) << dg_->ToString();                                     \
    EXPECT_EQ(dg_->column, want_col) << dg_->ToString();                                    \
  } while (0)

// The same, and in file `want_file`.
#define EXPECT_DIAG_IN(diags, needle, want_file, want_line, want_col)                       \
  do {                                                                                      \
    const ::reflex::rules::Diagnostics& dd_ = (diags);                                      \
    const ::reflex::rules::Diagnostic* dg_ = ::reflex::rules::test_util::Find(dd_, needle); \
    ASSERT_NE(dg_, nullptr) << "no diagnostic with '" << needle << "' in:\n"                \
                            << ::reflex::rules::test_util::All(dd_);                        \
    EXPECT_EQ(dg_->file, want_file) << dg_->ToString();                                     \
    EXPECT_EQ(dg_->line, want_line) << dg_->ToString();                                     \
    EXPECT_EQ(dg_->column, want_col) << dg_->ToString();                                    \
  } while (0)
