// K instances of one circuit run as one problem (a time-constant study): each
// instance has its own network (its own parameters: taus, gamma, seeds), its
// own ODE state and integrator, and they advance in lockstep. On the CPU the
// instances are spread over the cores, each instance's GEMMs single-threaded,
// so no thread waits inside an instance's step; an instance computes exactly
// what it computes alone with one thread (bitwise).
#pragma once

#include "sim/integrator.hpp"
#include "sim/network.hpp"

#include <functional>
#include <memory>
#include <vector>

namespace counterstream {

class ensemble {
public:
    struct instance {
        circuit_spec circuit;
        std::uint64_t seed = 1;
    };
    // Continuous mode: every instance shows `trials` samples per presentation
    // and integrates with `method`.
    ensemble(const std::vector<instance>& instances, const library& lib, int trials, const integrator_spec& method);

    int size() const { return int(nets_.size()); }
    network& net(int k) { return *nets_[k]; }
    // Instance k's ODE state (the network's views read it) and its integrator.
    Eigen::VectorXf& state(int k) { return states_[k]; }
    integrator& integ(int k) { return *integrators_[k]; }
    const integrator_spec& method() const { return method_; }
    // The input every instance sees (instances may also get their own through net(k).input()).
    void set_input(const matrix& x);
    // One presentation: [0, learn_after) without plasticity, then to present_ms with it.
    void present(double present_ms, double learn_after_ms, const std::int32_t* labels);
    // Calls f(k) once for every instance, the calls spread over the threads
    // (each on one thread). An exception from f is rethrown once all calls
    // are done (the lowest k's, if several throw).
    void for_each(const std::function<void(int)>& f);
    // Threads the instances are spread over (default: OpenMP's maximum).
    void set_threads(int n) { threads_ = std::max(1, n); }
    int threads() const { return threads_; }

private:
    std::vector<std::unique_ptr<network>> nets_;
    std::vector<std::unique_ptr<integrator>> integrators_;
    std::vector<Eigen::VectorXf> states_;
    integrator_spec method_;
    int threads_ = 1;
};

} // namespace counterstream
