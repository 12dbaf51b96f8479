// The laws a circuit is built from, looked up by their YAML names. The
// elementwise laws are plain functions in models/laws/ (a header-only leaf
// that the backends include); `models` fills a library with the names it
// offers, and the engine receives it at assembly (no global registry).
#pragma once

#include "models/laws/activations.hpp"
#include "models/laws/losses.hpp"
#include "sim/random.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace counterstream {

using matrix = Eigen::MatrixXf; // [neurons x batch] rates and currents, [post x pre] weights
// Strided views into a matrix (a column range of rates, a row range of
// weights); the laws below write through them without allocating.
using block = Eigen::Ref<matrix>;
using const_block = Eigen::Ref<const matrix>;

// Elementwise neuron law f (activation) or g (gate): its law in
// models/laws/activations.hpp, which both backends run.
struct activation {
    laws::activation_law law;
};

struct loss_result {
    double loss_sum = 0; // summed over the batch
    std::int64_t correct = 0;
};

// The error population's law: e = -dF/dy of a loss F of the output y
// (models/laws/losses.hpp).
struct loss {
    laws::loss_law law;
};

struct init_params {
    double gain = 1.0;
    std::string path;    // for `file`
    std::string dataset; // for `file`
};

struct initializer {
    virtual ~initializer() = default;
    // Fills w (already sized n_post x n_pre). Throws input_error on bad parameters.
    virtual void fill(matrix& w, const init_params& p, rng& r) const = 0;
};

template <class T> class registry {
public:
    void add(const std::string& name, std::unique_ptr<T> item) { items_[name] = std::move(item); }
    const T* find(const std::string& name) const {
        const auto it = items_.find(name);
        return it == items_.end() ? nullptr : it->second.get();
    }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& kv: items_)
            out.push_back(kv.first);
        return out;
    }

private:
    std::map<std::string, std::unique_ptr<T>> items_;
};

struct library {
    registry<activation> activations; // f and g (`gate: none` means no gate)
    registry<loss> losses;
    registry<initializer> initializers;
};

} // namespace counterstream
