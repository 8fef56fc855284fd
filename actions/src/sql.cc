#include "sql.h"

#include <cassert>
#include <charconv>

namespace reflex::actions::sql {

engine::Result<std::unique_ptr<Database>> Open(const base::StoreConfig& store,
                                               const SqliteOptions& sqlite) {
  if (store.kind == base::StoreKind::kPostgresql) return OpenPostgres(store.dsn, sqlite.store);
  return OpenSqlite(sqlite);
}

const Rows::Value& Rows::At(int row, int col) const {
  assert(row >= 0 && row < size() && col >= 0 &&
         col < static_cast<int>(rows_[static_cast<size_t>(row)].size()));
  return rows_[static_cast<size_t>(row)][static_cast<size_t>(col)];
}

bool Rows::IsNull(int row, int col) const {
  return std::holds_alternative<std::monostate>(At(row, col));
}

int64_t Rows::Int(int row, int col) const {
  const Value& v = At(row, col);
  if (const auto* i = std::get_if<int64_t>(&v)) return *i;
  if (const auto* s = std::get_if<std::string>(&v)) {
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), n);
    return ec == std::errc() && end == s->data() + s->size() ? n : 0;
  }
  return 0;
}

std::string Rows::Text(int row, int col) const {
  const Value& v = At(row, col);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return std::string();
}

std::string ToSqlitePlaceholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  size_t i = 0;
  auto copy_until = [&](std::string_view end) {  // copies through the next `end` (or to the end)
    const size_t at = sql.find(end, i);
    const size_t stop = at == std::string_view::npos ? sql.size() : at + end.size();
    out.append(sql.substr(i, stop - i));
    i = stop;
  };
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {  // a doubled quote inside is two adjacent quoted runs
      out += c;
      ++i;
      copy_until(std::string_view(&c, 1));
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      copy_until("\n");
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      out += "/*";
      i += 2;
      copy_until("*/");
    } else if (c == '$' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      out += '?';
      ++i;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

}  // namespace reflex::actions::sql
