#include "sim/integrator.hpp"

#include "sim/backends/cpu/workers.hpp"
#include "sim/error.hpp"
#include "sim/odeint_segment.hpp"

#include <boost/numeric/odeint/external/eigen/eigen.hpp>

#include <algorithm>

namespace counterstream {

namespace {

// odeint's vector_space_algebra on Eigen vectors, each operation split
// into `parts` contiguous shares run on the engine's threads. Shares start
// at multiples of 16 floats (64 bytes, Eigen's alignment here), so every
// value takes the same SIMD lane and the same arithmetic as in one pass
// over the whole vector: the result is bitwise that of one thread.
struct parted_algebra {
    int parts = 1;

    template <class Op, class S1, class... S> void apply(Op op, S1& s1, S&... s) const {
        const Eigen::Index n = s1.size();
        if (parts <= 1) {
            op(s1, s...);
            return;
        }
        constexpr Eigen::Index lane = 16;
        const Eigen::Index share = (n / parts + lane) / lane * lane;
        cpu::run_parts(parts, [&](int i) {
            const Eigen::Index first = std::min(n, i * share), count = std::min(n, first + share) - first;
            if (count > 0)
                [&](auto&&... blocks) { op(blocks...); }(s1.segment(first, count), s.segment(first, count)...);
        });
    }

    template <class S1, class S2, class Op> void for_each2(S1& s1, S2& s2, Op op) const { apply(op, s1, s2); }
    template <class S1, class S2, class S3, class Op> void for_each3(S1& s1, S2& s2, S3& s3, Op op) const {
        apply(op, s1, s2, s3);
    }
    template <class S1, class S2, class S3, class S4, class Op>
    void for_each4(S1& s1, S2& s2, S3& s3, S4& s4, Op op) const {
        apply(op, s1, s2, s3, s4);
    }
    template <class S1, class S2, class S3, class S4, class S5, class Op>
    void for_each5(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, Op op) const {
        apply(op, s1, s2, s3, s4, s5);
    }
    template <class S1, class S2, class S3, class S4, class S5, class S6, class Op>
    void for_each6(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, S6& s6, Op op) const {
        apply(op, s1, s2, s3, s4, s5, s6);
    }
    template <class S1, class S2, class S3, class S4, class S5, class S6, class S7, class Op>
    void for_each7(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, S6& s6, S7& s7, Op op) const {
        apply(op, s1, s2, s3, s4, s5, s6, s7);
    }
    template <class S1, class S2, class S3, class S4, class S5, class S6, class S7, class S8, class Op>
    void for_each8(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, S6& s6, S7& s7, S8& s8, Op op) const {
        apply(op, s1, s2, s3, s4, s5, s6, s7, s8);
    }
    template <class S> static float norm_inf(const S& s) { return s.cwiseAbs().maxCoeff(); }
};

// Below this many values, an operation is not worth waking a thread for.
constexpr Eigen::Index parted_from = 1 << 15;

using scratch_type = segment_scratch<Eigen::VectorXf, parted_algebra>;

// The steppers of `spec` on `parts` threads.
void prepare(scratch_type& s, const integrator_spec& spec, int parts) {
    namespace odeint = boost::numeric::odeint;
    if (spec.method == "dopri5" && !s.dopri5_stepper)
        s.dopri5_stepper.emplace(
            odeint::make_controlled(float(spec.abs_tol), float(spec.rel_tol), scratch_type::dopri5()));
    s.euler_stepper.algebra().parts = parts;
    s.rk4_stepper.algebra().parts = parts;
    if (s.dopri5_stepper)
        s.dopri5_stepper->stepper().algebra().parts = parts;
}

} // namespace

struct integrator::room {
    scratch_type whole;   // steps of the whole state
    scratch_type rates;   // steps of the rates alone, while plasticity is off
    Eigen::VectorXf head; // the rates' share of the state, while it is stepped alone
};

integrator::integrator(network& net, const integrator_spec& spec)
    : net_(net), spec_(spec), room_(std::make_unique<room>()) {
    if (net.mode() != sim_mode::continuous)
        throw internal_error("integrator: the network is not in continuous mode");
    if (!(spec_.dt_ms > 0))
        throw internal_error("integrator: dt_ms must be positive");
}

integrator::~integrator() = default;

void integrator::advance(Eigen::VectorXf& x, double t0, double t1, const std::int32_t* labels, bool learning,
                         std::span<const double> samples, const observer& observe) {
    if (t1 <= t0)
        return;
    const auto parts_for = [&](Eigen::Index n) { return n >= parted_from ? net_.threads() : 1; };
    // Without plasticity the weights stand still (dS/dt = 0), so only the
    // rates are stepped: the state's first values, rounded up to 16 floats
    // so that each takes the SIMD lane it takes in the whole state (the
    // weights among them have derivative 0, as in the whole state).
    const Eigen::Index rates = net_.rate_state_size();
    const Eigen::Index head = std::min<Eigen::Index>(x.size(), (rates + 15) / 16 * 16);
    if (!learning && head < x.size()) {
        Eigen::VectorXf& r = room_->head;
        r = x.head(head);
        auto system = [&](const Eigen::VectorXf& s, Eigen::VectorXf& dsdt, double) {
            dsdt.resize(s.size());
            net_.rate_derivative(x.data(), s.data(), dsdt.data(), labels);
            dsdt.tail(head - rates).setZero();
            ++calls_;
        };
        // x's own rates are not read while r is stepped: a sample puts its
        // rates there (only the rates: its weights are x's, which the steps read).
        const auto at_sample = [&](double t, const Eigen::VectorXf& state) {
            if (observe) {
                x.head(rates) = state.head(rates);
                observe(t, std::as_const(x));
            }
            net_.bind_state(x.data());
        };
        prepare(room_->rates, spec_, parts_for(head));
        steps_ += integrate_segment<Eigen::VectorXf, parted_algebra>(spec_, system, r, t0, t1, samples, at_sample,
                                                                     room_->rates);
        x.head(head) = r;
        net_.bind_state(x.data());
        return;
    }
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
    prepare(room_->whole, spec_, parts_for(x.size()));
    steps_ +=
        integrate_segment<Eigen::VectorXf, parted_algebra>(spec_, system, x, t0, t1, samples, at_sample, room_->whole);
    net_.bind_state(x.data());
}

} // namespace counterstream
