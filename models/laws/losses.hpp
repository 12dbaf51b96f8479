// Losses F of an output column y against a label, and the error signal
// e = -dF/dy the error population carries (the paper's hbar^L = eps(yhat)):
//   cross_entropy: F = -log softmax(y)_label,  e = onehot(label) - softmax(y)
//   mse:           F = 1/2 ||onehot(label) - y||^2,  e = onehot(label) - y
// One column at a time (contiguous values); the prediction is the argmax,
// ties to the lowest index.
#pragma once

#include "models/laws/host_device.hpp"

namespace counterstream::laws {

enum class loss_law : int { cross_entropy, mse };

inline constexpr const char* loss_names[] = {"cross_entropy", "mse"};
inline constexpr int loss_count = 2;

struct column_loss {
    double loss = 0;
    bool correct = false;
};

COUNTERSTREAM_HD inline int argmax(int n, const float* y) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (y[i] > y[best])
            best = i;
    return best;
}

// F and the prediction of column y [n]; e [n] (when not null) gets -dF/dy.
COUNTERSTREAM_HD inline column_loss loss_column(loss_law kind, int n, const float* y, int label, float* e) {
    column_loss r;
    const int best = argmax(n, y);
    r.correct = best == label;
    if (kind == loss_law::cross_entropy) {
        // log sum exp(y - m) + m - y_label, with m the largest y: finite for any y.
        const float m = y[best];
        float z = 0;
        for (int i = 0; i < n; ++i)
            z += math::exp(y[i] - m);
        if (e)
            for (int i = 0; i < n; ++i)
                e[i] = math::exp(y[i] - m) / -z + (i == label ? 1.0f : 0.0f);
        r.loss = double(math::log(z)) + double(m) - double(y[label]);
    } else {
        double sum = 0;
        for (int i = 0; i < n; ++i) {
            const float d = (i == label ? 1.0f : 0.0f) - y[i];
            if (e)
                e[i] = d;
            sum += double(d) * double(d);
        }
        r.loss = 0.5 * sum;
    }
    return r;
}

} // namespace counterstream::laws
