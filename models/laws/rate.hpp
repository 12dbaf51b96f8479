// A population's rate law and its continuous-time relaxation (DESIGN's model):
//   r = f(I_b) g(I_g) + alpha I_a       (g = 1 without a gate; alpha = 0 without apical drive)
//   tau dr/dt = -r + (rate law)         (populations with tau > 0) [ms]
#pragma once

#include "models/laws/activations.hpp"

namespace counterstream::laws {

// The rate law at element i; gate and apical null when they do not drive.
template <class F, class G>
COUNTERSTREAM_HD float rate_at(long long i, const float* basal, const float* gate, float alpha, const float* apical) {
    float r = F::apply(basal[i]);
    if (gate)
        r *= G::apply(gate[i]);
    if (apical)
        r += alpha * apical[i];
    return r;
}

// dr/dt [1/ms] with inv_tau = 1 / tau.
COUNTERSTREAM_HD inline float relax(float drive, float rate, float inv_tau) { return (drive - rate) * inv_tau; }

} // namespace counterstream::laws
