// A catalogue of bad inputs given to the counterstream command line: each
// must exit with 2 and one clear line on stderr ("error: FILE:LINE:COL:
// KEY.PATH: ..." for documents) naming what is wrong, with no stack trace, no
// "internal error", no recording left behind and no file changed. Every case writes its files
// into a folder of its own and runs the binary there, so messages show the
// short relative names. The valid parts use the synthetic teacher dataset.
#include "sim/runner.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct file {
    std::string path; // relative to the case's folder
    std::string content;
};

struct bad_case {
    std::string name;               // the case's folder
    std::vector<file> files;        // written into the folder first
    std::string args;               // counterstream's arguments, run in the folder
    int code = 2;                   // the exit code
    std::vector<std::string> words; // each must appear on stderr
    std::string setup = {};         // shell command run first in the folder ({bin}: the binary); must succeed
    int lines = 1;                  // lines on stderr (one per mistake)
};

// ---- documents: valid, then changed by one mistake ----

// A discrete run on the teacher task (20 inputs, 4 classes), two steps.
const std::string discrete = R"(circuit:
  populations:
    x: {size: 20, role: input}
    y: {size: 4, activation: linear}
    e: {size: 4, role: error, loss: cross_entropy, of: y}
  synapses:
    W: {from: x, to: y, target: basal, rule: {post: apical, pre: rate, eta: 0.1}}
    B: {from: e, to: y, target: apical, init: identity, plastic: false}
protocol:
  epochs: 1
  batch_size: 32
  max_steps: 2
  dataset: {name: teacher, teacher: {train: 64, test: 32}}
)";

const std::string teacher_dataset = "{name: teacher, teacher: {train: 64, test: 32}}";

// A continuous run: two relaxing layers, rule time constants, a SONATA report.
const std::string continuous = R"(circuit:
  populations:
    x: {size: 20, role: input}
    h: {size: 8, activation: relu, tau: 1}
    y: {size: 4, activation: linear, tau: 1}
    e: {size: 4, role: error, loss: cross_entropy, of: y}
  synapses:
    W1: {from: x, to: h, target: basal, rule: {post: apical, pre: rate, tau: 250}}
    W2: {from: h, to: y, target: basal, rule: {post: apical, pre: rate, tau: 250}}
    B: {from: e, to: y, target: apical, init: identity, plastic: false}
protocol:
  mode: continuous
  epochs: 1
  present_ms: 10
  learn_after_ms: 5
  trials: 4
  max_steps: 2
  integrator: {method: euler, dt_ms: 1}
  dataset: {name: teacher, teacher: {train: 16, test: 8}}
  record: {sample_every_ms: 1, populations: [y], trial: 0}
)";

// A stacked circuit on a shipped motif (absolute path: the case folders are elsewhere).
std::string stacked(const std::string& motif, const std::string& sizes, const std::string& extra = "") {
    return "circuit:\n  motif: " + counterstream::testing::motif(motif) + "\n  sizes: " + sizes +
           "\n  loss: cross_entropy\n" + extra +
           "protocol:\n  max_steps: 2\n  batch_size: 32\n  dataset: {name: teacher, teacher: {train: 64, test: 32}}\n";
}

// A small motif (input, hidden, output, a downstream d{l} at hidden layers,
// an error e) with the forward groups and `extra` group lines.
std::string motif_with(const std::string& extra) {
    return R"(populations:
  input: {name: "h{l}", layers: first, role: input}
  hidden: {name: "h{l}", layers: hidden, activation: relu}
  output: {name: "h{l}", layers: last}
  down: {name: "d{l}", layers: hidden}
  e: {layers: last, role: error, of: "h{l}", loss: cross_entropy}
synapses:
  W{l}: {from: "h{l}", to: "h{l+1}", target: basal, rule: {post: apical, pre: rate, eta: 0.1}}
  B: {from: e, to: "h{L}", target: apical, init: identity, plastic: false}
)" + extra;
}

// `text` with its only occurrence of `from` replaced (checked: a typo in a
// case must not silently leave the document valid).
std::string replace(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' is not in the document");
    REQUIRE_MESSAGE(text.find(from, at + 1) == std::string::npos, "'" << from << "' is in the document twice");
    return text.replace(at, from.size(), to);
}

std::vector<file> doc(const std::string& text) { return {{"doc.yaml", text}}; }

// The discrete run with a loop y -> z -> y through rate-driving synapses.
std::string discrete_cycle() {
    return replace(replace(discrete, "    B: {",
                           "    R: {from: z, to: y, target: basal, init: zeros, plastic: false}\n"
                           "    S: {from: y, to: z, target: basal, init: zeros, plastic: false}\n"
                           "    B: {"),
                   "    e: {", "    z: {size: 3}\n    e: {");
}

// The continuous run with a loop h -> y -> h through its relaxing
// populations: recurrent, so fine in continuous mode, a cycle in discrete mode.
std::string continuous_cycle() {
    return replace(continuous, "    B: {",
                   "    R: {from: y, to: h, target: basal, init: zeros, plastic: false}\n    B: {");
}

// The discrete run as doc.yaml and a sweep over it.
std::vector<file> with_sweep(const std::string& sweep) { return {{"doc.yaml", discrete}, {"sweep.yaml", sweep}}; }

// A benchmark of the discrete run: two methods, two teacher tasks, two seeds.
const std::string benchmark = R"(methods:
  A: doc.yaml
  B: doc.yaml
datasets:
  T1: {protocol.dataset.teacher.seed: 1}
  T2: {protocol.dataset.teacher.seed: 2}
seeds: [1, 2]
)";

// The discrete run as doc.yaml and a benchmark of it as bench.yaml.
std::vector<file> with_benchmark(const std::string& text) { return {{"doc.yaml", discrete}, {"bench.yaml", text}}; }

// ---- IDX files ----

std::string big_endian(std::uint32_t v) { return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; }

// An IDX file of element type `type` (0x08: unsigned byte) with `dims`, and
// `n` data bytes (-1: as many as the dims say), byte k = k % modulo.
std::string idx(const std::vector<std::uint32_t>& dims, long n = -1, int modulo = 256, std::uint8_t type = 0x08) {
    std::string s = {0, 0, char(type), char(dims.size())};
    std::uint64_t count = 1;
    for (auto d: dims) {
        s += big_endian(d);
        count *= d;
    }
    if (n < 0)
        n = long(count);
    for (long k = 0; k < n; ++k)
        s += char(k % modulo);
    return s;
}

std::string gzip(const std::string& data) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, uLong(data.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = uInt(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

// doc.yaml (the discrete run on `name: idx, path: data`) and four valid IDX
// files in data/ (8 training and 4 test images of 4 x 5 pixels, labels 0..3),
// with `changes` replacing or adding files (content "" removes one).
std::vector<file> idx_case(const std::vector<file>& changes, const std::string& dataset_extra = "") {
    std::vector<file> files = {
        {"doc.yaml", replace(discrete, teacher_dataset,
                             "{name: idx, path: data" + dataset_extra + "}")},
        {"data/train-images-idx3-ubyte", idx({8, 4, 5})},
        {"data/train-labels-idx1-ubyte", idx({8}, -1, 4)},
        {"data/t10k-images-idx3-ubyte", idx({4, 4, 5})},
        {"data/t10k-labels-idx1-ubyte", idx({4}, -1, 4)},
    };
    for (const auto& c: changes) {
        bool found = false;
        for (auto& f: files)
            if (f.path == c.path) {
                f.content = c.content;
                found = true;
            }
        if (!found)
            files.push_back(c);
    }
    std::vector<file> out;
    for (const auto& f: files)
        if (!f.content.empty())
            out.push_back(f);
    return out;
}

// ---- running a case ----

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (!l.empty())
            out.push_back(l);
    return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

std::set<fs::path> h5_files(const fs::path& dir) {
    std::set<fs::path> out;
    for (const auto& e: fs::recursive_directory_iterator(dir))
        if (e.path().extension() == ".h5")
            out.insert(e.path());
    return out;
}

// Every regular file under dir with its bytes (the command's own logs aside).
std::map<fs::path, std::string> file_contents(const fs::path& dir) {
    std::map<fs::path, std::string> out;
    for (const auto& e: fs::recursive_directory_iterator(dir)) {
        const auto name = e.path().filename();
        if (e.is_regular_file() && name != "stdout.txt" && name != "stderr.txt" && name != "setup.log")
            out[e.path()] = slurp(e.path());
    }
    return out;
}

// Signs of a crash or of a bug reported as such, never right for bad input.
const std::vector<std::string> crash_signs = {
    "internal error",   "terminate called", "what():",        "Aborted",     "Segmentation fault",
    "AddressSanitizer", "LeakSanitizer",    "runtime error:", "Stack trace", "    #0 "};

void check(const bad_case& c) {
    CAPTURE(c.name);
    const fs::path dir = counterstream::testing::temp_dir() / "bad-inputs" / c.name;
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const auto& f: c.files) {
        fs::create_directories((dir / f.path).parent_path());
        std::ofstream(dir / f.path, std::ios::binary) << f.content;
    }
    const std::string bin = COUNTERSTREAM_BINARY;
    if (!c.setup.empty()) {
        const std::string setup =
            "cd '" + dir.string() + "' && (" + replace_all(c.setup, "{bin}", bin) + ") > setup.log 2>&1";
        INFO("setup: " << setup << "\n" << slurp(dir / "setup.log"));
        REQUIRE(std::system(setup.c_str()) == 0);
    }
    const auto h5_before = h5_files(dir);
    const auto files_before = file_contents(dir);
    const std::string command = bin + " " + c.args;
    const std::string shell = "cd '" + dir.string() + "' && " + command + " > stdout.txt 2> stderr.txt";
    const int status = std::system(shell.c_str());
    const std::string out = slurp(dir / "stdout.txt"), err = slurp(dir / "stderr.txt");
    INFO("command (in " << dir.string() << "): counterstream " << c.args);
    INFO("stderr: " << err);
    INFO("stdout: " << out);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == c.code);
    for (const auto& w: c.words) {
        CAPTURE(w);
        CHECK(err.find(w) != std::string::npos);
    }
    for (const auto& s: crash_signs) {
        CAPTURE(s);
        CHECK(err.find(s) == std::string::npos);
        CHECK(out.find(s) == std::string::npos);
    }
    const auto lines = lines_of(err);
    CHECK(lines.size() == std::size_t(c.lines)); // one mistake, one line
    for (const auto& l: lines)
        CHECK(l.rfind("error: ", 0) == 0);
    CHECK(h5_files(dir) == h5_before); // no recording left behind
    const auto files_after = file_contents(dir);
    for (const auto& [path, bytes]: files_before) {
        CAPTURE(path.string());
        CHECK(files_after.count(path) == 1); // nothing removed or overwritten
        if (files_after.count(path))
            CHECK((files_after.at(path) == bytes));
    }
}

void check_all(const std::vector<bad_case>& cases) {
    for (const auto& c: cases)
        check(c);
}

const std::string run = "run doc.yaml -o out.h5";

} // namespace

// The tables keep one case per entry, laid out by hand.
// clang-format off
TEST_CASE("bad inputs: malformed YAML and unreadable documents") {
    check_all({
        {"tab-indent", doc(replace(discrete, "    y: {size: 4", "\ty: {size: 4")), run, 2,
         {"doc.yaml:4:2: YAML syntax error"}},
        {"unclosed-brace", doc(replace(discrete, "x: {size: 20, role: input}", "x: {size: 20, role: input")), run, 2,
         {"doc.yaml:", "YAML syntax error: end of map flow not found"}},
        {"stacked-population-without-size", doc(replace(stacked("sal", "[20, 4]"), "  sizes:", "  populations: {hiden: {tau: 1}}\n  sizes:")), run, 2,
         {"circuit.populations.hiden: no population or template 'hiden' in the motif (did you mean 'hidden'?; a "
         "population the circuit adds needs size:, a template layers:)"}},
        {"unclosed-bracket", doc(stacked("sal", "[20, 4")), run, 2,
         {"doc.yaml:", "YAML syntax error: end of sequence flow not found"}},
        {"unclosed-quote", doc(replace(discrete, "activation: linear}", "activation: \"linear}")), run, 2,
         {"doc.yaml:", "YAML syntax error"}},
        {"empty-file", doc(""), run, 2, {"doc.yaml:1:1: expected a map with circuit: and protocol:"}},
        {"missing-file", {}, run, 2, {"doc.yaml: cannot read file (No such file or directory)"}},
        {"expand-missing-file", {}, "expand nowhere.yaml", 2, {"nowhere.yaml: cannot read file"}},
        {"missing-motif", doc(replace(stacked("sal", "[20, 4]"), counterstream::testing::motif("sal"), "nowhere.yaml")),
         run, 2, {"doc.yaml:2:10: circuit.motif: nowhere.yaml: cannot read file"}},
        {"missing-protocol", doc(discrete.substr(0, discrete.find("protocol:"))), run, 2,
         {"doc.yaml:1:1: missing protocol: (a run document has circuit: and protocol:)"}},
        {"missing-circuit", doc(discrete.substr(discrete.find("protocol:"))), run, 2,
         {"doc.yaml:1:1: missing circuit: (a run document has circuit: and protocol:)"}},
        {"missing-circuit-with-set", doc(discrete.substr(discrete.find("protocol:"))), run + " --set protocol.seed=2", 2,
         {"doc.yaml:1:1: missing circuit:"}},
    });
}

TEST_CASE("bad inputs: folders named as files") {
    check_all({
        {"run-folder", {{"folder/keep", "x\n"}}, "run folder -o out.h5", 2, {"folder: is a folder, not a YAML file"}},
        {"expand-folder", {{"folder/keep", "x\n"}}, "expand folder", 2, {"folder: is a folder, not a YAML file"}},
        {"sweep-folder", {{"folder/keep", "x\n"}}, "sweep folder -o out.h5", 2,
         {"folder: is a folder, not a YAML file"}},
        {"motif-is-a-folder",
         {{"doc.yaml", replace(stacked("sal", "[20, 4]"), counterstream::testing::motif("sal"), "motifs/")},
          {"motifs/keep", "x\n"}},
         run, 2, {"doc.yaml:2:10: circuit.motif: motifs/: is a folder, not a YAML file"}},
        {"sweep-base-is-a-folder", {{"sweep.yaml", "base: folder\ngrid: {protocol.seed: [1]}\n"}, {"folder/keep", "x\n"}},
         "sweep sweep.yaml -o out.h5", 2, {"sweep.yaml:1:7: base:", "folder"}},
    });
}

TEST_CASE("bad inputs: keys given twice") {
    check_all({
        {"duplicate-protocol-key", doc(replace(discrete, "max_steps: 2", "max_steps: 2\n  epochs: 3")), run, 2,
         {"doc.yaml:13:3: protocol.epochs: duplicate key 'epochs' (first given at 10:3)"}},
        {"duplicate-flow-map-key", doc(replace(discrete, "activation: linear}", "activation: linear, size: 5}")), run,
         2, {"doc.yaml:4:38: circuit.populations.y.size: duplicate key 'size' (first given at 4:9)"}},
        {"duplicate-population", doc(replace(discrete, "    e: {size: 4", "    y: {size: 3}\n    e: {size: 4")), run,
         2, {"doc.yaml:5:5: circuit.populations.y: duplicate key 'y' (first given at 4:5)"}},
        {"duplicate-section", doc(discrete + "circuit: {}\n"), run, 2,
         {"doc.yaml:14:1: circuit: duplicate key 'circuit' (first given at 1:1)"}},
        {"duplicate-keys-all-reported",
         doc(replace(replace(discrete, "max_steps: 2", "max_steps: 2\n  batch_size: 8"), "eta: 0.1", "eta: 0.1, eta: 1")),
         run, 2, {"doc.yaml:7:", "circuit.synapses.W.rule.eta: duplicate key 'eta'",
                  "doc.yaml:13:3: protocol.batch_size: duplicate key 'batch_size' (first given at 11:3)"}, "", 2},
        {"duplicate-in-list-element", doc(replace(continuous, "populations: [y]", "populations: [{a: 1, a: 2}]")), run, 2,
         {"doc.yaml:20:", "protocol.record.populations[0].a: duplicate key 'a'"}},
        {"duplicate-in-motif",
         {{"doc.yaml", replace(stacked("sal", "[20, 4]"), counterstream::testing::motif("sal"), "motif.yaml")},
          {"motif.yaml", "params: {eta: 0.1}\nparams: {eta: 0.2}\n"}},
         run, 2, {"doc.yaml:2:10: circuit.motif: motif.yaml:2:1: params: duplicate key 'params' (first given at 1:1)"}},
        {"duplicate-in-sweep", with_sweep("base: doc.yaml\ngrid:\n  protocol.seed: [1, 2]\n  protocol.seed: [3]\n"),
         "sweep sweep.yaml -o out.h5", 2,
         {"sweep.yaml:4:3: grid.protocol.seed: duplicate key 'protocol.seed' (first given at 3:3)"}},
        {"expand-duplicate-key", doc(replace(discrete, "role: input}", "role: input, role: error}")), "expand doc.yaml",
         2, {"doc.yaml:3:32: circuit.populations.x.role: duplicate key 'role' (first given at 3:19)"}},
    });
}

TEST_CASE("bad inputs: values of the wrong type") {
    check_all({
        {"string-for-size", doc(replace(discrete, "size: 20,", "size: big,")), run, 2,
         {"doc.yaml:3:15: circuit.populations.x.size: expected an integer, got 'big'"}},
        {"list-for-eta", doc(replace(discrete, "eta: 0.1", "eta: [0.1]")), run, 2,
         {"doc.yaml:7:", "circuit.synapses.W.rule.eta: expected a single value"}},
        {"string-for-eta", doc(replace(discrete, "eta: 0.1", "eta: fast")), run, 2,
         {"circuit.synapses.W.rule.eta: expected a number, got 'fast'"}},
        {"negative-saturation", doc(replace(discrete, "eta: 0.1", "eta: 0.1, saturation: -1")), run, 2,
         {"doc.yaml:7:", "circuit.synapses.W.rule.saturation: -1 is out of range"}},
        {"string-for-saturation", doc(replace(discrete, "eta: 0.1", "eta: 0.1, saturation: soft")), run, 2,
         {"doc.yaml:7:", "circuit.synapses.W.rule.saturation: expected a number, got 'soft'"}},
        {"map-for-epochs", doc(replace(discrete, "epochs: 1", "epochs: {a: 1}")), run, 2,
         {"doc.yaml:10:11: protocol.epochs: expected a single value"}},
        {"float-for-batch-size", doc(replace(discrete, "batch_size: 32", "batch_size: 1.5")), run, 2,
         {"doc.yaml:11:15: protocol.batch_size: expected an integer, got '1.5'"}},
        {"word-for-boolean", doc(replace(discrete, "epochs: 1", "epochs: 1\n  shuffle: maybe")), run, 2,
         {"doc.yaml:11:12: protocol.shuffle: expected true or false, got 'maybe'"}},
        {"number-for-activation", doc(replace(discrete, "activation: linear", "activation: 3")), run, 2,
         {"doc.yaml:4:30: circuit.populations.y.activation: unknown value '3'", "known: linear, relu"}},
    });
}

TEST_CASE("bad inputs: unknown keys and names") {
    check_all({
        {"unknown-population-key", doc(replace(discrete, "activation: linear", "activaton: linear")), run, 2,
         {"doc.yaml:4:18: circuit.populations.y.activaton: unknown key 'activaton'", "did you mean 'activation'?"}},
        {"unknown-protocol-key", doc(replace(discrete, "epochs: 1", "epoch: 1")), run, 2,
         {"doc.yaml:10:3: protocol.epoch: unknown key 'epoch'", "did you mean 'epochs'?"}},
        {"unknown-record-key", doc(replace(discrete, "max_steps: 2", "max_steps: 2\n  record: {metrics_evry: 3}")),
         run, 2,
         {"doc.yaml:13:12: protocol.record.metrics_evry: unknown key", "did you mean 'metrics_every'?"}},
        {"unknown-teacher-key", doc(replace(discrete, "teacher: {train: 64", "teacher: {inputz: 20, train: 64")), run,
         2, {"doc.yaml:13:38: protocol.dataset.teacher.inputz: unknown key", "did you mean 'inputs'?"}},
        {"unknown-dataset", doc(replace(discrete, "name: teacher", "name: mnsit")), run, 2,
         {"doc.yaml:13:19: protocol.dataset.name: unknown value 'mnsit'", "did you mean 'mnist'?"}},
        {"unknown-population", doc(replace(discrete, "from: x, to: y", "from: x9, to: y")), run, 2,
         {"doc.yaml:7:8: circuit.synapses.W.from: no population 'x9' (populations: x, y, e)"}},
        {"unknown-motif-parameter", doc(stacked("sal", "[20, 8, 4]", "  params: {eta_WW: 2}\n")), run, 2,
         {"doc.yaml:5:", "circuit.params.eta_WW: unknown motif parameter 'eta_WW'", "did you mean 'eta_W'?"}},
        // The motif language (docs/motifs.md): each mistake that used to drop a
        // group without a word, or that a template can make.
        {"group-on-missing-population",
         {{"doc.yaml", replace(stacked("sal", "[20, 8, 4]"), counterstream::testing::motif("sal"), "motif.yaml")},
          {"motif.yaml", motif_with("  V{l}: {from: \"h{l}\", to: \"d{l}\", target: gate, plastic: false}\n")}},
         run, 2,
         {"motif.yaml:10:28: synapses.V{l}.to: no population 'd1' at l = 1 (did you mean 'd2'?; limit the "
          "template's layers: to where its populations exist)"}},
        {"group-typo-in-circuit", doc(stacked("sal", "[20, 8, 4]",
                                              "  synapses:\n    F{l}: {layers: hidden, from: e, to: \"hbr{l}\", "
                                              "target: basal, plastic: false}\n")),
         run, 2, {"doc.yaml:6:41: circuit.synapses.F{l}.to: no population 'hbr2' at l = 2 (did you mean 'hbar2'?"}},
        {"template-without-layers",
         {{"doc.yaml", replace(stacked("sal", "[20, 8, 4]"), counterstream::testing::motif("sal"), "motif.yaml")},
          {"motif.yaml", replace(motif_with(""), "down: {name: \"d{l}\", layers: hidden}", "down: {name: \"d{l}\"}")}},
         run, 2,
         {"motif.yaml:5:9: populations.down: population template 'down' has {l} in its name and needs layers: (all, "
          "first, hidden, last or [FROM, TO])"}},
        {"layers-unknown-word",
         {{"doc.yaml", replace(stacked("sal", "[20, 8, 4]"), counterstream::testing::motif("sal"), "motif.yaml")},
          {"motif.yaml", replace(motif_with(""), "layers: hidden}", "layers: middle}")}},
         run, 2, {"motif.yaml:5:", "populations.down.layers: unknown value 'middle'"}},
        {"group-layers-unknown-word", doc(stacked("sal", "[20, 8, 8, 4]",
                                                  "  synapses:\n    F{l}: {layers: middle, from: e, to: \"hbar{l}\", "
                                                  "target: basal, plastic: false}\n")),
         run, 2, {"doc.yaml:6:", "circuit.synapses.F{l}.layers: unknown value 'middle'"}},
        {"layers-outside-the-circuit",
         {{"doc.yaml", replace(stacked("sal", "[20, 8, 4]"), counterstream::testing::motif("sal"), "motif.yaml")},
          {"motif.yaml", replace(motif_with(""), "layers: hidden}", "layers: [1, L+1]}")}},
         run, 2, {"motif.yaml:5:", "populations.down.layers: layers 1..4 reach outside 1..L = 1..3"}},
        {"group-made-twice", doc(stacked("sal", "[20, 8, 4]",
                                         "  synapses:\n    X{l}: {name: \"W{l}\", from: \"h{l}\", to: \"h{l+1}\", "
                                         "target: basal, plastic: false}\n")),
         run, 2, {"doc.yaml:6:11: circuit.synapses.X{l}: synapse group 'W1' is made twice (by template 'X{l}' and before)",
                   "synapse group 'W2' is made twice"},
         "", 2},
        {"output-unreachable", doc(replace(discrete, "W: {from: x, to: y, target: basal,", "W: {from: x, to: y, target: apical,")),
         run, 2,
         {"circuit.populations.e.of: no path from an input population to the output 'y' through synapses that drive "
          "rates"}},
        {"unknown-integrator", doc(replace(continuous, "method: euler", "method: rk5")), run, 2,
         {"doc.yaml:18:", "protocol.integrator.method: unknown value 'rk5'", "did you mean 'rk4'?"}},
    });
}

TEST_CASE("bad inputs: impossible sizes") {
    check_all({
        {"size-zero", doc(replace(discrete, "size: 20,", "size: 0,")), run, 2,
         {"doc.yaml:3:15: circuit.populations.x.size: 0 is out of range [1, 16777216]"}},
        {"size-negative", doc(replace(discrete, "size: 20,", "size: -3,")), run, 2,
         {"doc.yaml:3:15: circuit.populations.x.size: -3 is out of range"}},
        {"size-huge", doc(replace(discrete, "size: 20,", "size: 1000000000,")), run, 2,
         {"doc.yaml:3:15: circuit.populations.x.size: 1000000000 is out of range"}},
        {"error-size-mismatch", doc(replace(discrete, "e: {size: 4", "e: {size: 3")), run, 2,
         {"doc.yaml:5:", "circuit.populations.e.size:", "has 3 neurons but its output 'y' has 4"}},
        {"tie-shape-mismatch",
         doc(replace(discrete, "eta: 0.1}}\n",
                     "eta: 0.1}}\n    W2: {from: x, to: y, target: basal, tie: {to: W, transpose: true}}\n")),
         run, 2, {"doc.yaml:8:", "circuit.synapses.W2.tie: shape 4x20 does not match 'W' transposed (20x4)"}},
        {"stacked-tie-mismatch",
         doc(stacked("two_stream", "[20, 8, 4]",
                     "  synapses:\n    Wbar{l}: {tie: {to: \"V{l}\", transpose: true}, init: null, plastic: null}\n")),
         run, 2, {"doc.yaml:6:", "circuit.synapses.Wbar2.tie: shape 8x4 does not match 'V2' transposed (8x8)"}},
        {"one-layer", doc(stacked("sal", "[20]")), run, 2,
         {"doc.yaml:3:10: circuit.sizes: sizes: needs a list of at least two layer widths"}},
        {"zero-width-layer", doc(stacked("sal", "[20, 0, 4]")), run, 2,
         {"doc.yaml:3:15: circuit.sizes[1]: 0 is out of range"}},
        {"zero-trials", doc(replace(continuous, "trials: 4", "trials: 0")), run, 2,
         {"doc.yaml:16:11: protocol.trials: 0 is out of range"}},
        {"input-size-vs-dataset", doc(replace(discrete, "size: 20,", "size: 10,")), run, 2,
         {"doc.yaml: circuit input has 10 neurons but dataset 'teacher' has 20 features"}},
        {"output-size-vs-dataset",
         doc(replace(discrete, "teacher: {train: 64", "teacher: {classes: 3, train: 64")), run, 2,
         {"doc.yaml: circuit output has 4 neurons but dataset 'teacher' has 3"}},
        {"validation-holds-out-everything",
         doc(replace(discrete, teacher_dataset, "{name: teacher, validation: 64, teacher: {train: 64, test: 32}}")),
         run, 2,
         {"doc.yaml:13:12: protocol.dataset.validation: 64 samples held out of a training set of 64; it must be 0 "
          "(none) to 63"}},
        {"validation-negative", doc(replace(discrete, teacher_dataset, "{name: teacher, validation: -1}")), run, 2,
         {"doc.yaml:13:", "protocol.dataset.validation: -1 is out of range"}},
    });
}

TEST_CASE("bad inputs: missing and corrupt dataset files") {
    check_all({
        {"idx-no-path", doc(replace(discrete, teacher_dataset, "{name: idx}")), run, 2,
         {"doc.yaml:13:12: protocol.dataset.path: dataset 'idx' needs the folder holding train-images-idx3-ubyte"}},
        {"idx-path-does-not-exist",
         doc(replace(discrete, teacher_dataset, "{name: idx, path: nowhere}")), run,
         2, {"doc.yaml:13:12: protocol.dataset.path: IDX data not found in nowhere", "train-images-idx3-ubyte"}},
        {"idx-empty-folder",
         {{"doc.yaml", replace(discrete, teacher_dataset, "{name: idx, path: data}")},
          {"data/README", "nothing here\n"}},
         run, 2, {"doc.yaml:13:12: protocol.dataset.path: IDX data not found in data"}},
        {"idx-missing-one-file", idx_case({{"data/t10k-labels-idx1-ubyte", ""}}), run, 2,
         {"data/t10k-labels-idx1-ubyte: not found (nor t10k-labels-idx1-ubyte.gz), though other IDX data files are "
          "there"}},
        {"idx-labels-magic-on-images", idx_case({{"data/train-images-idx3-ubyte", idx({160})}}), run, 2,
         {"data/train-images-idx3-ubyte: wrong IDX magic 0x00000801 (1-dimensional labels), expected 0x00000803 "
          "(3-dimensional images)"}},
        {"idx-not-idx", idx_case({{"data/train-images-idx3-ubyte", "P5\n4 5\n255\n" + std::string(20, 'x')}}), run, 2,
         {"data/train-images-idx3-ubyte: not an IDX file: magic 0x50350a34 does not start with two zero bytes"}},
        {"idx-float-elements", idx_case({{"data/train-labels-idx1-ubyte", idx({8}, 32, 256, 0x0d)}}), run, 2,
         {"data/train-labels-idx1-ubyte: unsupported IDX element type 0x0d"}},
        {"idx-truncated-data", idx_case({{"data/train-images-idx3-ubyte", idx({8, 4, 5}, 153)}}), run, 2,
         {"data/train-images-idx3-ubyte: truncated: header says 8 x 4 x 5 bytes, file has 153 after the 16-byte "
          "header"}},
        {"idx-truncated-header", idx_case({{"data/t10k-images-idx3-ubyte", idx({4, 4, 5}).substr(0, 10)}}), run, 2,
         {"data/t10k-images-idx3-ubyte: truncated: 10 bytes, shorter than the 16-byte header"}},
        {"idx-extra-bytes", idx_case({{"data/t10k-labels-idx1-ubyte", idx({4}, 6, 4)}}), run, 2,
         {"data/t10k-labels-idx1-ubyte: corrupt: header says 4 bytes, file has 6 after the 8-byte header, 2 more "
          "than expected"}},
        {"idx-label-count", idx_case({{"data/train-labels-idx1-ubyte", idx({7}, -1, 4)}}), run, 2,
         {"data/train-labels-idx1-ubyte: 7 labels, but data/train-images-idx3-ubyte has 8 images"}},
        {"idx-test-shape", idx_case({{"data/t10k-images-idx3-ubyte", idx({4, 5, 4})}}), run, 2,
         {"data/t10k-images-idx3-ubyte: images are 5 x 4, but the training images are 4 x 5"}},
        {"idx-label-outside-classes", idx_case({}, ", classes: 2"), run, 2,
         {"data/train-labels-idx1-ubyte: label 2 at index 2 is outside 0..1"}},
        {"idx-truncated-gzip",
         idx_case({{"data/train-images-idx3-ubyte", ""},
                   {"data/train-images-idx3-ubyte.gz", gzip(idx({8, 4, 5})).substr(0, 40)}}),
         run, 2, {"data/train-images-idx3-ubyte.gz: truncated", "the gzip stream ends early"}},
        {"idx-features-vs-circuit",
         idx_case({{"data/train-images-idx3-ubyte", idx({8, 3, 3})}, {"data/t10k-images-idx3-ubyte", idx({4, 3, 3})}}),
         run, 2, {"doc.yaml: circuit input has 20 neurons but dataset 'idx' has 9 features"}},
    });
}

TEST_CASE("bad inputs: outputs that cannot be written") {
    check_all({
        {"run-output-exists", {{"doc.yaml", discrete}, {"out.h5", "already here\n"}}, run, 2,
         {"error: out.h5: exists (pass --overwrite to replace it)"}},
        {"run-default-output-exists", {{"doc.yaml", discrete}, {"runs/doc.h5", "already here\n"}}, "run doc.yaml", 2,
         {"error: runs/doc.h5: exists (pass --overwrite to replace it)"}},
        {"run-output-is-the-document", doc(discrete), "run doc.yaml -o doc.yaml --overwrite", 2,
         {"error: doc.yaml: is the input file itself; write the output to another file"}},
        {"run-output-is-the-document-by-another-name", doc(discrete), "run doc.yaml -o ./doc.yaml", 2,
         {"error: ./doc.yaml: is the input file itself"}},
        {"sweep-output-is-the-document", with_sweep("base: doc.yaml\ngrid: {protocol.seed: [1, 2]}\n"),
         "sweep sweep.yaml -o sweep.yaml --overwrite", 2, {"error: sweep.yaml: is the input file itself"}},
        {"analyze-output-is-the-recording", doc(discrete), "analyze rec.h5 -o rec.h5", 2,
         {"error: rec.h5: is the input file itself"}, "{bin} run doc.yaml -o rec.h5"},
        {"output-under-a-file", {{"doc.yaml", discrete}, {"plain-file", "x\n"}}, "run doc.yaml -o plain-file/out.h5", 2,
         {"plain-file/out.h5: cannot create file", "Not a directory"}},
        {"output-is-a-folder", {{"doc.yaml", discrete}, {"folder/keep", "x\n"}}, "run doc.yaml -o folder", 2,
         {"folder: cannot create file (Is a directory)"}},
        {"output-in-proc", doc(discrete), "run doc.yaml -o /proc/counterstream-no-such/out.h5", 2,
         {"/proc/counterstream-no-such/out.h5: cannot create file"}},
        {"sweep-output-exists",
         {{"doc.yaml", discrete},
          {"sweep.yaml", "base: doc.yaml\ngrid: {protocol.seed: [1, 2]}\n"},
          {"out.h5", "already here\n"}},
         "sweep sweep.yaml -o out.h5", 2, {"out.h5: exists (pass --overwrite to replace it)"}},
        {"analyze-output-under-a-file", {{"doc.yaml", discrete}, {"plain-file", "x\n"}},
         "analyze rec.h5 --no-theorem1 -o plain-file/copy.h5", 2, {"plain-file/copy.h5: cannot create file"},
         "{bin} run doc.yaml -o rec.h5"},
    });
}

TEST_CASE("bad inputs: --set") {
    check_all({
        {"set-unknown-path", doc(discrete), run + " --set protocol.epochz=2", 2,
         {"--set protocol.epochz=2: protocol.epochz: unknown key 'epochz'", "did you mean 'epochs'?"}},
        {"set-unknown-circuit-path", doc(discrete), "expand doc.yaml --set circuit.populations.y.activaton=tanh", 2,
         {"--set circuit.populations.y.activaton=tanh: circuit.populations.y.activaton: unknown key",
          "did you mean 'activation'?"}},
        {"set-malformed-value", doc(discrete), run + " --set 'protocol.epochs=[1,'", 2,
         {"--set protocol.epochs=[1,: VALUE is not YAML: end of sequence flow not found"}},
        {"set-without-equals", doc(discrete), run + " --set protocol.epochs", 2,
         {"--set protocol.epochs: expected --set dotted.path=VALUE"}},
        {"set-empty-path", doc(discrete), run + " --set =3", 2, {"--set =3: expected --set dotted.path=VALUE"}},
        {"set-wrong-type", doc(discrete), run + " --set protocol.epochs=many", 2,
         {"--set protocol.epochs=many: protocol.epochs: expected an integer, got 'many'"}},
        {"set-list-for-value", doc(discrete), run + " --set 'protocol.batch_size=[1, 2]'", 2,
         {"--set protocol.batch_size=[1, 2]: protocol.batch_size: expected a single value"}},
        {"set-into-a-value", doc(discrete), run + " --set protocol.epochs.x=3", 2,
         {"--set protocol.epochs.x=3: protocol.epochs: expected a single value"}},
        {"expand-set-unknown-protocol-path", doc(discrete), "expand doc.yaml --set protocol.typo=1", 2,
         {"--set protocol.typo=1: protocol.typo: unknown key 'typo' (known: mode, backend, epochs"}},
        {"expand-set-misspelled-protocol-path", doc(discrete), "expand doc.yaml --set protocol.epochz=1", 2,
         {"--set protocol.epochz=1: protocol.epochz: unknown key 'epochz'", "did you mean 'epochs'?"}},
        {"expand-set-unknown-section", doc(discrete), "expand doc.yaml --set protocl.epochs=1", 2,
         {"--set protocl.epochs=1: protocl: unknown key 'protocl'", "did you mean 'protocol'?"}},
    });
}

TEST_CASE("bad inputs: sweeps") {
    check_all({
        {"sweep-unknown-path", with_sweep("base: doc.yaml\ngrid:\n  protocol.sed: [1, 2]\n"),
         "sweep sweep.yaml -o out.h5", 2,
         {"sweep.yaml:3:3: grid.protocol.sed: rejected by doc.yaml: protocol.sed: unknown key 'sed'",
          "did you mean 'seed'?"}},
        {"sweep-bad-value", with_sweep("base: doc.yaml\ngrid:\n  protocol.seed: [1, x]\n"),
         "sweep sweep.yaml -o out.h5", 2,
         {"sweep.yaml:3:3: grid.protocol.seed: rejected by doc.yaml: protocol.seed: expected an integer, got 'x'"}},
        {"sweep-axis-not-a-list", with_sweep("base: doc.yaml\ngrid:\n  protocol.seed: 3\n"),
         "sweep sweep.yaml -o out.h5", 2, {"sweep.yaml:3:18: grid.protocol.seed: expected a list of values"}},
        {"sweep-grid-and-list-one-path",
         {{"doc.yaml", discrete},
          {"sweep.yaml", "base: doc.yaml\ngrid:\n  protocol.seed: [1]\nlist:\n  - {protocol.seed: 1}\n"}},
         "sweep sweep.yaml -o out.h5", 2,
         {"sweep.yaml:3:3: grid.protocol.seed: is also swept by list: (a path is swept by the grid or the list, not "
          "both)"}},
        {"sweep-no-points", with_sweep("base: doc.yaml\n"), "sweep sweep.yaml -o out.h5", 2,
         {"sweep.yaml:1:1: missing grid: or list: (the points to run)"}},
        {"sweep-uneven-list",
         {{"doc.yaml", discrete},
          {"sweep.yaml", "base: doc.yaml\nlist:\n  - {protocol.seed: 1}\n  - {protocol.epochs: 1}\n"}},
         "sweep sweep.yaml -o out.h5", 2,
         {"sweep.yaml:4:5: list[1]: every point needs the keys of list[0] (protocol.seed)"}},
        {"sweep-missing-base", {{"sweep.yaml", "base: nowhere.yaml\ngrid: {protocol.seed: [1]}\n"}},
         "sweep sweep.yaml -o out.h5", 2, {"sweep.yaml:1:7: base: no such file 'nowhere.yaml'"}},
        {"sweep-base-folder", {{"sweep.yaml", "base: runs\ngrid: {protocol.seed: [1]}\n"}},
         "sweep sweep.yaml -o out.h5", 2, {"sweep.yaml:1:7: base: 'runs' is a folder, not a run document"}, "mkdir runs"},
        {"sweep-threads-too-many", with_sweep("base: doc.yaml\nthreads: 5000\ngrid: {protocol.seed: [1]}\n"),
         "sweep sweep.yaml -o out.h5", 2, {"sweep.yaml:2:10: threads:"}},
        {"sweep-point-fails-check",
         with_sweep("base: doc.yaml\ngrid:\n  circuit.populations.x.size: [20, 10]\n"),
         "sweep sweep.yaml -o out.h5", 2,
         {"sweep.yaml:", "point 1 (circuit.populations.x.size=10): circuit input has 10 neurons"}},
        {"sweep-set-unknown-path",
         with_sweep("base: doc.yaml\ngrid: {protocol.seed: [1, 2]}\n"),
         "sweep sweep.yaml -o out.h5 --set protocol.epochz=1", 2,
         {"--set protocol.epochz=1: protocol.epochz: unknown key 'epochz'"}},
    });
}

TEST_CASE("bad inputs: benchmarks") {
    const std::string bench = "benchmark bench.yaml -o out.h5";
    check_all({
        {"benchmark-unknown-key", with_benchmark(benchmark + "thread: 2\n"), bench, 2,
         {"bench.yaml:8:1: thread: unknown key 'thread' (did you mean 'threads'?)"}},
        {"benchmark-missing-method-file", with_benchmark(replace(benchmark, "B: doc.yaml", "B: nowhere.yaml")), bench,
         2,
         {"bench.yaml:3:6: methods.B: no such file 'nowhere.yaml'"}},
        {"benchmark-no-methods", with_benchmark("methods: {}\n" + benchmark.substr(benchmark.find("datasets:"))), bench,
         2,
         {"bench.yaml:1:1: methods: is empty: give at least one method"}},
        {"benchmark-no-datasets", with_benchmark(benchmark.substr(0, benchmark.find("datasets:")) + "seeds: [1]\n"),
         bench, 2, {"bench.yaml:1:1: missing datasets:"}},
        {"benchmark-no-seeds", with_benchmark(replace(benchmark, "seeds: [1, 2]", "seeds: []")), bench, 2,
         {"bench.yaml:7:1: seeds: is empty: give at least one seed"}},
        {"benchmark-seed-twice", with_benchmark(replace(benchmark, "seeds: [1, 2]", "seeds: [1, 1]")), bench, 2,
         {"bench.yaml:7:12: seeds[1]: seed 1 appears twice"}},
        {"benchmark-paper-unknown-method", with_benchmark(benchmark + "paper:\n  C: {T1: [98, 0.1]}\n"), bench, 2,
         {"bench.yaml:9:3: paper.C: unknown method 'C'", "(known: A, B)"}},
        {"benchmark-paper-unknown-dataset", with_benchmark(benchmark + "paper:\n  A: {T3: [98, 0.1]}\n"), bench, 2,
         {"bench.yaml:9:7: paper.A.T3: unknown dataset 'T3' (did you mean 'T1'?)"}},
        {"benchmark-paper-not-a-pair", with_benchmark(benchmark + "paper:\n  A: {T1: [98]}\n"), bench, 2,
         {"bench.yaml:9:11: paper.A.T1: expected [mean, std] in percent"}},
        {"benchmark-seed-under-set", with_benchmark(benchmark + "set: {protocol.seed: 3}\n"), bench, 2,
         {"bench.yaml:8:7: set.protocol.seed: protocol.seed comes from seeds:"}},
        {"benchmark-cell-repeats-dataset",
         with_benchmark(benchmark + "cells:\n  A: {T1: {protocol.dataset.teacher.seed: 5}}\n"), bench, 2,
         {"bench.yaml:9:12: cells.A.T1.protocol.dataset.teacher.seed: is also under datasets.T1"}},
        {"benchmark-dataset-rejected",
         with_benchmark(replace(benchmark, "T2: {protocol.dataset.teacher.seed", "T2: {protocol.dataset.teacher.sed")),
         bench, 2,
         {"bench.yaml:6:8: datasets.T2.protocol.dataset.teacher.sed: rejected by doc.yaml: "
          "protocol.dataset.teacher.sed: unknown key 'sed' (did you mean 'seed'?)"}},
        {"benchmark-dataset-misfit",
         with_benchmark(replace(benchmark, "T2: {protocol.dataset.teacher.seed: 2}",
                                "T2: {protocol.dataset.teacher.inputs: 10}")),
         bench, 2,
         {"bench.yaml:6:3: datasets.T2: circuit input has 20 neurons but dataset 'teacher' has 10 features"}},
        {"benchmark-set-seed", with_benchmark(benchmark), bench + " --set protocol.seed=3", 2,
         {"--set protocol.seed=3: protocol.seed is set per run by bench.yaml"}},
        {"benchmark-all-problems-together",
         with_benchmark(replace(benchmark, "B: doc.yaml", "B: nowhere.yaml") +
                        "thread: 2\npaper:\n  C: {T1: [98, 0.1]}\n"),
         bench, 2,
         {"bench.yaml:8:1: thread: unknown key", "bench.yaml:3:6: methods.B: no such file",
          "bench.yaml:10:3: paper.C: unknown method 'C'"},
         {}, 3},
        {"benchmark-output-exists", {{"doc.yaml", discrete}, {"bench.yaml", benchmark}, {"out.h5", "an older file\n"}},
         bench, 2, {"error: out.h5: exists (pass --overwrite to replace it)"}},
        {"benchmark-output-is-the-document", with_benchmark(benchmark),
         "benchmark bench.yaml -o bench.yaml --overwrite", 2, {"error: bench.yaml: is the input file itself"}},
        {"benchmark-without-file", {}, "benchmark", 2, {"error: benchmark: file is required"}},
    });
}

TEST_CASE("bad inputs: analyze") {
    check_all({
        {"analyze-text-file", {{"notes.h5", "not an HDF5 file\n"}}, "analyze notes.h5", 2,
         {"notes.h5: cannot open as HDF5 (file signature not found)"}},
        {"analyze-missing-file", {}, "analyze nowhere.h5", 2, {"nowhere.h5: cannot open as HDF5"}},
        {"analyze-folder", {{"folder/keep", "x\n"}}, "analyze folder", 2, {"folder: cannot open as HDF5"}},
        {"analyze-truncated-recording", doc(discrete), "analyze cut.h5 -o copy.h5", 2,
         {"cut.h5: cannot open as HDF5 (truncated file"},
         "{bin} run doc.yaml -o rec.h5 && head -c 3000 rec.h5 > cut.h5"},
        {"analyze-unknown-gram-group", doc(discrete), "analyze rec.h5 --gram NOPE -o copy.h5", 2,
         {"rec.h5: no group 'NOPE' for a Gram matrix (groups: W, B)"}, "{bin} run doc.yaml -o rec.h5"},
    });
}

TEST_CASE("bad inputs: command-line usage") {
    check_all({
        {"no-subcommand", {}, "", 2,
         {"error: a command is required: run, resume, expand, bench, sweep, benchmark, analyze "
          "(see counterstream --help)"}},
        {"unknown-subcommand", doc(discrete), "rnu doc.yaml", 2,
         {"error: unknown command 'rnu' (did you mean 'run'?) (known: run, "}},
        {"run-without-file", {}, "run", 2, {"error: run: file is required (see counterstream run --help)"}},
        {"run-unknown-option", doc(discrete), run + " --bogus", 2,
         {"error: run: The following argument was not expected: --bogus"}},
        {"run-two-files", doc(discrete), run + " extra.yaml", 2,
         {"error: run: The following argument was not expected: extra.yaml"}},
        {"sweep-without-file", {}, "sweep", 2, {"error: sweep: file is required"}},
        {"analyze-without-file", {}, "analyze", 2, {"error: analyze: file is required"}},
        {"threads-negative", doc(discrete), run + " --threads -1", 2,
         {"error: run: --threads: expected an integer from 0 to 1024, got '-1' (see counterstream run --help)"}},
        {"threads-not-a-number", doc(discrete), run + " --threads many", 2,
         {"run: --threads: expected an integer from 0 to 1024, got 'many'"}},
        {"threads-huge", doc(discrete), run + " --threads 100000", 2,
         {"run: --threads: expected an integer from 0 to 1024, got '100000'"}},
        {"sweep-threads-huge", with_sweep("base: doc.yaml\ngrid: {protocol.seed: [1, 2]}\n"),
         "sweep sweep.yaml -o out.h5 --threads 100000", 2,
         {"sweep: --threads: expected an integer from 1 to 1024, got '100000'"}},
        {"sweep-threads-zero", with_sweep("base: doc.yaml\ngrid: {protocol.seed: [1, 2]}\n"),
         "sweep sweep.yaml -o out.h5 --threads 0", 2, {"sweep: --threads: expected an integer from 1 to 1024, got '0'"}},
        {"probe-batch-huge", {}, "analyze rec.h5 --probe-batch 100000000", 2,
         {"analyze: --probe-batch: expected an integer from 1 to 65536, got '100000000'"}},
        {"probe-batch-zero", {}, "analyze rec.h5 --probe-batch 0", 2,
         {"analyze: --probe-batch: expected an integer from 1 to 65536, got '0'"}},
    });
}

TEST_CASE("bad inputs: continuous and discrete mode") {
    check_all({
        {"learn-after-present", doc(replace(continuous, "learn_after_ms: 5", "learn_after_ms: 10")), run, 2,
         {"doc.yaml:15:19: protocol.learn_after_ms: must be less than present_ms (10)"}},
        {"sample-every-not-dividing", doc(replace(continuous, "sample_every_ms: 1", "sample_every_ms: 3")), run, 2,
         {"doc.yaml:20:29: protocol.record.sample_every_ms: present_ms (10) must be a multiple of sample_every_ms"}},
        {"record-unknown-population", doc(replace(continuous, "populations: [y]", "populations: [y, z]")), run, 2,
         {"doc.yaml:20:49: protocol.record.populations[1]: unknown population 'z'", "known: x, h, y, e"}},
        {"record-neuron-outside", doc(replace(continuous, "trial: 0}", "trial: 0, neurons: [0, 9]}")), run, 2,
         {"doc.yaml:20:", "protocol.record.neurons[1]: neuron 9 is outside 'y' (4 neurons)"}},
        {"record-trial-outside", doc(replace(continuous, "trial: 0}", "trial: 7}")), run, 2,
         {"doc.yaml:20:57: protocol.record.trial: trial 7 but protocol.trials is 4"}},
        {"eta-in-continuous", doc(replace(continuous, "rate, tau: 250}}\n    W2", "rate, eta: 0.1}}\n    W2")),
         run, 2,
         {"doc.yaml:12:9: protocol.mode: synapse group 'W1' gives eta (a discrete rate); continuous mode needs "
          "rule.tau"}},
        {"eta-and-tau", doc(replace(continuous, "rate, tau: 250}}\n    W2", "rate, tau: 250, eta: 1}}\n    W2")),
         run, 2, {"doc.yaml:8:", "circuit.synapses.W1.rule: give either eta (discrete rate) or tau [ms]"}},
        {"instantaneous-cycle",
         doc(replace(replace(replace(continuous, "relu, tau: 1}", "relu, tau: 0}"),
                             "linear, tau: 1}", "linear, tau: 0}"),
                     "    B: {", "    R: {from: y, to: h, target: basal, init: zeros, plastic: false}\n    B: {")),
         run, 2,
         {"doc.yaml:4:8: circuit.populations.h: cycle through instantaneous populations (tau: 0): h -> y -> h"}},
        {"discrete-cycle", doc(discrete_cycle()), run, 2,
         {"circuit.populations.", "cycle through rate-driving synapses in discrete mode"}},
        // expand checks a run document by its protocol's mode, as run does.
        {"discrete-cycle-expand", doc(discrete_cycle()), "expand doc.yaml", 2,
         {"error: doc.yaml:4:8: circuit.populations.y: cycle through rate-driving synapses in discrete mode: "
          "y -> z -> y (use protocol.mode: continuous for recurrent circuits)"}},
        {"discrete-cycle-set-expand", doc(continuous_cycle()), "expand doc.yaml --set protocol.mode=discrete", 2,
         {"error: doc.yaml:4:8: circuit.populations.h: cycle through rate-driving synapses in discrete mode: "
          "h -> y -> h (use protocol.mode: continuous for recurrent circuits)"}},
        {"eta-in-continuous-expand", doc(replace(continuous, "rate, tau: 250}}\n    W2", "rate, eta: 0.1}}\n    W2")),
         "expand doc.yaml", 2,
         {"doc.yaml:12:9: protocol.mode: synapse group 'W1' gives eta (a discrete rate); continuous mode needs "
          "rule.tau"}},
        // Continuous-mode keys that discrete mode cannot read as the reduction are still mistakes.
        {"learn-after-present-in-discrete",
         doc(replace(continuous, "learn_after_ms: 5", "learn_after_ms: 10")), run + " --set protocol.mode=discrete", 2,
         {"doc.yaml:15:19: protocol.learn_after_ms: must be less than present_ms (10)"}},
        {"batch-size-in-continuous", doc(replace(continuous, "trials: 4", "trials: 4\n  batch_size: 8")), run, 2,
         {"doc.yaml:17:15: protocol.batch_size: continuous mode shows `trials` samples at once"}},
        {"weights-every-in-continuous", doc(replace(continuous, "record: {", "record: {weights_every: 2, ")), run, 2,
         {"doc.yaml:20:27: protocol.record.weights_every: continuous mode counts time: use weights_every_ms"}},
        {"unknown-mode", doc(replace(discrete, "epochs: 1", "mode: continous\n  epochs: 1")), run, 2,
         {"doc.yaml:10:9: protocol.mode: unknown value 'continous'", "did you mean 'continuous'?"}},
    });
}
// A run document's mistakes are the same to `expand` as to `run`: expand
// checks it by its protocol's mode (the default, discrete, included), so
// both print the same line.
TEST_CASE("bad inputs: expand prints the line run prints for the same run document") {
    struct same_case {
        std::string name, text, sets;
    };
    const std::vector<same_case> cases = {
        {"discrete-cycle", discrete_cycle(), ""},
        {"continuous-document-in-discrete-mode", continuous_cycle(), " --set protocol.mode=discrete"},
        {"instantaneous-cycle", replace(replace(continuous_cycle(), "relu, tau: 1}", "relu, tau: 0}"), "linear, tau: 1}",
                                        "linear, tau: 0}"),
         ""},
        {"eta-in-continuous", replace(continuous, "rate, tau: 250}}\n    W2", "rate, eta: 0.1}}\n    W2"), ""},
        {"unknown-protocol-key", discrete, " --set protocol.epochz=1"},
    };
    for (const auto& c: cases) {
        CAPTURE(c.name);
        const fs::path dir = counterstream::testing::temp_dir() / "bad-inputs" / ("same-line-" + c.name);
        fs::remove_all(dir);
        fs::create_directories(dir);
        std::ofstream(dir / "doc.yaml") << c.text;
        std::vector<std::string> errors;
        for (const std::string args: {"run doc.yaml -o out.h5", "expand doc.yaml"}) {
            const std::string shell = "cd '" + dir.string() + "' && " + COUNTERSTREAM_BINARY + " " + args + c.sets +
                                      " > stdout.txt 2> stderr.txt";
            const int status = std::system(shell.c_str());
            REQUIRE(WIFEXITED(status));
            CHECK(WEXITSTATUS(status) == 2);
            errors.push_back(slurp(dir / "stderr.txt"));
        }
        CHECK(lines_of(errors[0]).size() == 1);
        CHECK(errors[0] == errors[1]);
    }
}

TEST_CASE("bad inputs: weight mirror") {
    const std::string mirror = "  synapses:\n    Wbar{l}: {mirror: MIRROR}\n";
    auto mirrored = [&](const std::string& spec) {
        return stacked("two_stream", "[20, 8, 6, 4]", replace(mirror, "MIRROR", spec));
    };
    check_all({
        {"mirror-unknown-group", doc(mirrored("{of: \"X{l}\", eta: 0.1, gamma: 1}")), run, 2,
         {"doc.yaml:", "circuit.synapses.Wbar2.mirror.of: no synapse group 'X2'", "Wbar3.mirror.of"}, {}, 2},
        {"mirror-missing-eta", doc(mirrored("{of: \"W{l}\", gamma: 1}")), run, 2,
         {"doc.yaml:", "mirror: missing eta:"}},
        {"mirror-unknown-key", doc(mirrored("{of: \"W{l}\", eta: 0.1, gama: 1}")), run, 2,
         {"doc.yaml:", "gama", "did you mean 'gamma'?"}},
        {"mirror-shape", doc(mirrored("{of: \"V{l}\", eta: 0.1, gamma: 1}")), run, 2,
         {"doc.yaml:", "circuit.synapses.Wbar2.mirror.of: shape 8x6 is not that of 'V2' transposed (8x8)",
          "Wbar3.mirror.of: shape 6x4 is not that of 'V3' transposed (6x6)"},
         {}, 2},
        {"mirror-protocol-in-continuous", doc(replace(continuous, "trials: 4", "trials: 4\n  mirror: {every: 2}")), run,
         2, {"doc.yaml:17:11: protocol.mirror: mirror batches apply to mode: discrete"}},
        {"mirror-sigma-zero",
         doc(replace(discrete, "max_steps: 2", "max_steps: 2\n  mirror: {sigma: 0}")), run, 2,
         {"doc.yaml:13:", "protocol.mirror.sigma"}},
    });
}
TEST_CASE("bad inputs: rate schedules") {
    check_all({
        {"schedule-unknown-kind", doc(replace(discrete, "max_steps: 2", "max_steps: 2\n  schedule: {kind: cosin}")), run,
         2, {"doc.yaml:13:", "protocol.schedule.kind: unknown value 'cosin'", "did you mean 'cosine'?"}},
        {"schedule-min-with-step",
         doc(replace(discrete, "max_steps: 2", "max_steps: 2\n  schedule: {kind: step, min: 0.1}")), run, 2,
         {"doc.yaml:13:", "protocol.schedule.min: min applies to kind: cosine"}},
        {"schedule-factor-above-one",
         doc(replace(discrete, "max_steps: 2", "max_steps: 2\n  schedule: {kind: step, factor: 2}")), run, 2,
         {"doc.yaml:13:", "protocol.schedule.factor"}},
        {"schedule-in-continuous", doc(replace(continuous, "trials: 4", "trials: 4\n  schedule: {kind: cosine}")),
         run, 2, {"doc.yaml:17:", "protocol.schedule: a rate schedule applies to mode: discrete"}},
    });
}

TEST_CASE("bad inputs: optimizers") {
    const auto with = [](const std::string& o) { return doc(replace(discrete, "max_steps: 2", "max_steps: 2\n  optimizer: " + o)); };
    check_all({
        {"optimizer-unknown-kind", with("{kind: adm}"), run, 2,
         {"doc.yaml:13:", "protocol.optimizer.kind: unknown value 'adm'", "did you mean 'adam'?"}},
        {"optimizer-beta-one", with("{kind: adam, beta2: 1}"), run, 2, {"doc.yaml:13:", "protocol.optimizer.beta2"}},
        {"optimizer-beta-with-plain", with("{kind: plain, beta1: 0.5}"), run, 2,
         {"doc.yaml:13:", "protocol.optimizer.beta1: beta1 applies to kind: adam"}},
        // Adam steps run on both backends: without a device the only refusal is the no-device line.
        {"optimizer-adam-on-cuda-without-device", with("{kind: adam}"), run + " --backend cuda", 2,
         {"doc.yaml: protocol.backend: cuda: "}},
        {"optimizer-in-continuous", doc(replace(continuous, "trials: 4", "trials: 4\n  optimizer: {kind: adam}")),
         run, 2, {"doc.yaml:17:", "protocol.optimizer: an optimizer applies to mode: discrete"}},
    });
}

TEST_CASE("bad inputs: backends") {
    check_all({
        {"unknown-backend", doc(replace(discrete, "epochs: 1", "backend: gpu\n  epochs: 1")), run, 2,
         {"doc.yaml:10:12: protocol.backend: unknown value 'gpu'", "cpu", "cuda"}},
        {"backend-flag-unknown", doc(discrete), run + " --backend gpu", 2, {"--backend", "gpu"}},
        {"bench-backend-flag-unknown", {}, "bench --backend gpu", 2, {"--backend", "gpu"}},
    });
}

// Where the CUDA backend cannot run (no device, or a build without it),
// asking for it is bad input: one line, exit 2, no recording.
TEST_CASE("bad inputs: --backend cuda without a usable device" * doctest::skip(counterstream::backend_usable("cuda", nullptr))) {
    check_all({
        {"cuda-without-device", doc(discrete), run + " --backend cuda", 2, {"doc.yaml: protocol.backend: cuda: "}},
        {"cuda-without-device-in-document", doc(replace(discrete, "epochs: 1", "backend: cuda\n  epochs: 1")), run,
         2, {"doc.yaml: protocol.backend: cuda: "}},
        {"cuda-without-device-continuous", doc(replace(continuous, "trials: 4", "trials: 4\n  backend: cuda")), run,
         2, {"doc.yaml: protocol.backend: cuda: "}},
        {"bench-cuda-without-device", {}, "bench --backend cuda --seconds 0.1", 2, {"bench --backend cuda: "}},
    });
}
// clang-format on

// The usage errors above are one line; asking for help is not an error.
TEST_CASE("command line: --help and --version print to stdout and exit 0") {
    const fs::path dir = counterstream::testing::temp_dir() / "bad-inputs" / "help";
    fs::create_directories(dir);
    for (const std::string args: {"--help", "run --help", "sweep --help", "--version"}) {
        CAPTURE(args);
        const std::string shell = "cd '" + dir.string() + "' && " + COUNTERSTREAM_BINARY + " " + args +
                                  " > stdout.txt 2> stderr.txt";
        const int status = std::system(shell.c_str());
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
        const std::string out = slurp(dir / "stdout.txt");
        CHECK(slurp(dir / "stderr.txt").empty());
        if (args == "--version")
            CHECK(out == std::string(COUNTERSTREAM_VERSION) + "\n");
        else
            CHECK(out.find("Usage:") != std::string::npos);
        if (args == "run --help")
            CHECK(out.find("--overwrite") != std::string::npos);
    }
}
