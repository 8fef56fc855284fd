#include "reflex/base/status.h"

namespace reflex::base {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      name = "INVALID_ARGUMENT";
      break;
    case StatusCode::kNotFound:
      name = "NOT_FOUND";
      break;
    case StatusCode::kFailedPrecondition:
      name = "FAILED_PRECONDITION";
      break;
    case StatusCode::kResourceExhausted:
      name = "RESOURCE_EXHAUSTED";
      break;
    case StatusCode::kInternal:
      name = "INTERNAL";
      break;
    case StatusCode::kUnavailable:
      name = "UNAVAILABLE";
      break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace reflex::base
