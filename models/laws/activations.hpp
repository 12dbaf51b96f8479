// Elementwise neuron laws f(I) (activations) and g(I) (gates) with their
// derivatives f'(I), the `active` factor of a rule. `step` is the ReLU
// Jacobian of the paper's eq. (4), 1[I > 0]; softplus(x) = log(1 + e^x) is
// written to stay finite for large |x|. A new law is one struct here, one
// enumerator and one name: both backends run it.
#pragma once

#include "models/laws/host_device.hpp"

namespace counterstream::laws {

enum class activation_law : int { linear, relu, step, tanh, sigmoid, softplus };

// The YAML names, in the enum's order.
inline constexpr const char* activation_names[] = {"linear", "relu", "step", "tanh", "sigmoid", "softplus"};
inline constexpr int activation_count = 6;

struct linear {
    template <class T> COUNTERSTREAM_HD static T apply(T x) { return x; }
    template <class T> COUNTERSTREAM_HD static T derivative(T) { return T(1); }
};

// max(x, 0) that keeps a NaN (a diverged run shows a NaN loss, not a silent 0).
struct relu {
    template <class T> COUNTERSTREAM_HD static T apply(T x) { return x < T(0) ? T(0) : x; }
    template <class T> COUNTERSTREAM_HD static T derivative(T x) { return x > T(0) ? T(1) : T(0); }
};

struct step {
    template <class T> COUNTERSTREAM_HD static T apply(T x) { return x > T(0) ? T(1) : T(0); }
    template <class T> COUNTERSTREAM_HD static T derivative(T) { return T(0); }
};

struct tanh {
    template <class T> COUNTERSTREAM_HD static T apply(T x) { return math::tanh(x); }
    template <class T> COUNTERSTREAM_HD static T derivative(T x) {
        const T t = apply(x);
        return T(1) - t * t;
    }
};

struct sigmoid {
    template <class T> COUNTERSTREAM_HD static T apply(T x) { return T(1) / (T(1) + math::exp(-x)); }
    template <class T> COUNTERSTREAM_HD static T derivative(T x) {
        const T s = apply(x);
        return s * (T(1) - s);
    }
};

struct softplus {
    template <class T> COUNTERSTREAM_HD static T apply(T x) {
        return relu::apply(x) + math::log1p(math::exp(-math::abs(x)));
    }
    template <class T> COUNTERSTREAM_HD static T derivative(T x) { return sigmoid::apply(x); }
};

// Calls fn(law{}) with the law's struct, so that a loop over many values is
// compiled once per law (the CPU backend's maps, the CUDA kernels' launches)
// instead of switching per value. Host only.
template <class F> decltype(auto) visit(activation_law f, F&& fn) {
    switch (f) {
    case activation_law::relu:
        return fn(relu{});
    case activation_law::step:
        return fn(step{});
    case activation_law::tanh:
        return fn(tanh{});
    case activation_law::sigmoid:
        return fn(sigmoid{});
    case activation_law::softplus:
        return fn(softplus{});
    case activation_law::linear:
        break;
    }
    return fn(linear{});
}

// Op::run<law>(x) for the law f, on either side.
template <class Op, class T> COUNTERSTREAM_HD T with_law(activation_law f, T x) {
    switch (f) {
    case activation_law::relu:
        return Op::template run<relu>(x);
    case activation_law::step:
        return Op::template run<step>(x);
    case activation_law::tanh:
        return Op::template run<tanh>(x);
    case activation_law::sigmoid:
        return Op::template run<sigmoid>(x);
    case activation_law::softplus:
        return Op::template run<softplus>(x);
    case activation_law::linear:
        break;
    }
    return Op::template run<linear>(x);
}

struct apply_op {
    template <class L, class T> COUNTERSTREAM_HD static T run(T x) { return L::apply(x); }
};
struct derivative_op {
    template <class L, class T> COUNTERSTREAM_HD static T run(T x) { return L::derivative(x); }
};

template <class T> COUNTERSTREAM_HD T apply(activation_law f, T x) { return with_law<apply_op>(f, x); }
template <class T> COUNTERSTREAM_HD T derivative(activation_law f, T x) { return with_law<derivative_op>(f, x); }

} // namespace counterstream::laws
