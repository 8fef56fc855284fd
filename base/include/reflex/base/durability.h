// Durability: how far a write that Reflex reported as done survives, chosen once for every
// store (`storage.durability`), and the file sync that the fsync level needs.
//
//   normal  SQLite in WAL mode with synchronous=NORMAL; files replaced by rename. A commit
//           survives the process crashing or being killed; the last commits before a power
//           loss or kernel crash may be lost (the database stays consistent).
//   fsync   SQLite synchronous=FULL (the WAL is synced at every commit) and written files
//           and their directories synced before the write returns: a reported write survives
//           power loss too, at the cost of a disk flush per commit (docs/operations.md).
//
// Ownership: plain values; SyncPath and WriteFileAtomic open and close their own descriptors.
// Thread-safety: plain values and stateless functions.
// Errors: SyncPath returns kUnavailable naming the path, WriteFileAtomic kInternal naming
// the file and the error; nothing throws.
//
//   if (d == Durability::kFsync) { Status s = SyncPath(tmp); if (s.ok()) s = SyncPath(dir); }
#pragma once

#include <string>
#include <string_view>

#include "reflex/base/enum_names.h"
#include "reflex/base/status.h"

namespace reflex::base {

enum class Durability { kNormal, kFsync };
inline constexpr EnumNames<Durability, 2> kDurabilityNames{
    {{{Durability::kNormal, "normal"}, {Durability::kFsync, "fsync"}}}};

// The SQLite pragma text for a level: "PRAGMA synchronous=NORMAL" or "...=FULL".
const char* SqliteSynchronousPragma(Durability d);

// fsync(2) of a file or a directory (opened read-only). kUnavailable naming the path and the
// error when it cannot be opened or synced.
Status SyncPath(const std::string& path);

// Writes `bytes` to a temporary file beside `path` (a dot file, which rule loaders skip),
// then renames it over `path`: a reader sees the old file or the new one, never a part. The
// parent directories are created. With kFsync the file is synced before the rename and its
// directory after it, so the new content survives power loss.
Status WriteFileAtomic(const std::string& path, std::string_view bytes, Durability durability);

}  // namespace reflex::base
