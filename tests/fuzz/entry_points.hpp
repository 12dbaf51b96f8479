// The entry points the libFuzzer harnesses drive, shared with the doctest
// that replays every saved finding (tests/reliability/fuzz_regressions_test.cpp).
//
// Each takes arbitrary bytes and either accepts them or rejects them with
// counterstream::input_error, which it swallows (the expected answer to bad
// input). Anything else escapes: another exception type, a broken documented
// contract (thrown as fuzz_finding), or a crash or sanitizer report.
//
// Documents are written to a per-process scratch folder holding `motifs`, a
// link to the source tree's models/motifs, so that seeds can say
// `motif: motifs/sal.yaml` wherever the checkout is.
#pragma once

#include "models/library.hpp"
#include "protocols/datasets/idx.hpp"
#include "protocols/run_document.hpp"
#include "sim/error.hpp"
#include "sim/stack.hpp"

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

#ifndef COUNTERSTREAM_SOURCE_DIR
#error "COUNTERSTREAM_SOURCE_DIR must name the source tree (for models/motifs)"
#endif

namespace counterstream::fuzz {

// A documented contract that does not hold (not a user mistake, not a crash).
class fuzz_finding : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

class scratch {
public:
    scratch() {
        dir_ = std::filesystem::temp_directory_path() / ("counterstream-fuzz-" + std::to_string(::getpid()));
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
        std::filesystem::create_directory_symlink(std::filesystem::path(COUNTERSTREAM_SOURCE_DIR) / "models" / "motifs",
                                                  dir_ / "motifs");
    }
    ~scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;

    std::string write(const std::string& name, const std::uint8_t* data, std::size_t size) const {
        const auto path = (dir_ / name).string();
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
        out.close();
        if (!out)
            throw std::runtime_error("fuzz harness: cannot write " + path);
        return path;
    }

    const std::filesystem::path& dir() const { return dir_; }

private:
    std::filesystem::path dir_;
};

inline const scratch& scratch_dir() {
    static const scratch s;
    return s;
}

inline const library& standard_library() {
    static const library lib = models::standard_library();
    return lib;
}

// `expand`'s path for a circuit file: the circuit, parsed and checked.
inline circuit_spec load_circuit_file(const std::string& file) {
    const YAML::Node root = load_yaml_file(file);
    const view doc = document_view(file, root, {});
    diagnostics diag;
    reader rd(diag);
    const auto spec = parse_circuit(doc, rd, standard_library());
    if (diag.empty())
        check_circuit(spec, diag, false, "");
    diag.raise();
    return spec;
}

// A run document accepted by load_run is emitted (circuit and protocol), and
// the emitted circuit must read back (sim/circuit.hpp: "parse_circuit reads
// it back") and emit the same text again.
inline void check_round_trip(const run_document& doc) {
    const std::string text = emit_circuit(doc.circuit);
    (void)emit_protocol(doc.protocol);
    const auto file =
        scratch_dir().write("emitted.yaml", reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    circuit_spec again;
    try {
        again = load_circuit_file(file);
    } catch (const input_error& e) {
        throw fuzz_finding("emit_circuit's output does not read back: " + std::string(e.what()) + "\n--- emitted:\n" +
                           text);
    }
    const std::string text2 = emit_circuit(again);
    if (text2 != text)
        throw fuzz_finding("emit_circuit is not stable under a round trip\n--- first:\n" + text + "--- second:\n" +
                           text2);
}

// The bytes as a run document (doc.yaml in the scratch folder) through
// load_run. True when it loads.
inline bool load_run_document(const std::uint8_t* data, std::size_t size) {
    const auto file = scratch_dir().write("doc.yaml", data, size);
    run_document doc;
    try {
        doc = load_run(file, {}, standard_library());
    } catch (const input_error&) {
        return false;
    }
    check_round_trip(doc);
    return true;
}

// A small valid run document that the --set harness overrides.
inline const char* sets_base_document() {
    return R"(circuit:
  populations:
    x: {size: 20, role: input}
    h: {size: 8, activation: relu}
    y: {size: 4, activation: linear}
    e: {size: 4, role: error, loss: cross_entropy, of: y}
  synapses:
    W1: {from: x, to: h, target: basal, rule: {post: apical, pre: rate, eta: 0.1}}
    W2: {from: h, to: y, target: basal, rule: {post: apical, pre: rate, eta: 0.1}}
    B: {from: e, to: y, target: apical, init: identity, plastic: false}
    B2: {from: e, to: h, target: apical, init: {kind: normal, gain: 1}, plastic: false}
protocol:
  epochs: 1
  batch_size: 32
  dataset: {name: teacher, teacher: {train: 64, test: 32}}
)";
}

// Each line of the bytes is one --set option (as typed after --set) applied
// to sets_base_document(). True when the result loads.
inline bool load_run_with_sets(const std::uint8_t* data, std::size_t size) {
    static const std::string base = [] {
        const std::string text = sets_base_document();
        return scratch_dir().write("base.yaml", reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    }();
    std::vector<std::string> sets;
    std::string line;
    for (std::size_t i = 0; i <= size; ++i) {
        if (i == size || data[i] == '\n') {
            if (!line.empty())
                sets.push_back(line);
            line.clear();
        } else {
            line += char(data[i]);
        }
    }
    run_document doc;
    try {
        doc = load_run(base, sets, standard_library());
    } catch (const input_error&) {
        return false;
    }
    check_round_trip(doc);
    return true;
}

// The bytes as an IDX file, read as any array, as labels and as images; then
// gzipped by zlib and read again (the gzip-detecting path on the same data).
// Returns how many of the six reads succeeded. Every success must hold
// exactly product(dims) bytes.
inline int read_idx_bytes(const std::uint8_t* data, std::size_t size) {
    const auto plain = scratch_dir().write("data-idx", data, size);
    const auto gz = (scratch_dir().dir() / "data-idx.gz").string();
    {
        gzFile f = gzopen(gz.c_str(), "wb");
        if (!f)
            throw std::runtime_error("fuzz harness: cannot create " + gz);
        if (size > 0 && gzwrite(f, data, unsigned(size)) != int(size)) {
            gzclose(f);
            throw std::runtime_error("fuzz harness: cannot write " + gz);
        }
        gzclose(f);
    }
    int ok = 0;
    for (const auto& file: {plain, gz}) {
        for (int rank: {0, 1, 3}) {
            try {
                const auto a = datasets::read_idx(file, rank);
                std::uint64_t n = 1;
                for (auto d: a.dims)
                    n *= d;
                if (a.dims.empty() || (rank != 0 && int(a.dims.size()) != rank) || n != a.bytes.size())
                    throw fuzz_finding("read_idx accepted " + file + " with " + std::to_string(a.dims.size()) +
                                       " dims and " + std::to_string(a.bytes.size()) + " bytes");
                ++ok;
            } catch (const input_error&) {
            }
        }
    }
    return ok;
}

} // namespace counterstream::fuzz
