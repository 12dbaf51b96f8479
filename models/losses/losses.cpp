#include "models/losses/losses.hpp"

#include <cmath>

namespace counterstream::models {
namespace {

// Per-column argmax for accuracy; ties go to the lowest index.
bool predicts(const_block y, Eigen::Index col, std::int32_t label) {
    Eigen::Index best = 0;
    y.col(col).maxCoeff(&best);
    return best == label;
}

struct cross_entropy final : loss {
    loss_result error(const_block y, const std::int32_t* labels, block e) const override {
        loss_result r;
        for (Eigen::Index j = 0; j < y.cols(); ++j) {
            const float m = y.col(j).maxCoeff();
            e.col(j) = (y.col(j).array() - m).exp().matrix();
            const float z = e.col(j).sum();
            e.col(j) /= -z;
            e(labels[j], j) += 1.0f;
            r.loss_sum += double(std::log(z)) + double(m) - double(y(labels[j], j));
            r.correct += predicts(y, j, labels[j]);
        }
        return r;
    }
    loss_result evaluate(const_block y, const std::int32_t* labels) const override {
        loss_result r;
        for (Eigen::Index j = 0; j < y.cols(); ++j) {
            const float m = y.col(j).maxCoeff();
            const float z = (y.col(j).array() - m).exp().sum();
            r.loss_sum += double(std::log(z)) + double(m) - double(y(labels[j], j));
            r.correct += predicts(y, j, labels[j]);
        }
        return r;
    }
};

struct mse final : loss {
    loss_result error(const_block y, const std::int32_t* labels, block e) const override {
        e = -y;
        for (Eigen::Index j = 0; j < y.cols(); ++j)
            e(labels[j], j) += 1.0f;
        loss_result r = count(y, labels);
        r.loss_sum = 0.5 * double(e.squaredNorm());
        return r;
    }
    loss_result evaluate(const_block y, const std::int32_t* labels) const override {
        loss_result r = count(y, labels);
        for (Eigen::Index j = 0; j < y.cols(); ++j) {
            double s = 0;
            for (Eigen::Index i = 0; i < y.rows(); ++i) {
                const double d = (i == labels[j] ? 1.0 : 0.0) - double(y(i, j));
                s += d * d;
            }
            r.loss_sum += 0.5 * s;
        }
        return r;
    }

private:
    static loss_result count(const_block y, const std::int32_t* labels) {
        loss_result r;
        for (Eigen::Index j = 0; j < y.cols(); ++j)
            r.correct += predicts(y, j, labels[j]);
        return r;
    }
};

} // namespace

void add_losses(registry<loss>& r) {
    r.add("cross_entropy", std::make_unique<cross_entropy>());
    r.add("mse", std::make_unique<mse>());
}

} // namespace counterstream::models
