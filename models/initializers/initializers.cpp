#include "models/initializers/initializers.hpp"

#include "sim/error.hpp"
#include "sim/weights_file.hpp"

#include <cmath>

namespace counterstream::models {
namespace {

struct normal final : initializer {
    void fill(matrix& w, const init_params& p, rng& r) const override {
        const double sd = p.gain / std::sqrt(double(w.cols()));
        for (Eigen::Index j = 0; j < w.cols(); ++j)
            for (Eigen::Index i = 0; i < w.rows(); ++i) w(i, j) = float(sd * r.normal());
    }
};

struct uniform final : initializer {
    void fill(matrix& w, const init_params& p, rng& r) const override {
        const double a = p.gain * std::sqrt(3.0 / double(w.cols()));
        for (Eigen::Index j = 0; j < w.cols(); ++j)
            for (Eigen::Index i = 0; i < w.rows(); ++i) w(i, j) = float(a * (2.0 * r.uniform() - 1.0));
    }
};

struct identity final : initializer {
    void fill(matrix& w, const init_params& p, rng&) const override {
        w.setZero();
        for (Eigen::Index i = 0; i < std::min(w.rows(), w.cols()); ++i) w(i, i) = float(p.gain);
    }
};

struct zeros final : initializer {
    void fill(matrix& w, const init_params&, rng&) const override { w.setZero(); }
};

struct from_file final : initializer {
    void fill(matrix& w, const init_params& p, rng&) const override {
        if (p.path.empty() || p.dataset.empty())
            throw input_error("init: file needs path: (an HDF5 file) and dataset: (e.g. /weights/W1/data)");
        const matrix loaded = read_last_matrix(p.path, p.dataset);
        if (loaded.rows() != w.rows() || loaded.cols() != w.cols())
            throw input_error(p.path + ": " + p.dataset + " is " + std::to_string(loaded.rows()) + "x" +
                              std::to_string(loaded.cols()) + ", the group needs " + std::to_string(w.rows()) +
                              "x" + std::to_string(w.cols()));
        w = loaded * float(p.gain);
    }
};

} // namespace

void add_initializers(registry<initializer>& r) {
    r.add("normal", std::make_unique<normal>());
    r.add("uniform", std::make_unique<uniform>());
    r.add("identity", std::make_unique<identity>());
    r.add("zeros", std::make_unique<zeros>());
    r.add("file", std::make_unique<from_file>());
}

} // namespace counterstream::models
