#include "reflex/base/status.h"

namespace reflex::base {

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(kStatusCodeNames.Name(code_)) + ": " + message_;
}

}  // namespace reflex::base
