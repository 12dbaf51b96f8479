// The CUDA backend's entry point. The backend is a plugin,
// libcounterstream_cuda.so, that sim/runner.cpp loads on first use and asks
// for this table; it is built with the executables, from the same sources.
#pragma once

#include "sim/integrator.hpp"
#include "sim/network.hpp"

#include <memory>
#include <string>
#include <vector>

namespace counterstream {
class runner;
}

namespace counterstream::cuda {

struct plugin_api {
    // Whether a device is there to run on; when not, `why` gets one line.
    bool (*usable)(std::string* why);
    // The device's name and compute capability ("NVIDIA H200 (sm_90)").
    std::string (*description)();
    // The runner of `hosts` (sim/runner.hpp); continuous: their integrator.
    std::unique_ptr<runner> (*make_runner)(std::vector<network*> hosts, const integrator_spec* continuous);
};

} // namespace counterstream::cuda

extern "C" const counterstream::cuda::plugin_api* counterstream_cuda_plugin();
