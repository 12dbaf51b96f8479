// Continuous-time integration of a network's state with Boost.Odeint:
// euler and rk4 at a fixed dt, dopri5 with error control (abs/rel
// tolerances). The state is one flat Eigen::VectorXf; the right-hand side is
// network::derivative(), which reads the state through views. Integration
// runs over one segment at a time (a stimulus presentation, or part of one),
// so no step ever crosses a switch of the input or of plasticity. Sample
// times are no switches: they are observed between steps, never stepped to.
#pragma once

#include "sim/network.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace counterstream {

struct integrator_spec {
    std::string method = "rk4"; // euler | rk4 | dopri5
    double dt_ms = 1.0;         // fixed step (euler, rk4); first trial step (dopri5)
    double abs_tol = 1e-6;      // dopri5
    double rel_tol = 1e-6;      // dopri5
};

class integrator {
public:
    integrator(network& net, const integrator_spec& spec);
    ~integrator();

    // observe(t, state): the state at a sample time t [ms].
    using observer = std::function<void(double, const Eigen::VectorXf&)>;

    // Advances x from t0 to t1 [ms] with the network's current input;
    // learning switches plasticity on. Fixed-step methods take
    // ceil((t1 - t0) / dt) equal steps, so the segment ends exactly at t1;
    // dopri5 starts every segment afresh at its first trial step, so nothing
    // carries from one call to the next (a checkpoint between segments needs
    // only x). At each of `samples` (ascending, in (t0, t1] [ms]) observe
    // gets the state there: x itself at a step's end, else an interpolation
    // between the steps around it (sim/odeint_segment.hpp); the samples
    // never change the steps, so x ends bit for bit as without them. observe
    // may evaluate the network (settle it at that state); its views read x
    // again when integration goes on, and after advance() returns.
    void advance(Eigen::VectorXf& x, double t0, double t1, const std::int32_t* labels, bool learning,
                 std::span<const double> samples = {}, const observer& observe = {});

    std::int64_t steps() const { return steps_; }
    std::int64_t derivative_calls() const { return calls_; }

private:
    network& net_;
    integrator_spec spec_;
    struct room; // the steppers and their state-sized vectors, kept from segment to segment
    std::unique_ptr<room> room_;
    std::int64_t steps_ = 0, calls_ = 0;
};

} // namespace counterstream
