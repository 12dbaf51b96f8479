// One segment of integration with Boost.Odeint, for any state type and
// algebra: the CPU integrator's Eigen vectors (vector_space_algebra) and the
// CUDA backend's device buffers (flat_algebra) step through the same code,
// so euler, rk4 and dopri5 mean the same on both backends.
#pragma once

#include "sim/error.hpp"
#include "sim/integrator.hpp"

#include <boost/numeric/odeint.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace counterstream {

// Advances x from t0 to t1 [ms] with system(x, dxdt, t): euler and rk4 take
// ceil((t1 - t0) / dt) equal steps, so the segment ends exactly at t1;
// dopri5 adapts its steps to the tolerances, starting afresh at dt (or the
// segment's length, if shorter). Returns the steps taken.
template <class State, class Algebra, class System>
std::int64_t integrate_segment(const integrator_spec& spec, System& system, State& x, double t0, double t1) {
    namespace odeint = boost::numeric::odeint;
    using operations = odeint::default_operations;
    const auto fixed = [&](auto stepper) {
        const auto n = std::int64_t(std::ceil((t1 - t0) / spec.dt_ms - 1e-9));
        const double h = (t1 - t0) / double(std::max<std::int64_t>(1, n));
        for (std::int64_t i = 0; i < n; ++i) stepper.do_step(system, x, t0 + double(i) * h, h);
        return n;
    };
    // Value float (the state's precision), time double (ms).
    if (spec.method == "euler") return fixed(odeint::euler<State, float, State, double, Algebra, operations>());
    if (spec.method == "rk4") return fixed(odeint::runge_kutta4<State, float, State, double, Algebra, operations>());
    if (spec.method == "dopri5") {
        using dopri5 = odeint::runge_kutta_dopri5<State, float, State, double, Algebra, operations>;
        auto stepper = odeint::make_controlled(float(spec.abs_tol), float(spec.rel_tol), dopri5());
        return std::int64_t(odeint::integrate_adaptive(stepper, system, x, t0, t1, std::min(spec.dt_ms, t1 - t0)));
    }
    throw internal_error("integrator: unknown method '" + spec.method + "'");
}

} // namespace counterstream
