// The motif language: population and group templates with names of their
// own, made at the layers they state; circuits that add, override, merge,
// replace and erase templates; and the mistakes that used to vanish (a group
// naming a population that does not exist, an output cut off from the input)
// reported where they were written. The shipped DFA motif is checked for its
// defining computation and for learning in both modes.
#include "analysis/analyze.hpp"
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/error.hpp"
#include "sim/network.hpp"
#include "tests/support/h5_tables.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

using namespace counterstream;

namespace {

const std::string protocol = "protocol: {batch_size: 16, max_steps: 2, dataset: {name: teacher}}\n";

run_document load(const std::string& name, const std::string& text, const std::vector<std::string>& sets = {}) {
    return load_run(testing::write_file(name + ".yaml", text), sets, models::standard_library());
}

// The error lines of a document that must not load.
std::string load_error(const std::string& name, const std::string& text) {
    try {
        load(name, text);
    } catch (const input_error& e) {
        return e.what();
    }
    FAIL("the document loaded: " << text);
    return {};
}

// "name:size ..." in the order made
std::string population_names(const circuit_spec& c) {
    std::string out;
    for (const auto& p: c.populations)
        out += (out.empty() ? "" : " ") + p.name + ":" + std::to_string(p.size);
    return out;
}

// "name:from>to ..." in the order made
std::string group_names(const circuit_spec& c) {
    std::string out;
    for (const auto& s: c.synapses)
        out += (out.empty() ? "" : " ") + s.name + ":" + s.from + ">" + s.to;
    return out;
}

std::string dfa(const std::string& sizes, const std::string& extra = "") {
    return "circuit:\n  motif: " + testing::motif("dfa") + "\n  sizes: " + sizes + "\n" + extra + protocol;
}

} // namespace

TEST_CASE("a motif's templates make populations and groups of its own names at the layers they state") {
    const auto doc = load("dfa-names", dfa("[7, 6, 5, 4]"));
    const auto& c = doc.circuit;
    CHECK(population_names(c) == "pyr1:7 pyr2:6 pyr3:5 pyr4:4 inter2:6 inter3:5 fb:4");
    CHECK(group_names(c) == "up1:pyr1>pyr2 up2:pyr2>pyr3 sense2:pyr2>inter2 B2:fb>inter2 teach2:inter2>pyr2 "
                            "up3:pyr3>pyr4 sense3:pyr3>inter3 B3:fb>inter3 teach3:inter3>pyr3 top:fb>pyr4");
    CHECK(c.population("fb")->role == population_role::error);
    CHECK(c.population("fb")->of == "pyr4");
    CHECK(c.population("pyr1")->role == population_role::input);
}

TEST_CASE("layers: all, first, hidden, last, once and ranges with L") {
    const std::string motif = R"(params: {g: 1}
populations:
  a: {name: "a{l}", layers: all}
  f: {name: "f{l}", layers: first, role: input}
  h: {name: "h{l}", layers: hidden, size: 3}
  t: {name: "t{l}", layers: last}
  r: {name: "r{l}", layers: [2, L-2], size: "{feedback_width}"}
  bias: {size: 1}
  e: {layers: once, size: 2, role: error, of: "t{L}", loss: mse}
synapses:
  W{l}: {from: "a{l}", to: "a{l+1}", target: basal, plastic: false}
  in: {from: f1, to: a1, target: basal, plastic: false}
  out: {from: "a{L}", to: "t{L}", target: basal, plastic: false}
  R{l}: {layers: [2, L-2], from: "h{l}", to: "r{l}", target: basal, plastic: false}
  O{l}: {layers: last, from: "a{l}", to: "t{l}", target: apical, plastic: false}
)";
    const auto file = testing::write_file("layers-motif.yaml", motif);
    const auto doc =
        load("layers", "circuit:\n  motif: " + file + "\n  sizes: [5, 8, 6, 4, 2]\n  feedback_ratio: 0.5\n" + protocol);
    CHECK(population_names(doc.circuit) == "a1:5 a2:8 a3:6 a4:4 a5:2 f1:5 h2:3 h3:3 h4:3 t5:2 r2:4 r3:3 bias:1 e:2");
    CHECK(group_names(doc.circuit) ==
          "W1:a1>a2 W2:a2>a3 R2:h2>r2 W3:a3>a4 R3:h3>r3 W4:a4>a5 O5:a5>t5 in:f1>a1 out:a5>t5");
}

TEST_CASE("a circuit adds a per-layer template, erases another, and overrides by template or by name") {
    // DFA on the fixed-bridge motif: the random chain Wbar{l} gives way to a
    // direct projection from the error to every hidden layer.
    const auto doc = load("two-stream-dfa", "circuit:\n  motif: " + testing::motif("two_stream") +
                                                R"(
  sizes: [7, 6, 5, 4]
  loss: cross_entropy
  populations:
    hidden: {tau: 0}
    h3: {activation: tanh}
  synapses:
    Wbar{l}: null
    F{l}: {layers: hidden, from: e, to: "hbar{l}", target: basal, plastic: false}
    W2: {init: {gain: 0.25}}
)" + protocol);
    const auto& c = doc.circuit;
    CHECK(group_names(c) == "W1:h1>h2 Vbar1:hbar2>h2 W2:h2>h3 V2:h2>hbar2 Vbar2:hbar3>h3 F2:e>hbar2 W3:h3>h4 "
                            "V3:h3>hbar3 Vbar3:e>h4 F3:e>hbar3");
    CHECK(c.population("h2")->activation == "relu");
    CHECK(c.population("h3")->activation == "tanh");
    // Merging keeps the template's kind and replaces only the gain.
    CHECK(c.synapse("W2")->init.kind == "normal");
    CHECK(c.synapse("W2")->init.params.gain == 0.25);
}

TEST_CASE("overrides merge key by key, and !replace replaces the map it tags") {
    // sal.yaml's top Vbar is `init: !replace {kind: identity}` over the
    // template's normal init with gain {gain_feedback}: the identity keeps no gain.
    const auto doc = load("merge-replace", "circuit:\n  motif: " + testing::motif("sal") + R"(
  sizes: [7, 6, 5, 4]
  loss: cross_entropy
  params: {gain_feedback: 0.5}
  synapses:
    V2: {init: {kind: uniform}}
    V3: {init: !replace {kind: uniform}}
)" + protocol);
    const auto& c = doc.circuit;
    CHECK(c.synapse("Vbar1")->init.kind == "normal");
    CHECK(c.synapse("Vbar1")->init.params.gain == 0.5);
    CHECK(c.synapse("Vbar3")->init.kind == "identity");
    CHECK(c.synapse("Vbar3")->init.params.gain == 1);
    CHECK(c.synapse("V2")->init.params.gain == 0.5); // merged: the template's gain stays
    CHECK(c.synapse("V3")->init.params.gain == 1);   // replaced
}

TEST_CASE("a group naming a population that does not exist at a layer is an error, not a silent drop") {
    const std::string populations = R"(populations:
  input: {name: "h{l}", layers: first, role: input}
  hidden: {name: "h{l}", layers: hidden, activation: relu}
  output: {name: "h{l}", layers: last}
  down: {name: "d{l}", layers: hidden}
  e: {layers: last, role: error, of: "h{l}", loss: cross_entropy}
synapses:
  W{l}: {from: "h{l}", to: "h{l+1}", target: basal, plastic: false}
)";
    const auto motif = testing::write_file(
        "drop-motif.yaml", populations + "  V{l}: {from: \"h{l}\", to: \"d{l}\", target: gate, plastic: false}\n");
    const auto err = load_error("drop", "circuit:\n  motif: " + motif + "\n  sizes: [7, 6, 4]\n" + protocol);
    CHECK(err.find("drop-motif.yaml:9:") != std::string::npos);
    CHECK(err.find("synapses.V{l}.to: no population 'd1' at l = 1 (did you mean 'd2'?; limit the template's "
                   "layers: to where its populations exist)") != std::string::npos);
    // Stating the range is the fix.
    const auto fixed = testing::write_file(
        "drop-motif-fixed.yaml",
        populations + "  V{l}: {layers: hidden, from: \"h{l}\", to: \"d{l}\", target: gate, plastic: false}\n");
    CHECK(
        group_names(load("drop-fixed", "circuit:\n  motif: " + fixed + "\n  sizes: [7, 6, 4]\n" + protocol).circuit) ==
        "W1:h1>h2 W2:h2>h3 V2:h2>d2");
}

TEST_CASE("an output that no input reaches through rate-driving synapses is an error") {
    // W2 lands on the output's apical compartment, which does not drive its
    // rate (apical_gain 0): the circuit would train at chance.
    const auto err = load_error("no-path", R"(circuit:
  populations:
    x: {size: 5, role: input}
    h: {size: 4, activation: relu}
    y: {size: 3}
    e: {size: 3, role: error, loss: cross_entropy, of: y}
  synapses:
    W1: {from: x, to: h, target: basal, plastic: false}
    W2: {from: h, to: y, target: apical, plastic: false}
)" + protocol);
    CHECK(err.find("circuit.populations.e.of: no path from an input population to the output 'y'") !=
          std::string::npos);
}

TEST_CASE("DFA: each hidden layer's apical current is its own random projection of the error, gated by f'") {
    const auto doc = load("dfa-current", dfa("[7, 6, 5, 4]", "  loss: cross_entropy\n"));
    const auto lib = models::standard_library();
    network net(doc.circuit, lib, 3, 9);
    rng r(5);
    auto& x = net.input();
    for (Eigen::Index j = 0; j < x.cols(); ++j)
        for (Eigen::Index i = 0; i < x.rows(); ++i)
            x(i, j) = float(r.normal());
    std::vector<std::int32_t> labels(9);
    for (auto& y: labels)
        y = std::int32_t(r.below(4));
    net.forward(labels.data());
    const Eigen::MatrixXf e = net.pop("fb").rate;
    for (const char* l: {"2", "3"}) {
        CAPTURE(l);
        const Eigen::MatrixXf h = net.pop(std::string("pyr") + l).rate;
        const Eigen::MatrixXf b = net.grp(std::string("B") + l).w;
        const Eigen::MatrixXf expected = (b * e).cwiseProduct((h.array() > 0).cast<float>().matrix());
        const Eigen::MatrixXf apical = net.pop(std::string("pyr") + l).current[int(compartment::apical)];
        CHECK((apical - expected).cwiseAbs().maxCoeff() <= 1e-5f * (1 + expected.cwiseAbs().maxCoeff()));
        CHECK(expected.cwiseAbs().maxCoeff() > 0); // the check is not vacuous
    }
    // The output's apical current is the error itself.
    const Eigen::MatrixXf top = net.pop("pyr4").current[int(compartment::apical)];
    CHECK((top - e).cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("DFA learns the teacher task in discrete and in continuous mode, and records") {
    const auto lib = models::standard_library();
    std::ostringstream log;
    train_options opt;
    opt.threads = 1;
    opt.command_line = "test";
    SUBCASE("discrete") {
        const auto doc = load("dfa-discrete", dfa("[20, 32, 32, 4]", "  loss: cross_entropy\n"),
                              {"protocol.epochs=3", "protocol.max_steps=0", "protocol.batch_size=32",
                               "protocol.dataset={name: teacher, teacher: {train: 4096, test: 1024}}"});
        opt.output = testing::temp_dir() / "dfa-discrete.h5";
        const auto res = train(doc, lib, opt, log);
        REQUIRE(res.epochs.size() == 3);
        CHECK_FALSE(res.diverged);
        CHECK(res.epochs.back().test_accuracy > 0.7); // chance: 25%
        // DFA's signature: the updates of the first layer start orthogonal to
        // the gradient (B is random) and come into alignment as W learns.
        analysis::analyze_options a;
        a.input = opt.output;
        REQUIRE(analysis::analyze(a, lib, log) == 0);
        const hid_t f = H5Fopen(opt.output.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
        REQUIRE(f >= 0);
        const auto angle = testing::read_doubles(f, "/analysis/theorem1/up1/angle_to_gradient");
        H5Fclose(f);
        REQUIRE(angle.size() >= 2);
        CHECK(angle.front() > 75);
        CHECK(angle.back() < angle.front() - 20);
    }
    SUBCASE("continuous") {
        const auto doc = load("dfa-continuous", dfa("[20, 32, 32, 4]", R"(  loss: cross_entropy
  populations:
    pyr: {tau: 1}
    inter: {tau: 1}
  synapses:
    up{l}: {rule: {eta: null, tau: 100}}
)"),
                              {"protocol=!replace {mode: continuous, epochs: 1, max_steps: 192, present_ms: 10, "
                               "learn_after_ms: 5, trials: 16, integrator: {method: rk4, dt_ms: 1}, "
                               "dataset: {name: teacher}, record: {sample_every_ms: 1, populations: [pyr2], "
                               "trial: 0, metrics_every: 0}}"});
        opt.output = testing::temp_dir() / "dfa-continuous.h5";
        const auto res = train(doc, lib, opt, log);
        REQUIRE(res.epochs.size() == 1);
        CHECK_FALSE(res.diverged);
        CHECK(res.epochs.back().test_accuracy > 0.6);
    }
}
