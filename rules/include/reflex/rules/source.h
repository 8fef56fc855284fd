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

// Joins two path parts with one '/'.
std::string JoinPath(const std::string& a, const std::string& b);

}  // namespace reflex::rules
