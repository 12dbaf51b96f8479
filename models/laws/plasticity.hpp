// The elementwise parts of a rule's step (the GEMM POST PRE^T is the backend's):
//   regularizer R(S):  l2: S (weight decay, the paper's choice), l1: sign(S), none: 0,
//                      oja: mean(y_i^2) S_ij, y = S x the group's own current
//                      (Oja 1982: dS = eta (y x^T - y^2 S) for a Hebbian rule): the
//                      decay grows with the synapses' own strength, so a pair of
//                      rules that feed each other has a bounded fixed point
//                      activity: (mean(post_i^2) + mean(pre_j^2)) S_ij, post and pre the
//                      two populations' rates: the decay grows with the activity of the
//                      two neurons a synapse joins, alike for the two synapses that join
//                      them in opposite directions (Lemma 1's V^l_ij and Vbar^{l-1}_ji)
//   saturation (a rule's `saturation: s`), per synapse, of the Hebbian term:
//     H = mean(POST PRE^T)  ->  s tanh(H / s)   (s = 0: H itself)
//     linear where |H| << s, never above s: a pair of rules that feed each
//     other grows at most linearly, and L2 decay then bounds every synapse by
//     s / gamma. Elementwise, so the saturated drives of V^l_ij and
//     Vbar^{l-1}_ji stay equal, and Lemma 1's mismatch still shrinks by
//     1 - eta gamma per step (the two synapses decay alike)
//   Adam (Kingma & Ba 2015), per synapse, on the update U = mean(POST PRE^T) - gamma R(S):
//     m <- beta1 m + (1 - beta1) U,  v <- beta2 v + (1 - beta2) U^2,
//     S <- S + eta (m / c1) / (sqrt(v / c2) + epsilon),  c_i = 1 - beta_i^t
#pragma once

#include "models/laws/host_device.hpp"

namespace counterstream::laws {

enum class decay_law : int { l2, l1, none, oja, activity };

inline constexpr const char* decay_names[] = {"l2", "l1", "none", "oja", "activity"};

template <class T> COUNTERSTREAM_HD T sign(T x) { return T((x > T(0)) - (x < T(0))); }

template <class T> COUNTERSTREAM_HD T regularizer(decay_law d, T w) {
    switch (d) {
    case decay_law::l2:
        return w;
    case decay_law::l1:
        return sign(w);
    case decay_law::none:
        break;
    case decay_law::oja:      // S, times the row's mean square current (oja_row)
    case decay_law::activity: // S, times the two neurons' mean square rates
        return w;
    }
    return T(0);
}

// The saturated Hebbian term s tanh(h / s); h itself when s is 0.
template <class T> COUNTERSTREAM_HD T saturate(T h, T s) { return s > T(0) ? s * math::tanh(h / s) : h; }

// Oja's row factor: the mean of y_i^2 over the batch's n columns, given their sum.
template <class T> COUNTERSTREAM_HD T oja_row(T sum_of_squares, T n) { return sum_of_squares / n; }

struct adam_constants {
    float beta1, beta2, epsilon;
    float c1, c2; // this step's bias corrections, 1 - beta^t
};

// Updates the moments m, v with U and returns the step to add to S (before eta).
COUNTERSTREAM_HD inline float adam_step(const adam_constants& a, float u, float& m, float& v) {
    m = a.beta1 * m + (1 - a.beta1) * u;
    v = a.beta2 * v + (1 - a.beta2) * (u * u);
    return (m / a.c1) / (math::sqrt(v / a.c2) + a.epsilon);
}

} // namespace counterstream::laws
