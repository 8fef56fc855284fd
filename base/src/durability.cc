#include "reflex/base/durability.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace reflex::base {

namespace fs = std::filesystem;

const char* SqliteSynchronousPragma(Durability d) {
  return d == Durability::kFsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
}

Status SyncPath(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unavailable("cannot open " + path + " to sync it: " + std::strerror(errno));
  int rc;
  do {
    rc = ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Unavailable("cannot sync " + path + ": " + std::strerror(err));
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path_text, std::string_view bytes,
                       Durability durability) {
  const fs::path path(path_text);
  const bool sync = durability == Durability::kFsync;
  static std::atomic<uint64_t> counter{0};
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return Internal(path.parent_path().string() + ": " + ec.message());
  const fs::path tmp = path.parent_path() /
                       ("." + path.filename().string() + ".reflex-tmp-" +
                        std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Internal(tmp.string() + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      fs::remove(tmp, ec);
      return Internal(tmp.string() + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (sync) {
    int rc;
    do {
      rc = ::fsync(fd);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      fs::remove(tmp, ec);
      return Internal(tmp.string() + ": fsync: " + err);
    }
  }
  if (::close(fd) != 0) {
    const std::string err = std::strerror(errno);
    fs::remove(tmp, ec);
    return Internal(tmp.string() + ": " + err);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return Internal(path.string() + ": " + ec.message());
  }
  if (sync) return SyncPath(path.parent_path().string());
  return Status::Ok();
}

}  // namespace reflex::base
