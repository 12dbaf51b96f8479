// One segment of integration with Boost.Odeint, for any state type and
// algebra: the CPU integrator's Eigen vectors (vector_space_algebra) and the
// CUDA backend's device buffers (flat_algebra) step through the same code,
// so euler, rk4 and dopri5 mean the same on both backends, and so do the
// states they give at sample times.
#pragma once

#include "sim/error.hpp"
#include "sim/integrator.hpp"

#include <boost/numeric/odeint.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>

namespace counterstream {

namespace segment_detail {

// A sample time this close to a step's end [ms] is at that end.
constexpr double same_time_ms = 1e-9;

template <class State> void size_like(State& s, const State& like) {
    if (!boost::numeric::odeint::same_size(s, like))
        boost::numeric::odeint::resize(s, like);
}

} // namespace segment_detail

// What integrate_segment keeps from one segment to the next, owned by its
// caller: the steppers, whose stage vectors are the state's size (made
// afresh for every segment, they cost a page fault for every 4 KiB they
// touch, twice per presentation), and room for observing sample times.
// Everything is sized on first use, never allocated per step.
template <class State, class Algebra> struct segment_scratch {
    using operations = boost::numeric::odeint::default_operations;
    // Value float (the state's precision), time double (ms).
    using euler = boost::numeric::odeint::euler<State, float, State, double, Algebra, operations>;
    using rk4 = boost::numeric::odeint::runge_kutta4<State, float, State, double, Algebra, operations>;
    using dopri5 = boost::numeric::odeint::runge_kutta_dopri5<State, float, State, double, Algebra, operations>;
    using controlled_dopri5 = typename boost::numeric::odeint::result_of::make_controlled<dopri5>::type;

    euler euler_stepper;
    rk4 rk4_stepper;
    std::optional<controlled_dopri5> dopri5_stepper; // made with the first segment's tolerances
    State at;                                        // the state at a sample time between steps
    State start;                                     // the state at the start of the step that brackets a sample
    State d0, d1;                                    // dx/dt at a step's ends (dopri5: d0 is its FSAL derivative)
};

// Advances x from t0 to t1 [ms] with system(x, dxdt, t), and calls
// observe(t, state) with the state at each of `samples` (ascending, in
// (t0, t1] [ms]). Samples are observed, never stepped to: the steps are the
// same with or without them, so x ends bit for bit the same either way.
//
// euler and rk4 take ceil((t1 - t0) / dt) equal steps, so the segment ends
// exactly at t1; dopri5 adapts its steps to the tolerances (odeint's
// controlled stepper, stepped as integrate_adaptive steps it), starting
// afresh at dt (or the segment's length, if shorter).
//
// A sample within 1e-9 ms of a step's end is observed at that step's state
// (observe gets x itself); one between two steps' ends at an interpolation
// between them (observe gets scratch.at, valid until it returns):
//   euler   linear between the two states: the method's own continuous
//           extension, first order like the method, no extra evaluation;
//   rk4     cubic Hermite from the states and derivatives at both ends
//           (third order); the derivative at the end is the next step's
//           first stage, so it costs an extra evaluation only when the step
//           is the segment's last;
//   dopri5  the method's own dense output (runge_kutta_dopri5::calc_state,
//           fourth order) from the accepted step's stages.
// observe may evaluate the system elsewhere (it settles the network at the
// state it gets) but must not change x. Returns the steps taken.
template <class State, class Algebra, class System, class Observer>
std::int64_t integrate_segment(const integrator_spec& spec, System& system, State& x, double t0, double t1,
                               std::span<const double> samples, Observer&& observe,
                               segment_scratch<State, Algebra>& scratch) {
    namespace odeint = boost::numeric::odeint;
    using operations = odeint::default_operations;
    using segment_detail::same_time_ms;
    using segment_detail::size_like;
    std::size_t next = 0; // the first sample not observed yet
    // Whether a sample lies strictly inside a step ending at t_end, so that its start must be kept.
    const auto inside = [&](double t_end) { return next < samples.size() && samples[next] < t_end - same_time_ms; };
    // The samples up to t_end, where x is now; interpolate(t, at) gives those before it.
    const auto observe_to = [&](double t_end, const auto& interpolate) {
        for (; next < samples.size() && samples[next] <= t_end + same_time_ms; ++next) {
            const double t = samples[next];
            if (std::abs(t - t_end) < same_time_ms) {
                observe(t, std::as_const(x));
            } else {
                size_like(scratch.at, x);
                interpolate(t, scratch.at);
                observe(t, std::as_const(scratch.at));
            }
        }
    };
    const auto finish = [&](std::int64_t steps) {
        observe_to(t1, [&](double, State& at) { at = x; }); // only a segment too short to step gets here
        if (next < samples.size())
            throw internal_error("integrate_segment: a sample time after the segment's end");
        return steps;
    };

    const auto fixed = [&](auto& stepper, bool hermite) {
        const auto n = std::int64_t(std::ceil((t1 - t0) / spec.dt_ms - 1e-9));
        const double h = (t1 - t0) / double(std::max<std::int64_t>(1, n));
        State* d_start = &scratch.d0; // dx/dt at x, when `carried`
        State* d_end = &scratch.d1;
        bool carried = false;
        for (std::int64_t i = 0; i < n; ++i) {
            const double t = t0 + double(i) * h;
            const double t_end = i + 1 == n ? t1 : t0 + double(i + 1) * h;
            const bool keep = inside(t_end);
            if (keep)
                scratch.start = x;
            if (keep && hermite && !carried) {
                size_like(*d_start, x);
                system(x, *d_start, t);
                carried = true;
            }
            // The same arithmetic whether the first stage comes from the stepper or from d_start.
            if (carried)
                stepper.do_step(system, x, *d_start, t, h);
            else
                stepper.do_step(system, x, t, h);
            carried = false;
            if (keep && hermite) {
                size_like(*d_end, x);
                system(x, *d_end, t_end);
            }
            observe_to(t_end, [&](double s, State& at) {
                const double u = (s - t) / h;
                if (hermite) {
                    const double h00 = (1 + 2 * u) * (1 - u) * (1 - u), h10 = u * (1 - u) * (1 - u);
                    const double h01 = u * u * (3 - 2 * u), h11 = u * u * (u - 1);
                    stepper.algebra().for_each5(at, scratch.start, *d_start, x, *d_end,
                                                operations::scale_sum4<float, float, float, float>(
                                                    float(h00), float(h * h10), float(h01), float(h * h11)));
                } else {
                    stepper.algebra().for_each3(at, scratch.start, x,
                                                operations::scale_sum2<float, float>(float(1 - u), float(u)));
                }
            });
            if (keep && hermite) {
                std::swap(d_start, d_end);
                carried = true;
            }
        }
        return finish(n);
    };
    if (spec.method == "euler")
        return fixed(scratch.euler_stepper, false);
    if (spec.method == "rk4")
        return fixed(scratch.rk4_stepper, true);
    if (spec.method == "dopri5") {
        using dopri5 = typename segment_scratch<State, Algebra>::dopri5;
        if (!scratch.dopri5_stepper)
            scratch.dopri5_stepper.emplace(odeint::make_controlled(float(spec.abs_tol), float(spec.rel_tol), dopri5()));
        auto& stepper = *scratch.dopri5_stepper;
        // integrate_adaptive's loop, with the FSAL derivative held here, so
        // that a step's ends are at hand for its dense output.
        State& dxdt = scratch.d0;
        size_like(dxdt, x);
        double t = t0, dt = std::min(spec.dt_ms, t1 - t0);
        system(x, dxdt, t);
        odeint::failed_step_checker fail_checker;
        std::int64_t steps = 0;
        while (odeint::detail::less_with_sign(t, t1, dt)) {
            if (odeint::detail::less_with_sign(t1, t + dt, dt))
                dt = t1 - t;
            const double t_start = t;
            // A failed try only shortens the step: what it brackets is inside [t, t + dt].
            if (inside(t + dt)) {
                scratch.start = x;
                scratch.d1 = dxdt;
            }
            odeint::controlled_step_result result;
            do {
                result = stepper.try_step(system, x, dxdt, t, dt);
                fail_checker();
            } while (result == odeint::fail);
            fail_checker.reset();
            ++steps;
            observe_to(t, [&](double s, State& at) {
                stepper.stepper().calc_state(s, at, scratch.start, scratch.d1, t_start, x, dxdt, t);
            });
        }
        return finish(steps);
    }
    throw internal_error("integrator: unknown method '" + spec.method + "'");
}

} // namespace counterstream
