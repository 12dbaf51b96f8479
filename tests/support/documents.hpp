// Test helper: a circuit written as YAML text, loaded as a run document with
// a bare protocol of the given mode on the teacher dataset.
#pragma once

#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "tests/support/yaml_files.hpp"

#include <string>

namespace counterstream::testing {

inline run_document load_circuit(const std::string& name, const std::string& circuit_text, const std::string& mode) {
    return load_run(
        write_file(name + ".yaml", circuit_text + "protocol: {mode: " + mode + ", dataset: {name: teacher}}\n"), {},
        models::standard_library());
}

} // namespace counterstream::testing
