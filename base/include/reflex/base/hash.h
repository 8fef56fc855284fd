// Hashing that must give the same value across runs, processes and machines (event ids,
// fingerprints, shape hashes). Not for hash tables of untrusted keys. Thread-safe.
//
//   uint64_t h = Fnv1a64("NodeFilesystemFull");
//   h = Fnv1a64("critical", h);  // chained
#pragma once

#include <cstdint>
#include <string_view>

namespace reflex::base {

inline constexpr uint64_t kFnv1a64Seed = 14695981039346656037ULL;

// 64-bit FNV-1a; `seed` chains several inputs into one hash.
uint64_t Fnv1a64(std::string_view data, uint64_t seed = kFnv1a64Seed);

}  // namespace reflex::base
