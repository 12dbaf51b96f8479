#include "sim/integrator.hpp"

#include "sim/error.hpp"
#include "sim/odeint_segment.hpp"

#include <boost/numeric/odeint/external/eigen/eigen.hpp>

namespace counterstream {

integrator::integrator(network& net, const integrator_spec& spec) : net_(net), spec_(spec) {
    if (net.mode() != sim_mode::continuous) throw internal_error("integrator: the network is not in continuous mode");
    if (!(spec_.dt_ms > 0)) throw internal_error("integrator: dt_ms must be positive");
}

void integrator::advance(Eigen::VectorXf& x, double t0, double t1, const std::int32_t* labels, bool learning,
                         std::span<const double> samples, const observer& observe) {
    if (t1 <= t0) return;
    auto system = [&](const Eigen::VectorXf& s, Eigen::VectorXf& dsdt, double) {
        dsdt.resize(s.size());
        net_.derivative(s.data(), dsdt.data(), labels, learning);
        ++calls_;
    };
    const auto at_sample = [&](double t, const Eigen::VectorXf& state) {
        if (observe)
            observe(t, state);
        net_.bind_state(x.data());
    };
    steps_ += integrate_segment<Eigen::VectorXf, boost::numeric::odeint::vector_space_algebra>(
        spec_, system, x, t0, t1, samples, at_sample, scratch_);
    net_.bind_state(x.data());
}

} // namespace counterstream
