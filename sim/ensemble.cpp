#include "sim/ensemble.hpp"

#include <omp.h>

#include <exception>

namespace counterstream {

ensemble::ensemble(const std::vector<instance>& instances, const library& lib, int trials,
                   const integrator_spec& method)
    : method_(method), threads_(std::max(1, omp_get_max_threads())) {
    for (const auto& in: instances) {
        auto net = std::make_unique<network>(in.circuit, lib, in.seed, trials, sim_mode::continuous);
        net->set_threads(1);
        Eigen::VectorXf x(net->state_size());
        net->write_state(x.data());
        net->bind_state(x.data());
        states_.push_back(std::move(x));
        integrators_.push_back(std::make_unique<integrator>(*net, method));
        nets_.push_back(std::move(net));
    }
    // The views now point into states_, whose buffers do not move.
    for (std::size_t k = 0; k < nets_.size(); ++k)
        nets_[k]->bind_state(states_[k].data());
}

void ensemble::set_input(const matrix& x) {
    for (auto& n: nets_)
        n->input() = x;
}

void ensemble::present(double present_ms, double learn_after_ms, const std::int32_t* labels) {
    for_each([&](int k) {
        integrators_[k]->advance(states_[k], 0, learn_after_ms, labels, false);
        integrators_[k]->advance(states_[k], learn_after_ms, present_ms, labels, true);
    });
}

void ensemble::for_each(const std::function<void(int)>& f) {
    // No exception may leave an OpenMP region.
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size()));
    const auto call = [&](int k) {
        try {
            f(k);
        } catch (...) {
            errors[std::size_t(k)] = std::current_exception();
        }
    };
    if (threads_ <= 1 || size() <= 1) {
        for (int k = 0; k < size(); ++k)
            call(k);
    } else {
#pragma omp parallel for num_threads(std::min(threads_, size())) schedule(dynamic, 1)
        for (int k = 0; k < size(); ++k)
            call(k);
    }
    for (const auto& e: errors)
        if (e)
            std::rethrow_exception(e);
}

} // namespace counterstream
