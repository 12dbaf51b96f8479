// Test helpers: running the counterstream binary (alone or under mpirun)
// with its output captured, and fresh paths for the files it writes.
#pragma once

#include "protocols/sweep.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace counterstream::testing {

struct cli_result {
    int code = -1;
    std::string out, err;
};

inline std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Runs the counterstream binary; `tag` names its captured output (test cases may run at once).
inline cli_result run_cli(const std::string& tag, const std::string& args, const std::string& launcher = "") {
    const auto dir = temp_dir();
    const auto out = dir / (tag + ".out"), err = dir / (tag + ".err");
    const std::string cmd =
        launcher + std::string(COUNTERSTREAM_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
    const int status = std::system(cmd.c_str());
    cli_result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

// A path in the temporary folder where no file is.
inline std::string fresh_output(const std::string& name) {
    const auto path = temp_dir() / name;
    std::filesystem::remove(path);
    return path.string();
}

// Whether this build and machine can run a sweep under mpirun (says why not).
inline bool mpirun_available() {
    if (!sweep_built_with_mpi()) {
        MESSAGE("skipped: counterstream was built without MPI");
        return false;
    }
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
        MESSAGE("skipped: mpirun is not installed");
        return false;
    }
    return true;
}

// run_cli's launcher for two ranks. Containers often forbid the cross-memory
// attach Open MPI's shared-memory transport would use for large messages.
inline const std::string mpirun_two_ranks =
    "OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --allow-run-as-root --oversubscribe -n 2 ";

} // namespace counterstream::testing
