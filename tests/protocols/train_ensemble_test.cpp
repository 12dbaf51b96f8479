// An ensemble member that fails stops alone: the others finish their runs.
#include "models/library.hpp"
#include "protocols/train.hpp"
#include "sim/error.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

using namespace counterstream;

TEST_CASE("train_ensemble: a member whose recording cannot be created fails alone") {
    const auto lib = models::standard_library();
    const std::string file = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sal_continuous.yaml";
    std::vector<run_document> runs;
    for (const char* tau: {"125", "250", "500"})
        runs.push_back(load_run(file,
                                {"circuit.sizes=[20, 8, 4]", "protocol.trials=4", "protocol.max_steps=3",
                                 "protocol.dataset={name: teacher, teacher: {train: 64, test: 32}}",
                                 "protocol.record.sample_every_ms=0", "protocol.record.populations=[e]",
                                 std::string("circuit.synapses.W{l}.rule.tau=") + tau},
                                lib));
    std::vector<std::ostringstream> logs(runs.size());
    std::vector<ensemble_member> members;
    for (std::size_t k = 0; k < runs.size(); ++k) {
        // A file where member 1's folder should be.
        const std::filesystem::path dir =
            k == 1 ? std::filesystem::path(testing::write_file("not-a-folder", "")) : testing::temp_dir();
        members.push_back({&runs[k], dir / ("member-" + std::to_string(k) + ".h5"), "test", &logs[k]});
    }
    const auto outcomes = train_ensemble(members, lib, 2);
    REQUIRE(outcomes.size() == 3);
    REQUIRE(outcomes[1].error != nullptr);
    CHECK_THROWS_AS(std::rethrow_exception(outcomes[1].error), input_error);
    for (const std::size_t k: {0u, 2u}) {
        CAPTURE(k);
        CHECK(outcomes[k].error == nullptr);
        CHECK(outcomes[k].result.steps == 3);
        REQUIRE(outcomes[k].result.epochs.size() == 1);
        CHECK(logs[k].str().find("epoch   1  presentations 3") != std::string::npos);
    }
    // Their circuits differ, so their runs do.
    CHECK(outcomes[0].result.epochs[0].train_loss != outcomes[2].result.epochs[0].train_loss);
}

TEST_CASE("ensemble keys: discrete runs group only on the CUDA backend, and only with the same data stream") {
    const auto lib = models::standard_library();
    const std::string dir = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/";
    const auto key = [&](const std::string& circuit, std::vector<std::string> sets) {
        return ensemble_key(load_run(dir + circuit, sets, lib));
    };
    // On the CPU a discrete ensemble saves nothing: every point runs alone.
    CHECK(key("sal.yaml", {}).empty());
    const std::string a = key("sal.yaml", {"protocol.backend=cuda", "circuit.eta_scale=1"});
    CHECK(!a.empty());
    // Rates belong to the circuit: runs that differ only there share a key.
    CHECK(key("sal.yaml", {"protocol.backend=cuda", "circuit.eta_scale=3"}) == a);
    // Another shuffle seed, batch size or backend is another data stream.
    CHECK(key("sal.yaml", {"protocol.backend=cuda", "protocol.seed=2"}) != a);
    CHECK(key("sal.yaml", {"protocol.backend=cuda", "protocol.batch_size=128"}) != a);
    CHECK(key("sal_continuous.yaml", {}) != key("sal_continuous.yaml", {"protocol.backend=cuda"}));
    // Without shuffling the seed only initializes the circuit.
    CHECK(key("sal.yaml", {"protocol.backend=cuda", "protocol.shuffle=false", "protocol.seed=2"}) ==
          key("sal.yaml", {"protocol.backend=cuda", "protocol.shuffle=false", "protocol.seed=3"}));
}
