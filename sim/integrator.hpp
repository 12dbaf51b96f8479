// Continuous-time integration of a network's state with Boost.Odeint:
// euler and rk4 at a fixed dt, dopri5 with error control (abs/rel
// tolerances). The state is one flat Eigen::VectorXf; the right-hand side is
// network::derivative(), which reads the state through views. Integration
// runs over one segment at a time (a stimulus presentation, or part of one),
// so no step ever crosses a switch of the input or of plasticity.
#pragma once

#include "sim/network.hpp"

#include <Eigen/Core>

#include <cstdint>
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

    // Advances x from t0 to t1 [ms] with the network's current input;
    // learning switches plasticity on. Fixed-step methods take
    // ceil((t1 - t0) / dt) equal steps, so the segment ends exactly at t1;
    // dopri5 starts every segment afresh at its first trial step, so nothing
    // carries from one call to the next (a checkpoint between segments needs
    // only x). Afterwards the network's views read x.
    void advance(Eigen::VectorXf& x, double t0, double t1, const std::int32_t* labels, bool learning);

    std::int64_t steps() const { return steps_; }
    std::int64_t derivative_calls() const { return calls_; }

private:
    network& net_;
    integrator_spec spec_;
    std::int64_t steps_ = 0, calls_ = 0;
};

} // namespace counterstream
