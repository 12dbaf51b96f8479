// A conductance-based population (Urbanczik & Senn 2014; Sacramento et al.
// 2018): its state is a somatic potential u, coupled by conductances to its
// compartments, whose potentials v_c are the compartments' summed input
// currents, and its rate is r = f(u):
//   tau du/dt = -g_lk u + g_B (v_B - u) + g_A (v_A - u) + g_som (v_som - u)
//             = G (u* - u),   G = g_lk + g_B + g_A + g_som,
//   u* = (g_B v_B + g_A v_A + g_som v_som) / G   (the steady state),
// so u relaxes to u* with the time constant tau / G. The engine runs it as
// laws::relax(u*, u, G / tau) (models/laws/rate.hpp), with u* summed from
// the compartments with the weights g_c / G.
#pragma once

#include "models/laws/host_device.hpp"

namespace counterstream::laws {

struct conductances {
    float leak = 0, basal = 0, apical = 0, soma = 0;
    COUNTERSTREAM_HD float total() const { return leak + basal + apical + soma; }
};

// u* = sum_c g_c v_c / G
COUNTERSTREAM_HD inline float steady_potential(const conductances& g, float basal, float apical, float soma) {
    return (g.basal * basal + g.apical * apical + g.soma * soma) / g.total();
}

// du/dt [1/ms] with inv_tau = 1 / tau: the right-hand side written out.
COUNTERSTREAM_HD inline float conductance_rhs(const conductances& g, float inv_tau, float u, float basal, float apical,
                                              float soma) {
    return inv_tau * (-g.leak * u + g.basal * (basal - u) + g.apical * (apical - u) + g.soma * (soma - u));
}

} // namespace counterstream::laws
