// FileSource: how the rule loader reads files, so tests can serve rules from memory.
//
// Thread-safety: implementations must allow concurrent const calls.
//
//   DiskSource disk;
//   Result<std::string> text = disk.Read("rules/examples/tables/disk.csv");
#pragma once

#include <map>
#include <string>
#include <vector>

#include "reflex/engine/status.h"

namespace reflex::rules {

class FileSource {
 public:
  virtual ~FileSource() = default;
  virtual engine::Result<std::string> Read(const std::string& path) const = 0;
  // Regular files directly inside `dir` (names only, sorted); empty when `dir` is absent.
  virtual std::vector<std::string> List(const std::string& dir) const = 0;
  virtual bool IsDirectory(const std::string& path) const = 0;
  virtual bool Exists(const std::string& path) const = 0;
};

class DiskSource final : public FileSource {
 public:
  engine::Result<std::string> Read(const std::string& path) const override;
  std::vector<std::string> List(const std::string& dir) const override;
  bool IsDirectory(const std::string& path) const override;
  bool Exists(const std::string& path) const override;
};

// Files kept in a map from path to contents; directories are path prefixes.
class MemorySource final : public FileSource {
 public:
  void Put(std::string path, std::string contents) {
    files_[std::move(path)] = std::move(contents);
  }
  void Remove(const std::string& path) { files_.erase(path); }
  engine::Result<std::string> Read(const std::string& path) const override;
  std::vector<std::string> List(const std::string& dir) const override;
  bool IsDirectory(const std::string& path) const override;
  bool Exists(const std::string& path) const override;

 private:
  std::map<std::string, std::string> files_;
};

// A source that reads through to `base` except for the files put into it, which it adds or
// replaces: what a rules directory would be after a change, loaded before the change is
// written (the console's teach check, POST /api/v1/rules/validate). `base` must outlive it.
class OverlaySource final : public FileSource {
 public:
  explicit OverlaySource(const FileSource& base) : base_(base) {}
  void Put(std::string path, std::string contents) {
    files_[std::move(path)] = std::move(contents);
  }
  engine::Result<std::string> Read(const std::string& path) const override;
  std::vector<std::string> List(const std::string& dir) const override;
  bool IsDirectory(const std::string& path) const override;
  bool Exists(const std::string& path) const override;

 private:
  const FileSource& base_;
  std::map<std::string, std::string> files_;
};

// The name of a table or cases file up to its first dot, without the directory:
// "tables/disk.cases.csv" -> "disk", "tables/disk.csv" -> "disk". Tables are named by it,
// and cases files belong to the table of the same stem.
std::string FileStem(const std::string& path);

// Joins two path parts with one '/'.
std::string JoinPath(const std::string& a, const std::string& b);

}  // namespace reflex::rules
