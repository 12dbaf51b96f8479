// Two kinds of failure: a user's mistake (bad YAML, dataset, path, parameter),
// reported as one line per problem without a stack trace, and an internal bug.
#pragma once

#include "sim/join.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace counterstream {

// A mistake the user can fix. Each entry of lines() is one complete message,
// e.g. "circuits/sal.yaml:12:5: synapses.W2.from: no population 'h9' (...)".
class input_error : public std::runtime_error {
public:
    explicit input_error(std::string line)
        : std::runtime_error(line), lines_{std::move(line)} {}
    explicit input_error(std::vector<std::string> lines)
        : std::runtime_error(join(lines, "\n")), lines_(std::move(lines)) {}

    const std::vector<std::string>& lines() const { return lines_; }

private:
    std::vector<std::string> lines_;
};

// A broken invariant inside counterstream: a bug, not a user mistake.
class internal_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

} // namespace counterstream
