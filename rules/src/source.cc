#include "reflex/rules/source.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace reflex::rules {

namespace fs = std::filesystem;

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

engine::Result<std::string> DiskSource::Read(const std::string& path) const {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return engine::NotFound(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return engine::NotFound(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> DiskSource::List(const std::string& dir) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool DiskSource::IsDirectory(const std::string& path) const {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

bool DiskSource::Exists(const std::string& path) const {
  std::error_code ec;
  return fs::exists(path, ec);
}

engine::Result<std::string> MemorySource::Read(const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return engine::NotFound(path + ": no such file");
  return it->second;
}

std::vector<std::string> MemorySource::List(const std::string& dir) const {
  std::vector<std::string> names;
  const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  for (const auto& [path, _] : files_) {
    if (path.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rest = path.substr(prefix.size());
    if (rest.find('/') == std::string::npos) names.push_back(rest);
  }
  return names;
}

bool MemorySource::IsDirectory(const std::string& path) const {
  const std::string prefix = path.empty() || path.back() == '/' ? path : path + "/";
  auto it = files_.lower_bound(prefix);
  return it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

bool MemorySource::Exists(const std::string& path) const {
  return files_.count(path) > 0 || IsDirectory(path);
}

engine::Result<std::string> OverlaySource::Read(const std::string& path) const {
  auto it = files_.find(path);
  return it != files_.end() ? engine::Result<std::string>(it->second) : base_.Read(path);
}

std::vector<std::string> OverlaySource::List(const std::string& dir) const {
  std::vector<std::string> names = base_.List(dir);
  const std::string prefix = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  for (const auto& [path, _] : files_) {
    if (path.compare(0, prefix.size(), prefix) != 0) continue;
    std::string rest = path.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos) names.push_back(std::move(rest));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

bool OverlaySource::IsDirectory(const std::string& path) const {
  if (base_.IsDirectory(path)) return true;
  const std::string prefix = path.empty() || path.back() == '/' ? path : path + "/";
  auto it = files_.lower_bound(prefix);
  return it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

bool OverlaySource::Exists(const std::string& path) const {
  return files_.count(path) > 0 || base_.Exists(path) || IsDirectory(path);
}

std::string FileStem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = base.find('.');
  return dot == std::string::npos ? base : base.substr(0, dot);
}

}  // namespace reflex::rules
