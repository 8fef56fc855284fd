#include "reflex/base/durability.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace reflex::base {

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

}  // namespace reflex::base
