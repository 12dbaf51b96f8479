// The loop of train_continuous() once for K instances: the shared parts (the
// data stream, the schedule, max_steps, stops) once, and every instance's
// presentation, records and evaluation as a call spread over the threads.
#include "protocols/train_ensemble.hpp"

#include "protocols/continuous_support.hpp"
#include "protocols/run_support.hpp"
#include "sim/ensemble.hpp"
#include "sim/error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <ostream>

namespace counterstream {

namespace {

using clock_type = std::chrono::steady_clock;

// One member's run: its recording, its running totals and its outcome.
struct member_run {
    const ensemble_member* member = nullptr;
    std::unique_ptr<continuous_recording> out;
    Eigen::VectorXf settle;
    running_totals epoch, window;
    bool snapshot_current = true; // the last snapshot holds the weights now
    bool active = true;
    ensemble_outcome outcome;
};

} // namespace

std::string ensemble_key(const run_document& run) {
    if (run.protocol.mode != "continuous")
        return {};
    protocol_spec p = run.protocol;
    // Without shuffling the seed only initializes the circuit.
    if (!p.shuffle)
        p.seed = 0;
    return emit_protocol(p);
}

std::vector<ensemble_outcome> train_ensemble(const std::vector<ensemble_member>& members, const library& lib,
                                             int threads) {
    if (members.empty())
        return {};
    const std::string key = ensemble_key(*members.front().run);
    for (const auto& m: members)
        if (key.empty() || ensemble_key(*m.run) != key)
            throw internal_error("train_ensemble: the members differ in their data stream or schedule");
    const run_document& first = *members.front().run;
    const protocol_spec& proto = first.protocol;
    // Data first: a missing or corrupt dataset must fail before any recording exists.
    const datasets::dataset data = load_matching_dataset(first);
    const int B = proto.trials;

    std::vector<ensemble::instance> instances;
    for (const auto& m: members)
        instances.push_back({m.run->circuit, m.run->protocol.seed});
    ensemble ens(instances, lib, B, proto.integrator);
    ens.set_threads(threads);

    std::vector<member_run> runs(members.size());
    for (std::size_t k = 0; k < members.size(); ++k)
        runs[k].member = &members[k];
    // fn for every member still running; an exception ends only its member.
    const auto each = [&](const std::function<void(member_run&, int)>& fn) {
        ens.for_each([&](int k) {
            member_run& m = runs[std::size_t(k)];
            if (!m.active)
                return;
            try {
                fn(m, k);
            } catch (...) {
                m.outcome.error = std::current_exception();
                m.active = false;
            }
        });
    };
    const auto any_active = [&] {
        return std::any_of(runs.begin(), runs.end(), [](const auto& m) { return m.active; });
    };

    each([&](member_run& m, int k) {
        const run_document& run = *m.member->run;
        if (ens.net(k).input().rows() != data.n_features())
            throw input_error(run.file + ": circuit input has " + std::to_string(ens.net(k).input().rows()) +
                              " neurons but the ensemble's dataset has " + std::to_string(data.n_features()) +
                              " features");
        run_info info;
        info.command_line = m.member->command_line;
        info.seed = run.protocol.seed;
        info.circuit_yaml = emit_circuit(run.circuit);
        info.protocol_yaml = emit_protocol(run.protocol);
        m.out = std::make_unique<continuous_recording>(m.member->output, info, run);
        m.settle.resize(ens.net(k).state_size());
        m.out->snapshot(ens.net(k), 0);
        m.out->flush();
    });

    presentation_stream stream(data.train, proto);
    matrix input(data.n_features(), B);
    std::vector<std::int32_t> labels(B);
    const std::vector<segment_end> ends = segment_ends(proto);
    const std::int64_t per_epoch = stream.per_epoch();
    const std::int64_t weights_every = snapshot_every(proto);
    const auto reached_max = [&](std::int64_t n) { return proto.max_steps > 0 && n >= proto.max_steps; };

    stop_signals signals;
    std::int64_t presentation = 0;
    for (int epoch = 1; epoch <= proto.epochs && any_active(); ++epoch) {
        stream.start_epoch();
        for (auto& m: runs)
            m.epoch = m.window = {};
        const auto t0 = clock_type::now();
        for (std::int64_t k = 0; k < per_epoch; ++k) {
            stream.read(k, input, labels.data());
            ++presentation;
            const double epoch_fraction = epoch - 1 + double(k + 1) / double(per_epoch);
            each([&](member_run& m, int i) {
                network& net = ens.net(i);
                Eigen::VectorXf& x = ens.state(i);
                net.input() = input;
                const loss_result r = present(net, ens.integ(i), x, m.settle, ends, proto, labels.data(), *m.out);
                m.snapshot_current = false;
                const std::string why = divergence(net, r, presentation, proto.guard);
                if (!why.empty()) {
                    m.outcome.result.diverged = true;
                    m.outcome.result.steps = presentation;
                    log_divergence(*m.member->log, presentation, why, proto.guard);
                    m.out->diverged_row(presentation, epoch);
                    m.out->flush();
                    m.active = false;
                    return;
                }
                m.epoch.add(r, B);
                m.window.add(r, B);
                if (proto.record.metrics_every > 0 && presentation % proto.record.metrics_every == 0) {
                    m.out->window_row(presentation, epoch_fraction, m.window);
                    m.window = {};
                }
                if (weights_every > 0 && presentation % weights_every == 0) {
                    m.out->snapshot(net, presentation);
                    m.snapshot_current = true;
                }
                if (m.out->flush_due())
                    m.out->flush();
            });
            if (!any_active() || reached_max(presentation) || stop_requested)
                break;
        }
        const double seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
        const bool stopping = stop_requested;
        each([&](member_run& m, int i) {
            network& net = ens.net(i);
            const auto [test_loss, test_acc] = evaluate(net, data.test, proto.eval_batch, B);
            net.bind_state(ens.state(i).data());
            epoch_summary s;
            s.epoch = epoch;
            s.step = presentation;
            s.train_loss = m.epoch.loss / double(std::max<std::int64_t>(1, m.epoch.seen));
            s.train_accuracy = double(m.epoch.correct) / double(std::max<std::int64_t>(1, m.epoch.seen));
            s.test_loss = test_loss;
            s.test_accuracy = test_acc;
            s.samples_per_second = double(m.epoch.seen) / std::max(seconds, 1e-9);
            m.outcome.result.epochs.push_back(s);
            m.out->epoch_row(s);
            if (weights_every == 0) {
                m.out->snapshot(net, presentation);
                m.snapshot_current = true;
            }
            m.out->flush();
            log_epoch(*m.member->log, s, m.epoch.seen / B, seconds);
            if (stopping) {
                m.outcome.result.interrupted = true;
                m.outcome.result.stop_signal = stop_signal;
                log_interrupted(*m.member->log, presentation);
            }
        });
        if (stopping || reached_max(presentation))
            break;
    }
    each([&](member_run& m, int i) {
        if (!m.snapshot_current)
            m.out->snapshot(ens.net(i), presentation);
        m.out->flush();
        m.outcome.result.steps = presentation;
    });

    std::vector<ensemble_outcome> outcomes;
    for (auto& m: runs) {
        m.out.reset(); // closes the file
        outcomes.push_back(std::move(m.outcome));
    }
    return outcomes;
}

} // namespace counterstream
