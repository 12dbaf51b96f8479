#include "sim/integrator.hpp"

#include "sim/error.hpp"

#include <boost/numeric/odeint.hpp>
#include <boost/numeric/odeint/external/eigen/eigen.hpp>

#include <cmath>

namespace counterstream {

namespace odeint = boost::numeric::odeint;

namespace {

using state = Eigen::VectorXf;
// Value float (the state's precision), time double (ms).
using euler_stepper = odeint::euler<state, float, state, double, odeint::vector_space_algebra>;
using rk4_stepper = odeint::runge_kutta4<state, float, state, double, odeint::vector_space_algebra>;
using dopri5_stepper = odeint::runge_kutta_dopri5<state, float, state, double, odeint::vector_space_algebra>;

template <class Stepper, class System>
std::int64_t fixed_steps(Stepper& stepper, System& system, state& x, double t0, double t1, double dt) {
    const auto n = std::int64_t(std::ceil((t1 - t0) / dt - 1e-9));
    const double h = (t1 - t0) / double(std::max<std::int64_t>(1, n));
    for (std::int64_t i = 0; i < n; ++i) stepper.do_step(system, x, t0 + double(i) * h, h);
    return n;
}

} // namespace

integrator::integrator(network& net, const integrator_spec& spec) : net_(net), spec_(spec) {
    if (net.mode() != sim_mode::continuous) throw internal_error("integrator: the network is not in continuous mode");
    if (!(spec_.dt_ms > 0)) throw internal_error("integrator: dt_ms must be positive");
}

void integrator::advance(state& x, double t0, double t1, const std::int32_t* labels, bool learning) {
    if (t1 <= t0) return;
    auto system = [&](const state& s, state& dsdt, double) {
        dsdt.resize(s.size());
        net_.derivative(s.data(), dsdt.data(), labels, learning);
        ++calls_;
    };
    if (spec_.method == "euler") {
        euler_stepper stepper;
        steps_ += fixed_steps(stepper, system, x, t0, t1, spec_.dt_ms);
    } else if (spec_.method == "rk4") {
        rk4_stepper stepper;
        steps_ += fixed_steps(stepper, system, x, t0, t1, spec_.dt_ms);
    } else if (spec_.method == "dopri5") {
        auto stepper = odeint::make_controlled(spec_.abs_tol, spec_.rel_tol, dopri5_stepper());
        steps_ += std::int64_t(
            odeint::integrate_adaptive(stepper, system, x, t0, t1, std::min(spec_.dt_ms, t1 - t0)));
    } else {
        throw internal_error("integrator: unknown method '" + spec_.method + "'");
    }
    net_.bind_state(x.data());
}

} // namespace counterstream
