// A document written for continuous mode, run in discrete mode
// (--set protocol.mode=discrete): load_run converts it to the continuous
// mode's own reduction (docs/reference.md, "Continuous documents in discrete
// mode"). The rule rates equal the formula exactly, the converted run is what
// continuous mode computes with instantaneous populations and one Euler step
// per piece, /config records what ran and reads back unchanged, and a short
// run of sal_continuous.yaml completes.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

std::string circuits(const std::string& name) {
    return std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/" + name + ".yaml";
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// The run's /config as `counterstream resume` reads it back.
run_document reread(const run_document& run, const library& lib) {
    YAML::Node root;
    root["circuit"] = YAML::Load(emit_circuit(run.circuit));
    root["protocol"] = YAML::Load(emit_protocol(run.protocol));
    return load_run("run.h5:/config", root, {}, lib);
}

} // namespace

TEST_CASE("discrete mode: sal_continuous.yaml's rule taus become eta = (present_ms - learn_after_ms) / tau, exactly") {
    const auto lib = models::standard_library();
    const auto continuous = load_run(circuits("sal_continuous"), {}, lib);
    const auto discrete = load_run(circuits("sal_continuous"), {"protocol.mode=discrete"}, lib);
    CHECK(continuous.note.empty());
    REQUIRE(continuous.circuit.synapses.size() == discrete.circuit.synapses.size());
    // present_ms 20, learn_after_ms 10 in the file.
    const double window = continuous.protocol.present_ms - continuous.protocol.learn_after_ms;
    CHECK(window == 10);
    int converted = 0;
    for (std::size_t i = 0; i < continuous.circuit.synapses.size(); ++i) {
        const auto& c = continuous.circuit.synapses[i];
        const auto& d = discrete.circuit.synapses[i];
        CAPTURE(c.name);
        REQUIRE(c.name == d.name);
        REQUIRE(bool(c.rule) == bool(d.rule));
        if (!c.rule)
            continue;
        REQUIRE(c.rule->tau);
        REQUIRE(d.rule->eta);
        CHECK_FALSE(d.rule->tau);
        CHECK(*d.rule->eta == window / *c.rule->tau);
        CHECK(d.rule->gamma == c.rule->gamma); // tau_S dS/dt = U - gamma R(S) and S += eta (U - gamma R(S))
        CHECK(d.rule->decay == c.rule->decay);
        ++converted;
    }
    CHECK(converted == 13); // W1-W4, V2-V4, Wbar2-Wbar4, Vbar1-Vbar3 (Vbar4 is the fixed identity)
    CHECK(*discrete.circuit.synapse("W1")->rule->eta == 0.04);
    CHECK(*discrete.circuit.synapse("V2")->rule->eta == 0.00125);
    CHECK(*discrete.circuit.synapse("Wbar2")->rule->eta == 0.004);
    CHECK(*discrete.circuit.synapse("Vbar1")->rule->eta == 0.004);
    CHECK(discrete.circuit.eta_scale == continuous.circuit.eta_scale); // multiplies eta as it divided tau
    for (const auto& p: discrete.circuit.populations)
        CHECK(p.tau == 0);
    // trials 32 -> batch_size; weights_every_ms 20000 / present_ms 20 -> every 1000 steps.
    CHECK(discrete.protocol.batch_size == 32);
    CHECK(discrete.protocol.record.weights_every == 1000);
    CHECK(discrete.protocol.record.metrics_every == 100); // presentations and steps alike
    CHECK(discrete.protocol.record.populations.empty());
    CHECK(discrete.note ==
          "--set protocol.mode=discrete: protocol.mode: discrete reads continuous-mode keys as their reduction: "
          "rule tau -> eta = (present_ms - learn_after_ms) / tau = (20 - 10) / tau (250 -> 0.04, 2500 -> 0.004, "
          "8000 -> 0.00125); trials 32 -> batch_size; weights_every_ms 20000 -> weights_every 1000; ignored: tau of 6 "
          "populations, integrator, record.sample_every_ms, record.populations, record.trial");
}

TEST_CASE("discrete mode: /config records the converted run, which reads back unchanged and without a note") {
    const auto lib = models::standard_library();
    const auto discrete = load_run(circuits("sal_continuous"), {"protocol.mode=discrete"}, lib);
    const std::string circuit = emit_circuit(discrete.circuit), protocol = emit_protocol(discrete.protocol);
    CHECK(circuit.find("tau") == std::string::npos);
    CHECK(protocol.find("batch_size: 32") != std::string::npos);
    CHECK(protocol.find("weights_every: 1000") != std::string::npos);
    for (const char* key: {"present_ms", "learn_after_ms", "trials", "integrator", "sample_every_ms"})
        CHECK_MESSAGE(protocol.find(key) == std::string::npos, key);
    const auto again = reread(discrete, lib);
    CHECK(again.note.empty());
    CHECK(emit_circuit(again.circuit) == circuit);
    CHECK(emit_protocol(again.protocol) == protocol);
}

TEST_CASE("discrete mode: what the document gives wins over a conversion, and nothing converts without cause") {
    const auto lib = models::standard_library();
    const auto doc =
        load_run(circuits("sal_continuous"),
                 {"protocol.mode=discrete", "protocol.batch_size=64", "protocol.record.weights_every=7"}, lib);
    CHECK(doc.protocol.batch_size == 64);
    CHECK(doc.protocol.record.weights_every == 7);
    CHECK(doc.note.find("; ignored: trials, record.weights_every_ms, tau of 6 populations, integrator,") !=
          std::string::npos);
    // A discrete document needs no note.
    CHECK(load_run(circuits("sal"), {}, lib).note.empty());
    // present_ms without a rule tau to convert is only ignored.
    const auto sal = load_run(circuits("sal"), {"protocol.present_ms=5"}, lib);
    CHECK(sal.note.rfind(circuits("sal") + ":", 0) == 0);
    CHECK(sal.note.ends_with(": protocol.mode: discrete reads continuous-mode keys as their reduction: ignored: "
                             "present_ms"));
}

// Continuous mode with every population instantaneous and Euler steps of
// dt = present_ms (one step per piece: [0, learn_after_ms) without
// plasticity, which then changes nothing, and [learn_after_ms, present_ms]
// with it) is the discrete run with the converted rates.
TEST_CASE("discrete mode: the converted run is continuous mode's own reduction, learn_after_ms > 0 included") {
    const auto lib = models::standard_library();
    const auto document = [](const std::string& tau) {
        return testing::write_file("reduction-" + tau + ".yaml", R"(circuit:
  motif: )" + testing::motif("sal") + R"(
  sizes: [7, 6, 5, 4]
  eta_scale: 3
  populations: {hidden: {tau: )" + tau + R"(}, downstream: {tau: )" + tau +
                                                                     R"(}}
  synapses:
    W{l}: {rule: {eta: null, tau: 700}}
    V{l}: {rule: {eta: null, tau: 23000}}
    Wbar{l}: {rule: {eta: null, tau: 7000}}
    Vbar{l}: {rule: {eta: null, tau: 7000}}
protocol:
  mode: continuous
  present_ms: 12
  learn_after_ms: 5
  trials: 8
  integrator: {method: euler, dt_ms: 12}
  dataset: {name: teacher}
)");
    };
    // Discrete: the population taus (1 ms) are ignored; continuous: they are 0.
    const auto discrete = load_run(document("1"), {"protocol.mode=discrete"}, lib);
    const auto continuous = load_run(document("0"), {}, lib);
    CHECK(*discrete.circuit.synapse("W1")->rule->eta == 7.0 / 700);
    const int trials = 8;
    REQUIRE(discrete.protocol.batch_size == trials);
    network d(discrete.circuit, lib, 3, trials), c(continuous.circuit, lib, 3, trials, sim_mode::continuous);
    for (std::size_t g = 0; g < d.groups().size(); ++g)
        REQUIRE((d.groups()[g].w.array() == c.groups()[g].w.array()).all());
    Eigen::VectorXf x(c.state_size());
    c.write_state(x.data());
    integrator integ(c, continuous.protocol.integrator);
    const double present = continuous.protocol.present_ms, learn_after = continuous.protocol.learn_after_ms;
    rng r(11);
    std::vector<std::int32_t> labels(trials);
    for (int k = 0; k < 100; ++k) {
        for (Eigen::Index i = 0; i < d.input().size(); ++i)
            d.input().data()[i] = float(r.normal());
        for (auto& y: labels)
            y = std::int32_t(r.below(4));
        c.input() = d.input();
        d.forward(labels.data());
        d.learn();
        integ.advance(x, 0, learn_after, labels.data(), false);
        integ.advance(x, learn_after, present, labels.data(), true);
    }
    CHECK(integ.steps() == 200); // dt is the most a step spans inside each piece
    const network fresh(discrete.circuit, lib, 3, trials);
    int compared = 0;
    for (std::size_t g = 0; g < d.groups().size(); ++g) {
        const auto& a = d.groups()[g];
        if (!a.plan->learns)
            continue;
        CAPTURE(a.spec->name);
        CHECK((a.w - c.groups()[g].w).norm() <= 1e-5f * a.w.norm());
        CHECK((a.w - fresh.groups()[g].w).norm() > 1e-3f * a.w.norm()); // ...and the weights moved far more
        ++compared;
    }
    CHECK(compared > 0);
}

TEST_CASE("discrete mode: a short run of sal_continuous.yaml completes and records the converted run") {
    const auto lib = models::standard_library();
    const auto doc = load_run(circuits("sal_continuous"),
                              {"protocol.mode=discrete", "circuit.sizes=[20, 32, 4]",
                               "protocol.dataset={name: teacher}", "protocol.max_steps=50"},
                              lib);
    train_options opt;
    opt.output = testing::temp_dir() / "discrete-from-continuous.h5";
    opt.command_line = "test";
    opt.threads = 1;
    std::ostringstream log;
    const auto r = train(doc, lib, opt, log);
    CHECK_FALSE(r.diverged);
    CHECK(r.steps == 50);
    REQUIRE(r.epochs.size() == 1);
    CHECK(r.epochs.back().test_accuracy > 0.4); // 50 steps of 32 samples; chance is 25%
    const auto config = recorder::read_config(opt.output);
    CHECK(config.circuit_yaml == emit_circuit(doc.circuit));
    CHECK(config.protocol_yaml == emit_protocol(doc.protocol));
    CHECK(config.circuit_yaml.find("eta: 0.04") != std::string::npos);
    CHECK(config.circuit_yaml.find("tau") == std::string::npos);
}

TEST_CASE("discrete mode: `counterstream run` prints the note after its run line") {
    const auto dir = testing::temp_dir() / "discrete-note";
    std::filesystem::create_directories(dir);
    const std::string command = "cd '" + dir.string() + "' && " + COUNTERSTREAM_BINARY + " run " +
                                circuits("sal_continuous") +
                                " --set protocol.mode=discrete --set 'circuit.sizes=[20, 16, 4]' --set "
                                "'protocol.dataset={name: teacher}' --set protocol.max_steps=4 -o out.h5 --threads 1 "
                                "> stdout.txt 2> stderr.txt";
    REQUIRE(std::system(command.c_str()) == 0);
    const std::string out = slurp((dir / "stdout.txt").string());
    INFO(out);
    const auto run_line = out.find("run " + circuits("sal_continuous") + " -> out.h5\n");
    const auto note = out.find("\nnote: --set protocol.mode=discrete: protocol.mode: discrete reads continuous-mode "
                               "keys as their reduction: rule tau -> eta");
    CHECK(run_line == 0);
    CHECK(note != std::string::npos);
    CHECK(out.find("epoch   1") > note);
    CHECK(slurp((dir / "stderr.txt").string()).empty());
}
