// The engine holds K instances of one plan. With K > 1 the CPU backend
// spreads whole instances over the threads, so each instance must compute,
// bit for bit, what one network (K = 1) computes alone on one thread: the
// same passes, over other strides. These tests hold K = 3 instances with
// their own weights, learning rates, decay strengths, labels, inputs and
// mirror noise to three single networks, step by step.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/network.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

using cpu_engine = engine<cpu::backend>;
constexpr int K = 3;

std::string circuit_file(const std::string& name) {
    return std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/" + name + ".yaml";
}

// K single networks of one circuit, with their own seeds and rates, on one thread each.
std::vector<std::unique_ptr<network>> singles(const run_document& doc, int batch, sim_mode mode) {
    const auto lib = models::standard_library();
    std::vector<std::unique_ptr<network>> nets;
    for (int k = 0; k < K; ++k) {
        nets.push_back(std::make_unique<network>(doc.circuit, lib, 10 + k, batch, mode));
        nets.back()->set_threads(1);
        for (auto& g: nets.back()->groups()) {
            g.eta *= 1.0f + 0.25f * float(k);
            g.base_eta = g.eta;
            g.gamma += 0.01f * float(k);
            g.mirror_eta *= 1.0f + 0.5f * float(k);
        }
    }
    return nets;
}

// An engine of the K networks' instances: their weights and parameters.
std::unique_ptr<cpu_engine> gathered(const std::vector<std::unique_ptr<network>>& nets, int threads) {
    const network& first = *nets[0];
    auto e = std::make_unique<cpu_engine>(first.plan(), K, first.batch());
    e->set_threads(threads);
    if (first.adam())
        e->set_optimizer(first.optimizer());
    for (int k = 0; k < K; ++k) {
        for (std::size_t g = 0; g < first.groups().size(); ++g) {
            const auto& h = nets[k]->groups()[g];
            const int gi = int(g);
            e->eta(gi, k) = h.eta;
            e->base_eta(gi, k) = h.base_eta;
            e->gamma(gi, k) = h.gamma;
            e->mirror_eta(gi, k) = h.mirror_eta;
            e->mirror_gamma(gi, k) = h.mirror_gamma;
            if (h.plan->tied_to < 0)
                network::view(e->own_weights(gi, k), h.w.rows(), h.w.cols()) = h.w;
        }
        for (std::size_t p = 0; p < first.populations().size(); ++p)
            if (first.plan().populations[p].dynamic)
                e->inv_tau(int(p), k) = float(1.0 / nets[k]->populations()[p].spec->tau);
    }
    return e;
}

// Instance k's input and labels, drawn from r, into the engine and network k.
void draw(cpu_engine& e, network& net, int k, rng& r, std::vector<std::int32_t>& labels) {
    auto& x = net.input();
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = r.uniform() < 0.3 ? float(r.uniform()) : 0.0f;
    for (auto& y: labels)
        y = std::int32_t(r.below(std::uint64_t(net.plan().populations[net.plan().output].size)));
    network::view(e.rate(net.plan().input, k), x.rows(), x.cols()) = x;
    e.set_labels(k, labels.data());
}

void check_same_weights(cpu_engine& e, const std::vector<std::unique_ptr<network>>& nets) {
    for (int k = 0; k < K; ++k)
        for (std::size_t g = 0; g < nets[k]->groups().size(); ++g) {
            const auto& h = nets[k]->groups()[g];
            if (h.plan->tied_to >= 0)
                continue;
            CAPTURE(k);
            CAPTURE(h.spec->name);
            const network::view w(e.weights(int(g), k), h.w.rows(), h.w.cols());
            CHECK((w.array() == h.w.array()).all());
        }
}

// Discrete steps of the K instances against the K networks.
void check_discrete(const std::string& circuit, const std::vector<std::string>& sets, bool adam) {
    const auto lib = models::standard_library();
    const auto doc = load_run(circuit_file(circuit), sets, lib);
    const int batch = 16;
    for (const int threads: {1, 2}) {
        CAPTURE(threads);
        // The engine starts from the networks' weights; each network then steps alone.
        auto alone = singles(doc, batch, sim_mode::discrete);
        if (adam) {
            optimizer_spec o;
            o.kind = optimizer_kind::adam;
            for (auto& n: alone)
                n->set_optimizer(o);
        }
        auto e = gathered(alone, threads);
        std::vector<rng> data, noise_e, noise_n;
        for (int k = 0; k < K; ++k) {
            data.emplace_back(100 + k);
            noise_e.emplace_back(200 + k);
            noise_n.emplace_back(200 + k);
        }
        std::vector<rng*> noise;
        for (auto& n: noise_e)
            noise.push_back(&n);
        std::vector<std::int32_t> labels(batch);
        for (int s = 0; s < 5; ++s) {
            std::vector<loss_result> expected;
            for (int k = 0; k < K; ++k) {
                draw(*e, *alone[k], k, data[k], labels);
                expected.push_back(alone[k]->forward(labels.data()));
                alone[k]->learn();
                if (alone[k]->mirrors())
                    alone[k]->mirror(noise_n[k], 8, 0.5);
            }
            const auto got = e->forward();
            e->learn();
            if (e->plan().mirrors)
                CHECK(e->mirror(noise, 8, 0.5));
            for (int k = 0; k < K; ++k) {
                CHECK(got[k].loss_sum == expected[k].loss_sum);
                CHECK(got[k].correct == expected[k].correct);
            }
        }
        check_same_weights(*e, alone);
        // The instances differ: their parameters reach the passes.
        const auto& g0 = alone[0]->groups()[0];
        const network::view w0(e->weights(0, 0), g0.w.rows(), g0.w.cols()),
            w1(e->weights(0, 1), g0.w.rows(), g0.w.cols());
        CHECK((w0 - w1).norm() > 0);
    }
}

} // namespace

TEST_CASE("engine: K = 3 instances step bitwise as 3 single networks (sal, plain steps, 1 and 2 threads)") {
    check_discrete("sal", {"circuit.sizes=[20, 12, 9, 5]"}, false);
}

TEST_CASE("engine: K = 3 instances step bitwise as 3 single networks (sgd with Adam steps)") {
    check_discrete("sgd", {"circuit.sizes=[20, 12, 9, 5]"}, true);
}

TEST_CASE("engine: K = 3 instances step bitwise as 3 single networks (l1 and no decay, and wm's mirror batches)") {
    check_discrete("sal",
                   {"circuit.sizes=[20, 12, 9, 5]", "circuit.synapses.W{l}.rule.decay=l1",
                    "circuit.synapses.Wbar{l}.rule.decay=none"},
                   false);
    check_discrete("wm", {"circuit.sizes=[20, 12, 9, 5]"}, false);
}

TEST_CASE("engine: the continuous derivative of K = 3 instances is bitwise that of 3 single networks") {
    const auto lib = models::standard_library();
    const auto doc =
        load_run(circuit_file("sal_continuous"),
                 {"circuit.sizes=[20, 12, 5]", "protocol.trials=4", "protocol.record.populations=[e]"}, lib);
    const int trials = 4;
    for (const int threads: {1, 2}) {
        CAPTURE(threads);
        // Fresh networks: the last ones' views read states that are gone.
        auto nets = singles(doc, trials, sim_mode::continuous);
        auto e = gathered(nets, threads);
        const auto& layout = e->layout();
        Eigen::VectorXf x(layout.size), dxdt(layout.size);
        e->write_state(x.data());
        rng r(4);
        for (Eigen::Index i = 0; i < x.size(); ++i) // rates and weights away from their start
            x[i] += float(0.1 * (r.uniform() - 0.5));
        std::vector<std::vector<std::int32_t>> labels(K, std::vector<std::int32_t>(trials));
        std::vector<Eigen::VectorXf> states;
        for (int k = 0; k < K; ++k) {
            draw(*e, *nets[k], k, r, labels[k]);
            // Instance k's fields of x, in the single network's layout.
            network& n = *nets[k];
            const auto single = n.plan().layout(trials, 1);
            Eigen::VectorXf s(single.size);
            for (std::size_t p = 0; p < layout.population.size(); ++p)
                if (layout.population[p] >= 0) {
                    const std::int64_t slice = std::int64_t(n.plan().populations[p].size) * trials;
                    s.segment(single.population[p], slice) = x.segment(layout.population[p] + k * slice, slice);
                }
            for (std::size_t g = 0; g < layout.group.size(); ++g)
                if (layout.group[g] >= 0) {
                    const std::int64_t size = std::int64_t(n.plan().groups[g].rows) * n.plan().groups[g].cols;
                    s.segment(single.group[g], size) = x.segment(layout.group[g] + k * size, size);
                }
            states.push_back(s);
        }
        for (const bool learning: {false, true}) {
            CAPTURE(learning);
            e->derivative(x.data(), dxdt.data(), learning);
            const auto losses = e->losses();
            for (int k = 0; k < K; ++k) {
                network& n = *nets[k];
                const auto single = n.plan().layout(trials, 1);
                Eigen::VectorXf d(single.size);
                const loss_result expected = n.derivative(states[k].data(), d.data(), labels[k].data(), learning);
                CHECK(losses[k].loss_sum == expected.loss_sum);
                CHECK(losses[k].correct == expected.correct);
                for (std::size_t p = 0; p < layout.population.size(); ++p)
                    if (layout.population[p] >= 0) {
                        const std::int64_t slice = std::int64_t(n.plan().populations[p].size) * trials;
                        CHECK((dxdt.segment(layout.population[p] + k * slice, slice).array() ==
                               d.segment(single.population[p], slice).array())
                                  .all());
                    }
                for (std::size_t g = 0; g < layout.group.size(); ++g)
                    if (layout.group[g] >= 0) {
                        const std::int64_t size = std::int64_t(n.plan().groups[g].rows) * n.plan().groups[g].cols;
                        CHECK((dxdt.segment(layout.group[g] + k * size, size).array() ==
                               d.segment(single.group[g], size).array())
                                  .all());
                    }
            }
        }
    }
}
