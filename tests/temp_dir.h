// TempDir: a fresh directory under $TMPDIR (default /tmp) for one test, removed with all it
// holds when the object goes. The one copy every test binary uses (tests/ is on their
// include path).
//
// Thread-safety: const methods may be called from any thread; files written concurrently
// must have distinct names. Errors: a directory that cannot be made, or a file that cannot be
// written, throws std::runtime_error (the test fails with the reason).
//
//   reflex::test::TempDir dir;
//   std::string rules = dir.Write("rules/tables/disk.csv", "...");
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace reflex::test {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/reflex-test-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name (nothing is created).
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes `contents` to path()/relative, creating parent directories; returns the full path.
  std::string Write(const std::string& relative, const std::string& contents) const {
    const std::filesystem::path p = std::filesystem::path(path_) / relative;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << contents;
    if (!f) throw std::runtime_error("cannot write " + p.string());
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace reflex::test
