// The CUDA backend against the CPU backend: the same circuit, seed and
// batches give the same weights to float rounding (cuBLAS and the CPU GEMM
// sum in different orders; both are float32).
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/backends/cuda/device_engine.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/weights_file.hpp"
#include "tests/support/h5_tables.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <hdf5.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

std::string circuit_file(const std::string& name) {
    return std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/" + name + ".yaml";
}

// The largest difference between two weight matrices, relative to the
// largest weight of the first.
double relative_difference(const matrix& a, const matrix& b) {
    return double((a - b).cwiseAbs().maxCoeff()) / std::max(1e-30, double(a.cwiseAbs().maxCoeff()));
}

// Fills the input with sparse pseudo-random rates (like pixels) and draws labels.
void draw_batch(network& net, rng& r, std::vector<std::int32_t>& labels) {
    auto& x = net.input();
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = r.uniform() < 0.2 ? float(r.uniform()) : 0.0f;
    for (auto& y: labels) y = std::int32_t(r.below(10));
}

// The steps of group W1's snapshots in a recording.
std::vector<double> snapshot_steps(const std::string& file) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    const auto steps = testing::read_doubles(f, "/weights/W1/step");
    H5Fclose(f);
    return steps;
}

// The last snapshot of every group in `groups` agrees between two recordings to `tolerance`.
void check_same_weights(const std::string& a, const std::string& b, const std::vector<std::string>& groups,
                        double tolerance) {
    for (const auto& w: groups) {
        CAPTURE(w);
        CHECK(relative_difference(read_last_matrix(a, "/weights/" + w + "/data"),
                                  read_last_matrix(b, "/weights/" + w + "/data")) <= tolerance);
    }
}

// Trains `circuit` with `sets` on the CPU and then on the device (recordings
// NAME-cpu.h5 and NAME-cuda.h5): the same epochs, and the same final
// accuracy, loss and weights to float rounding.
void check_device_recording(const std::string& circuit, const std::vector<std::string>& sets, const std::string& name) {
    const auto lib = models::standard_library();
    std::vector<std::string> on_device = sets;
    on_device.push_back("protocol.backend=cuda");
    std::ostringstream log;
    train_options opt;
    opt.command_line = "test";
    opt.threads = 1;
    const std::string cpu_file = (testing::temp_dir() / (name + "-cpu.h5")).string();
    opt.output = cpu_file;
    const auto cpu = train(load_run(circuit_file(circuit), sets, lib), lib, opt, log);
    opt.output = testing::temp_dir() / (name + "-cuda.h5");
    const auto gpu = train(load_run(circuit_file(circuit), on_device, lib), lib, opt, log);
    REQUIRE(gpu.epochs.size() == cpu.epochs.size());
    REQUIRE(gpu.epochs.size() == 2);
    CHECK(gpu.epochs.back().test_accuracy == doctest::Approx(cpu.epochs.back().test_accuracy).epsilon(0.01));
    CHECK(gpu.epochs.back().train_loss == doctest::Approx(cpu.epochs.back().train_loss).epsilon(1e-3));
    check_same_weights(cpu_file, opt.output.string(), {"W1", "W2", "W3", "Wbar2", "V2"}, 1e-3);
}

} // namespace

TEST_CASE("cuda: 100 discrete steps agree with the CPU to 1e-4 relative on every weight (the paper's MLP, batch 256)") {
    const auto lib = models::standard_library();
    for (const char* name: {"sal", "sal_alg1", "sal_gated", "sgd", "fa", "kp", "wm"}) {
        CAPTURE(name);
        const auto doc = load_run(circuit_file(name), {}, lib);
        const int batch = 256, steps = 100;
        network cpu(doc.circuit, lib, 7, batch), gpu_host(doc.circuit, lib, 7, batch);
        cuda::device_engine gpu(gpu_host);
        rng data_cpu(11), data_gpu(11), noise_cpu(5), noise_gpu(5);
        std::vector<std::int32_t> labels(batch);
        double loss_cpu = 0, loss_gpu = 0;
        for (int s = 0; s < steps; ++s) {
            draw_batch(cpu, data_cpu, labels);
            loss_cpu += cpu.forward(labels.data()).loss_sum;
            cpu.learn();
            draw_batch(gpu_host, data_gpu, labels);
            loss_gpu += gpu.forward(labels.data()).loss_sum;
            gpu.learn();
            if (cpu.mirrors()) {
                cpu.mirror(noise_cpu, batch, 1.0);
                CHECK(gpu.mirror(noise_gpu, batch, 1.0));
            }
        }
        gpu.download();
        CHECK(loss_gpu == doctest::Approx(loss_cpu).epsilon(1e-4));
        for (std::size_t g = 0; g < cpu.groups().size(); ++g) {
            if (cpu.groups()[g].plan->tied_to >= 0)
                continue;
            CAPTURE(cpu.groups()[g].spec->name);
            const matrix before = matrix(cpu.groups()[g].w);
            CHECK(relative_difference(before, gpu_host.groups()[g].w) <= 1e-4);
        }
        // The device's norms are the guard's: they match the host's.
        std::vector<double> weight_norms, rate_norms;
        gpu.norms(weight_norms, rate_norms);
        for (std::size_t g = 0; g < cpu.groups().size(); ++g)
            if (cpu.groups()[g].plan->tied_to < 0)
                CHECK(weight_norms[g] == doctest::Approx(cpu.groups()[g].w.norm()).epsilon(1e-4));
        for (std::size_t p = 0; p < cpu.populations().size(); ++p)
            CHECK(rate_norms[p] == doctest::Approx(cpu.populations()[p].rate.norm()).epsilon(1e-3));
    }
}

TEST_CASE("cuda: 50 Adam steps agree with the CPU to 1e-4 relative on every weight and both moments (sal and sgd)") {
    const auto lib = models::standard_library();
    optimizer_spec adam;
    adam.kind = optimizer_kind::adam;
    for (const char* name: {"sal", "sgd"}) {
        CAPTURE(name);
        const auto doc = load_run(circuit_file(name), {"circuit.sizes=[784, 200, 10]"}, lib);
        const int batch = 128, steps = 50;
        network cpu(doc.circuit, lib, 3, batch), gpu_host(doc.circuit, lib, 3, batch);
        cpu.set_optimizer(adam);
        gpu_host.set_optimizer(adam);
        cuda::device_engine gpu(gpu_host);
        rng data_cpu(13), data_gpu(13);
        std::vector<std::int32_t> labels(batch);
        for (int s = 0; s < steps; ++s) {
            draw_batch(cpu, data_cpu, labels);
            cpu.forward(labels.data());
            cpu.learn();
            draw_batch(gpu_host, data_gpu, labels);
            gpu.forward(labels.data());
            gpu.learn();
        }
        gpu.download();
        CHECK(gpu_host.optimizer_steps() == steps);
        for (std::size_t g = 0; g < cpu.groups().size(); ++g) {
            const auto& c = cpu.groups()[g];
            if (!c.plan->learns)
                continue;
            CAPTURE(c.spec->name);
            const auto& d = gpu_host.groups()[g];
            CHECK(relative_difference(matrix(c.w), matrix(d.w)) <= 1e-4);
            CHECK(relative_difference(matrix(c.moment1), matrix(d.moment1)) <= 1e-4);
            CHECK(relative_difference(matrix(c.moment2), matrix(d.moment2)) <= 1e-4);
        }
    }
}

TEST_CASE("cuda: the weights move: 100 device steps change every plastic group (the parity above is not of frozen weights)") {
    const auto lib = models::standard_library();
    const auto doc = load_run(circuit_file("sal"), {}, lib);
    network host(doc.circuit, lib, 7, 64);
    std::vector<matrix> before;
    for (const auto& g: host.groups())
        before.push_back(g.plan->tied_to < 0 ? matrix(g.w) : matrix());
    cuda::device_engine gpu(host);
    rng r(3);
    std::vector<std::int32_t> labels(64);
    for (int s = 0; s < 100; ++s) {
        draw_batch(host, r, labels);
        gpu.forward(labels.data());
        gpu.learn();
    }
    gpu.download();
    for (std::size_t g = 0; g < host.groups().size(); ++g)
        if (host.groups()[g].plan->learns) {
            CAPTURE(host.groups()[g].spec->name);
            CHECK(relative_difference(before[g], host.groups()[g].w) > 1e-3);
        }
}

TEST_CASE("cuda: a device run records what the CPU run records, to float rounding, and stops a diverging run") {
    const std::vector<std::string> base = {"circuit.sizes=[20, 32, 24, 4]", "protocol.epochs=2",
                                           "protocol.batch_size=32", "protocol.dataset={name: teacher}"};
    check_device_recording("sal", base, "discrete");

    // The guard stops a device run that blows up.
    std::vector<std::string> diverging = base;
    diverging.insert(diverging.end(), {"protocol.backend=cuda", "circuit.eta_scale=1000"});
    const auto lib = models::standard_library();
    std::ostringstream log;
    train_options opt;
    opt.output = testing::temp_dir() / "diverging.h5";
    opt.command_line = "test";
    CHECK(train(load_run(circuit_file("sal"), diverging, lib), lib, opt, log).diverged);
}

TEST_CASE("cuda: a K-instance ensemble agrees with K single device runs (own seeds, rates and mirror noise)") {
    const auto lib = models::standard_library();
    for (const char* name: {"sal", "wm"}) {
        CAPTURE(name);
        const int K = 4, batch = 64, steps = 30;
        std::vector<run_document> docs;
        for (int k = 0; k < K; ++k) // the instances' rates differ: per-instance scaling on the device
            docs.push_back(load_run(circuit_file(name),
                                    {"circuit.sizes=[784, 64, 48, 10]", "circuit.eta_scale=" + std::to_string(0.5 + 0.25 * k)},
                                    lib));
        std::vector<std::unique_ptr<network>> lockstep, alone;
        std::vector<network*> hosts;
        for (int k = 0; k < K; ++k) {
            lockstep.push_back(std::make_unique<network>(docs[k].circuit, lib, std::uint64_t(k + 1), batch));
            alone.push_back(std::make_unique<network>(docs[k].circuit, lib, std::uint64_t(k + 1), batch));
            hosts.push_back(lockstep.back().get());
        }
        cuda::device_engine ensemble(hosts);
        CHECK(ensemble.instances() == K);
        std::vector<std::unique_ptr<cuda::device_engine>> singles;
        for (auto& n: alone) singles.push_back(std::make_unique<cuda::device_engine>(*n));
        std::vector<rng> data, noise_a, noise_b;
        for (int k = 0; k < K; ++k) {
            data.emplace_back(100 + k);
            noise_a.emplace_back(200 + k);
            noise_b.emplace_back(200 + k);
        }
        std::vector<std::vector<std::int32_t>> labels(K, std::vector<std::int32_t>(batch));
        for (int s = 0; s < steps; ++s) {
            std::vector<const std::int32_t*> ptrs;
            for (int k = 0; k < K; ++k) {
                draw_batch(*lockstep[k], data[k], labels[k]);
                alone[k]->input() = lockstep[k]->input();
                ptrs.push_back(labels[k].data());
            }
            const auto together = ensemble.forward(ptrs);
            ensemble.learn();
            for (int k = 0; k < K; ++k) {
                const auto one = singles[k]->forward(ptrs[k]);
                singles[k]->learn();
                CHECK(together[k].loss_sum == doctest::Approx(one.loss_sum).epsilon(1e-4));
            }
            if (lockstep[0]->mirrors()) {
                std::vector<rng*> noise;
                for (auto& r: noise_a) noise.push_back(&r);
                CHECK(ensemble.mirror(noise, batch, 1.0));
                for (int k = 0; k < K; ++k) singles[k]->mirror(noise_b[k], batch, 1.0);
            }
        }
        ensemble.download();
        for (auto& one: singles) one->download();
        for (int k = 0; k < K; ++k)
            for (std::size_t g = 0; g < alone[k]->groups().size(); ++g) {
                if (alone[k]->groups()[g].plan->tied_to >= 0)
                    continue;
                CAPTURE(k);
                CAPTURE(alone[k]->groups()[g].spec->name);
                CHECK(relative_difference(alone[k]->groups()[g].w, lockstep[k]->groups()[g].w) <= 1e-5);
            }
        // The instances did learn differently (different seeds and rates).
        CHECK(relative_difference(lockstep[0]->groups()[0].w, lockstep[1]->groups()[0].w) > 1e-2);
    }
}

namespace {

// A continuous-mode network (trials columns) whose views read `state`.
std::unique_ptr<network> continuous_network(const run_document& doc, const library& lib, std::uint64_t seed,
                                            Eigen::VectorXf& state) {
    auto net = std::make_unique<network>(doc.circuit, lib, seed, doc.protocol.trials, sim_mode::continuous);
    state.resize(net->state_size());
    net->write_state(state.data());
    net->bind_state(state.data());
    return net;
}

} // namespace

TEST_CASE("cuda: 100 ms of continuous SAL agree with the CPU to 1e-4 relative on every weight and state rate (rk4 and dopri5)") {
    const auto lib = models::standard_library();
    for (const char* method: {"rk4", "dopri5"}) {
        CAPTURE(method);
        const auto doc = load_run(circuit_file("sal_continuous"),
                                  {std::string("protocol.integrator.method=") + method,
                                   "protocol.integrator.abs_tol=1e-5", "protocol.integrator.rel_tol=1e-5"},
                                  lib);
        Eigen::VectorXf x_cpu, x_gpu;
        auto cpu = continuous_network(doc, lib, 7, x_cpu);
        auto host = continuous_network(doc, lib, 7, x_gpu);
        cuda::device_engine gpu(*host);
        integrator integ(*cpu, doc.protocol.integrator);
        rng data(11);
        std::vector<std::int32_t> labels(std::size_t(doc.protocol.trials));
        // Five presentations of 20 ms, plasticity from 10 ms on in each.
        for (int p = 0; p < 5; ++p) {
            draw_batch(*cpu, data, labels);
            host->input() = cpu->input();
            integ.advance(x_cpu, 0, 10, labels.data(), false);
            integ.advance(x_cpu, 10, 20, labels.data(), true);
            gpu.set_input({labels.data()});
            gpu.advance(doc.protocol.integrator, 0, 10, false);
            gpu.advance(doc.protocol.integrator, 10, 20, true);
        }
        if (std::string(method) == "rk4") CHECK(gpu.steps() == integ.steps());
        Eigen::VectorXf settle(x_cpu.size());
        const loss_result on_cpu = cpu->derivative(x_cpu.data(), settle.data(), labels.data(), false);
        const loss_result on_gpu = gpu.settle().at(0);
        CHECK(on_gpu.loss_sum == doctest::Approx(on_cpu.loss_sum).epsilon(1e-4));
        gpu.download();
        for (std::size_t g = 0; g < cpu->groups().size(); ++g) {
            if (!cpu->groups()[g].plan->learns)
                continue;
            CAPTURE(cpu->groups()[g].spec->name);
            CHECK(relative_difference(cpu->groups()[g].w, host->groups()[g].w) <= 1e-4);
        }
        for (std::size_t p = 0; p < cpu->populations().size(); ++p)
            if (cpu->populations()[p].state_offset >= 0) {
                CAPTURE(cpu->populations()[p].spec->name);
                CHECK(relative_difference(cpu->populations()[p].rate, host->populations()[p].rate) <= 1e-4);
            }
        // The weights moved: this is not a comparison of two initial states.
        Eigen::VectorXf x0;
        auto fresh = continuous_network(doc, lib, 7, x0);
        CHECK(relative_difference(fresh->grp("W1").w, host->grp("W1").w) > 1e-4);
    }
}

TEST_CASE("cuda: a K-instance continuous ensemble agrees with K single device runs (own seeds and time constants)") {
    const auto lib = models::standard_library();
    const int K = 3;
    std::vector<run_document> docs;
    for (int k = 0; k < K; ++k)
        docs.push_back(load_run(circuit_file("sal_continuous"),
                                {"circuit.sizes=[784, 64, 48, 10]", "protocol.trials=16",
                                 "circuit.synapses.W{l}.rule.tau=" + std::to_string(100 + 100 * k),
                                 "circuit.populations.hidden.tau=" + std::to_string(1.0 + 0.5 * k)},
                                lib));
    std::vector<Eigen::VectorXf> x_lockstep(K), x_alone(K);
    std::vector<std::unique_ptr<network>> lockstep, alone;
    std::vector<network*> hosts;
    for (int k = 0; k < K; ++k) {
        lockstep.push_back(continuous_network(docs[k], lib, std::uint64_t(k + 1), x_lockstep[k]));
        alone.push_back(continuous_network(docs[k], lib, std::uint64_t(k + 1), x_alone[k]));
        hosts.push_back(lockstep.back().get());
    }
    cuda::device_engine ensemble(hosts);
    std::vector<std::unique_ptr<cuda::device_engine>> singles;
    for (auto& n: alone) singles.push_back(std::make_unique<cuda::device_engine>(*n));
    rng data(5);
    std::vector<std::int32_t> labels(16);
    for (int p = 0; p < 4; ++p) {
        draw_batch(*lockstep[0], data, labels);
        for (int k = 0; k < K; ++k) lockstep[k]->input() = alone[k]->input() = lockstep[0]->input();
        ensemble.set_input(std::vector<const std::int32_t*>(K, labels.data()));
        ensemble.advance(docs[0].protocol.integrator, 0, 20, true);
        for (auto& one: singles) {
            one->set_input({labels.data()});
            one->advance(docs[0].protocol.integrator, 0, 20, true);
        }
    }
    const auto together = ensemble.settle();
    ensemble.download();
    for (int k = 0; k < K; ++k) {
        CAPTURE(k);
        CHECK(together[k].loss_sum == doctest::Approx(singles[k]->settle().at(0).loss_sum).epsilon(1e-5));
        singles[k]->download();
        for (std::size_t g = 0; g < alone[k]->groups().size(); ++g)
            if (alone[k]->groups()[g].plan->learns)
                CHECK(relative_difference(alone[k]->groups()[g].w, lockstep[k]->groups()[g].w) <= 1e-5);
    }
    CHECK(relative_difference(lockstep[0]->grp("W1").w, lockstep[1]->grp("W1").w) > 1e-2);
}

TEST_CASE("cuda: a continuous run on the device records what the CPU run records, to float rounding") {
    const std::vector<std::string> base = {"circuit.sizes=[20, 32, 24, 4]", "protocol.epochs=2",
                                           "protocol.dataset={name: teacher}", "protocol.record.sample_every_ms=5",
                                           "protocol.record.populations=[h4]", "protocol.record.weights_every_ms=400"};
    check_device_recording("sal_continuous", base, "continuous");
}

TEST_CASE("cuda: a discrete device ensemble records per member what each member records alone on the device") {
    const auto lib = models::standard_library();
    std::vector<run_document> runs;
    for (const char* scale: {"1", "2", "3"})
        runs.push_back(load_run(circuit_file("wm"),
                                {"circuit.sizes=[20, 32, 24, 4]", "protocol.epochs=2", "protocol.batch_size=32",
                                 "protocol.dataset={name: teacher}", "protocol.backend=cuda",
                                 std::string("circuit.eta_scale=") + scale},
                                lib));
    std::vector<std::ostringstream> logs(runs.size());
    std::vector<ensemble_member> members;
    for (std::size_t k = 0; k < runs.size(); ++k)
        members.push_back({&runs[k], testing::temp_dir() / ("together-" + std::to_string(k) + ".h5"), "test", &logs[k]});
    const auto together = train_ensemble(members, lib, 1);
    REQUIRE(together.size() == runs.size());
    for (std::size_t k = 0; k < runs.size(); ++k) {
        CAPTURE(k);
        REQUIRE(together[k].error == nullptr);
        std::ostringstream log;
        train_options opt;
        opt.command_line = "test";
        opt.output = testing::temp_dir() / ("alone-" + std::to_string(k) + ".h5");
        const auto alone = train(runs[k], lib, opt, log);
        REQUIRE(together[k].result.epochs.size() == alone.epochs.size());
        CHECK(together[k].result.epochs.back().test_accuracy ==
              doctest::Approx(alone.epochs.back().test_accuracy).epsilon(1e-3));
        // One snapshot per recorded step, as alone (step 0 and each epoch's end).
        CHECK(snapshot_steps(members[k].output.string()) == snapshot_steps(opt.output.string()));
        CHECK(snapshot_steps(opt.output.string()).size() == 3);
        check_same_weights(opt.output.string(), members[k].output.string(), {"W1", "W2", "W3", "Wbar2"}, 1e-4);
    }
}
