// SHA-256 (FIPS 180-4), self-contained: used to fingerprint the circuit text
// stored in a run file so a reader can tell which circuit produced it.
#pragma once

#include <string>
#include <string_view>

namespace counterstream {

// The SHA-256 digest of `data` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

} // namespace counterstream
