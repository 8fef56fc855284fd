// What a statement takes and what a unique key refuses, shared by the SQL layer over both
// databases (sql.h) and the libpq layer under it (pg_util.h), so that a value passed to
// either is the same type (internal to reflex::actions).
//
// A Param is an integer, text or NULL, and keeps its text form: PostgreSQL receives every
// parameter as text (the server infers the type, `$1::bigint` where it cannot), SQLite binds
// integers as integers. A bool is the integer 1 or 0, which both databases read as a boolean
// (`$1::boolean` on PostgreSQL) or an integer.
//
// Thread-safety: values. Errors: IsUniqueViolation tells the one status the layers give a
// unique or primary-key violation, kAlreadyExists, apart from every other failure.
//
//   db.Exec("INSERT INTO t (n, s, b, z) VALUES ($1, $2, $3, $4)", 7, "x", true, sql::kNull);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "reflex/engine/status.h"

namespace reflex::actions::sql {

// True when `s` came from a store's database layer and reports a unique or primary-key
// violation (SQLite's constraint, PostgreSQL's SQLSTATE 23505).
inline bool IsUniqueViolation(const engine::Status& s) {
  return s.code() == engine::StatusCode::kAlreadyExists;
}

// SQL NULL as a statement parameter: db.Exec("... $1", sql::kNull).
struct Null {};
inline constexpr Null kNull{};

// One statement parameter. Holds a copy of the value.
class Param {
 public:
  // NOLINTBEGIN(google-explicit-constructor): parameters convert where they are passed.
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, char>) Param(T v)
      : kind_(Kind::kInteger), int_(static_cast<int64_t>(v)), text_(std::to_string(int_)) {}
  Param(std::string_view v) : kind_(Kind::kString), text_(v) {}
  Param(const char* v) : kind_(Kind::kString), text_(v) {}
  Param(const std::string& v) : kind_(Kind::kString), text_(v) {}
  Param(Null) {}
  // NOLINTEND(google-explicit-constructor)

  bool is_null() const { return kind_ == Kind::kNone; }
  bool is_int() const { return kind_ == Kind::kInteger; }
  int64_t int_value() const { return int_; }  // 0 unless is_int()
  // The text form: integers in decimal, "" for NULL.
  const std::string& text() const { return text_; }

 private:
  enum class Kind : uint8_t { kNone, kInteger, kString };
  Kind kind_ = Kind::kNone;
  int64_t int_ = 0;
  std::string text_;
};

}  // namespace reflex::actions::sql
