// Every class of user mistake in a circuit file gives one line naming the
// file, line, column and key path; all errors of a file come together.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "sim/error.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sys/wait.h>
#include <string>

using namespace counterstream;

namespace {

const char* explicit_circuit = R"(circuit:
  populations:
    x: {size: 4, role: input}
    y: {size: 3, activation: linear}
    e: {size: 3, role: error, loss: cross_entropy, of: y}
  synapses:
    W: {from: x, to: y, target: basal, rule: {post: apical, pre: rate, eta: 0.1}}
    B: {from: e, to: y, target: apical, init: identity, plastic: false}
protocol: {dataset: {name: teacher}}
)";

// The error lines for a document; fails the test if it loads.
std::vector<std::string> errors_of(const std::string& name, const std::string& text) {
    const auto file = testing::write_file(name, text);
    try {
        load_run(file, {}, models::standard_library());
    } catch (const input_error& e) {
        return e.lines();
    }
    FAIL("expected an input_error for " << name);
    return {};
}

// The one error line of a document that must fail with exactly one error.
std::string only_error(const std::string& name, const std::string& text) {
    const auto lines = errors_of(name, text);
    REQUIRE(lines.size() == 1);
    return lines[0];
}

bool contains(const std::string& line, const std::string& needle) { return line.find(needle) != std::string::npos; }

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

bool has_line(const std::vector<std::string>& lines, const std::string& needle) {
    for (const auto& l: lines)
        if (l.find(needle) != std::string::npos) return true;
    return false;
}

} // namespace

TEST_CASE("the reference document loads") {
    const auto file = testing::write_file("ok.yaml", explicit_circuit);
    CHECK_NOTHROW(load_run(file, {}, models::standard_library()));
}

TEST_CASE("unknown key: did-you-mean, file:line:col and key path") {
    const auto line = only_error("unknown.yaml", replace(explicit_circuit, "activation: linear", "activaton: linear"));
    CHECK(contains(line, "unknown.yaml:4:18: circuit.populations.y.activaton: unknown key 'activaton'"));
    CHECK(contains(line, "did you mean 'activation'"));
}

TEST_CASE("unknown value names the known ones") {
    const auto line = only_error("value.yaml", replace(explicit_circuit, "activation: linear", "activation: rleu"));
    CHECK(contains(line, "value.yaml:4:30: circuit.populations.y.activation: unknown value 'rleu'"));
    CHECK(contains(line, "did you mean 'relu'"));
}

TEST_CASE("missing population") {
    const auto line = only_error("missing.yaml", replace(explicit_circuit, "from: x, to: y", "from: x9, to: y"));
    CHECK(contains(line, "missing.yaml:7:8: circuit.synapses.W.from: no population 'x9' (populations: x, y, e)"));
}

TEST_CASE("size mismatch between an error population and its output") {
    const auto line = only_error("size.yaml", replace(explicit_circuit, "e: {size: 3", "e: {size: 2"));
    CHECK(contains(line, "size.yaml:5:8: circuit.populations.e.size:"));
    CHECK(contains(line, "has 2 neurons but its output 'y' has 3"));
}

TEST_CASE("bad values: not a number, out of range") {
    auto text = replace(explicit_circuit, "eta: 0.1", "eta: fast");
    text = replace(text, "size: 4", "size: -4");
    const auto lines = errors_of("bad.yaml", text);
    REQUIRE(lines.size() == 2); // all errors of the file together
    CHECK(has_line(lines, "bad.yaml:3:15: circuit.populations.x.size: -4 is out of range"));
    CHECK(has_line(lines, "circuit.synapses.W.rule.eta: expected a number, got 'fast'"));
}

TEST_CASE("both or neither of eta and tau") {
    CHECK(contains(only_error("both.yaml", replace(explicit_circuit, "eta: 0.1", "eta: 0.1, tau: 20")),
                   "both.yaml:7:46: circuit.synapses.W.rule: give either eta"));
    CHECK(contains(only_error("neither.yaml", replace(explicit_circuit, ", eta: 0.1", "")),
                   "neither.yaml:7:46: circuit.synapses.W.rule: missing eta"));
}

TEST_CASE("a cycle through rate-driving synapses is an error in discrete mode") {
    auto text = replace(explicit_circuit, "    B: {", "    R: {from: z, to: y, target: basal, init: zeros, plastic: false}\n"
                                          "    S: {from: y, to: z, target: basal, init: zeros, plastic: false}\n    B: {");
    text = replace(text, "    e: {", "    z: {size: 3}\n    e: {");
    const auto line = only_error("cycle.yaml", text);
    CHECK(contains(line, "cycle.yaml:4:8: circuit.populations.y: cycle through rate-driving synapses in discrete mode"));
    CHECK((contains(line, "y -> z -> y") || contains(line, "z -> y -> z")));
}

TEST_CASE("YAML syntax errors name the file and line") {
    const auto line = only_error("syntax.yaml", replace(explicit_circuit, "x: {size: 4, role: input}", "x: {size: 4"));
    CHECK(contains(line, "syntax.yaml:"));
    CHECK(contains(line, "YAML syntax error"));
}

TEST_CASE("keys given twice are reported where the second one is, with its key path") {
    auto duplicates = [](const std::string& text) {
        diagnostics diag;
        check_duplicate_keys(text, "d.yaml", diag);
        return diag.lines();
    };
    // The same key in different maps, list elements and anchors are fine.
    CHECK(duplicates("a: {x: 1}\nb: {x: 1}\nl: [{x: 1}, {x: 2}]\nm: &m {x: 1}\nn: *m\n").empty());
    CHECK(duplicates("").empty());
    CHECK(duplicates("[1, 1]").empty());
    // Block and flow maps, nested in lists; a quoted key is the same key.
    CHECK(duplicates("a: 1\nb: 2\na: 3\n") ==
          std::vector<std::string>{"d.yaml:3:1: a: duplicate key 'a' (first given at 1:1)"});
    CHECK(duplicates("l:\n  - {x: 1, \"x\": 2}\n") ==
          std::vector<std::string>{"d.yaml:2:12: l[0].x: duplicate key 'x' (first given at 2:6)"});
    CHECK(duplicates("a:\n  b:\n    c: 1\n    c: [2]\n  b: 3\n") ==
          std::vector<std::string>{"d.yaml:4:5: a.b.c: duplicate key 'c' (first given at 3:5)",
                                   "d.yaml:5:3: a.b: duplicate key 'b' (first given at 2:3)"});
    // A key that is itself a map: its inside is checked, it is not a plain key.
    CHECK(duplicates("? {k: 1, k: 2}\n: v\nz: 1\n") ==
          std::vector<std::string>{"d.yaml:1:10: k: duplicate key 'k' (first given at 1:4)"});
    // Through load_run: every duplicate of the file, together.
    const auto lines = errors_of(
        "twice.yaml", replace(replace(explicit_circuit, "size: 3, activation", "size: 3, size: 4, activation"),
                              "protocol: {", "protocol: {seed: 1, seed: 2, "));
    CHECK(lines.size() == 2);
    CHECK(has_line(lines, "twice.yaml:4:18: circuit.populations.y.size: duplicate key 'size' (first given at 4:9)"));
    CHECK(has_line(lines, "twice.yaml:9:21: protocol.seed: duplicate key 'seed' (first given at 9:12)"));
}

TEST_CASE("motif parameters and placeholders are checked") {
    const std::string text = "circuit:\n  motif: " + testing::motif("sal") +
                             "\n  sizes: [4, 3, 2]\n  params: {eta_W: 0.1, eta_WW: 2}\nprotocol: {dataset: {name: teacher}}\n";
    CHECK(contains(only_error("params.yaml", text),
                   "params.yaml:4:32: circuit.params.eta_WW: unknown motif parameter 'eta_WW'"));
}

TEST_CASE("--set values are parsed as YAML and named in errors") {
    const auto file = testing::write_file("set.yaml", explicit_circuit);
    try {
        load_run(file, {"protocol.batch_size=[1, 2]"}, models::standard_library());
        FAIL("expected an error");
    } catch (const input_error& e) {
        REQUIRE(e.lines().size() == 1);
        CHECK(e.lines()[0] == "--set protocol.batch_size=[1, 2]: protocol.batch_size: expected a single value");
    }
    const auto doc = load_run(file, {"protocol.batch_size=17", "circuit.populations.y.activation=tanh"},
                              models::standard_library());
    CHECK(doc.protocol.batch_size == 17);
    CHECK(doc.circuit.population("y")->activation == "tanh");
}

TEST_CASE("the command line prints one line per error and exits with 2") {
    const auto file = testing::write_file("cli.yaml", replace(explicit_circuit, "activation: linear", "activaton: linear"));
    const auto out = (testing::temp_dir() / "cli.out").string();
    const int rc = std::system((std::string(COUNTERSTREAM_BINARY) + " expand " + file + " > " + out + " 2>&1").c_str());
    REQUIRE(WIFEXITED(rc));
    CHECK(WEXITSTATUS(rc) == 2);
    std::ifstream in(out);
    std::string line, all;
    int n = 0;
    while (std::getline(in, line)) {
        all += line;
        ++n;
    }
    CHECK(n == 1);
    CHECK(all.find("error: " + file + ":4:18: circuit.populations.y.activaton") == 0);
}
