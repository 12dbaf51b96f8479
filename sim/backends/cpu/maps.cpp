#include "sim/backends/cpu/maps.hpp"

#include "models/laws/losses.hpp"
#include "models/laws/rate.hpp"

namespace counterstream::cpu {

namespace {

// out = fn(in) elementwise, column by column (unit inner stride).
template <class F> void map_columns(const_block in, block out, F&& fn) {
    for (Eigen::Index j = 0; j < in.cols(); ++j) {
        const float* a = in.data() + j * in.outerStride();
        float* o = out.data() + j * out.outerStride();
        for (Eigen::Index i = 0; i < in.rows(); ++i)
            o[i] = fn(a[i]);
    }
}

} // namespace

void activate(laws::activation_law f, const_block in, block out) {
    laws::visit(f, [&](auto law) { map_columns(in, out, [](float x) { return decltype(law)::apply(x); }); });
}

void differentiate(laws::activation_law f, const_block in, block out) {
    laws::visit(f, [&](auto law) { map_columns(in, out, [](float x) { return decltype(law)::derivative(x); }); });
}

void rate_law(laws::activation_law f, const_block basal, const laws::activation_law* g, const float* gate, float alpha,
              const float* apical, block out) {
    // basal, gate and apical are whole-population column ranges with the same layout.
    const Eigen::Index ld = basal.outerStride(), rows = basal.rows();
    laws::visit(f, [&](auto law_f) {
        laws::visit(g ? *g : laws::activation_law::linear, [&](auto law_g) {
            using F = decltype(law_f);
            using G = decltype(law_g);
            for (Eigen::Index j = 0; j < basal.cols(); ++j) {
                float* o = out.data() + j * out.outerStride();
                const float* b = basal.data() + j * ld;
                const float* gt = gate ? gate + j * ld : nullptr;
                const float* a = apical ? apical + j * ld : nullptr;
                for (Eigen::Index i = 0; i < rows; ++i)
                    o[i] = laws::rate_at<F, G>(i, b, gt, alpha, a);
            }
        });
    });
}

loss_result loss_columns(laws::loss_law law, const_block y, const std::int32_t* labels, block* e) {
    loss_result r;
    for (Eigen::Index j = 0; j < y.cols(); ++j) {
        const auto c = laws::loss_column(law, int(y.rows()), y.data() + j * y.outerStride(), labels[j],
                                         e ? e->data() + j * e->outerStride() : nullptr);
        r.loss_sum += c.loss;
        r.correct += c.correct;
    }
    return r;
}

} // namespace counterstream::cpu
