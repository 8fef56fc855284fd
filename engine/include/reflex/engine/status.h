// Status and Result<T> as the engine's API spells them: the types live in reflex::base
// (base/status.h); this header names them in reflex::engine so engine, rules, connectors and
// actions code keeps writing `engine::Status`.
#pragma once

#include "reflex/base/status.h"

namespace reflex::engine {

using base::AlreadyExists;
using base::FailedPrecondition;
using base::Internal;
using base::InvalidArgument;
using base::NotFound;
using base::ResourceExhausted;
using base::Result;
using base::Status;
using base::StatusCode;
using base::StatusOr;
using base::Unavailable;

}  // namespace reflex::engine
