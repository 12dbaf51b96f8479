#include "models/neurons/activations.hpp"

#include <cmath>

namespace counterstream::models {
namespace {

struct relu final : activation {
    void apply(const_block in, block out) const override { out = in.cwiseMax(0.0f); }
    void derivative(const_block in, block out) const override { out = (in.array() > 0.0f).cast<float>().matrix(); }
};

struct linear final : activation {
    void apply(const_block in, block out) const override { out = in; }
    void derivative(const_block, block out) const override { out.setOnes(); }
};

struct step final : activation {
    void apply(const_block in, block out) const override { out = (in.array() > 0.0f).cast<float>().matrix(); }
    void derivative(const_block, block out) const override { out.setZero(); }
};

struct tanh_law final : activation {
    void apply(const_block in, block out) const override { out = in.array().tanh().matrix(); }
    void derivative(const_block in, block out) const override { out = (1.0f - in.array().tanh().square()).matrix(); }
};

struct sigmoid final : activation {
    void apply(const_block in, block out) const override { out = (1.0f / (1.0f + (-in.array()).exp())).matrix(); }
    void derivative(const_block in, block out) const override {
        const auto s = 1.0f / (1.0f + (-in.array()).exp());
        out = (s * (1.0f - s)).matrix();
    }
};

// softplus(x) = log(1 + e^x), written to stay finite for large |x|.
struct softplus final : activation {
    void apply(const_block in, block out) const override {
        out = (in.array().cwiseMax(0.0f) + (-in.array().abs()).exp().log1p()).matrix();
    }
    void derivative(const_block in, block out) const override { out = (1.0f / (1.0f + (-in.array()).exp())).matrix(); }
};

} // namespace

void add_activations(registry<activation>& r) {
    r.add("relu", std::make_unique<relu>());
    r.add("linear", std::make_unique<linear>());
    r.add("step", std::make_unique<step>());
    r.add("tanh", std::make_unique<tanh_law>());
    r.add("sigmoid", std::make_unique<sigmoid>());
    r.add("softplus", std::make_unique<softplus>());
}

} // namespace counterstream::models
