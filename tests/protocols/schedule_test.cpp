// Rate schedules (protocol.schedule): every rule's eta, and its decay with
// it, times a factor of the training's progress.
#include "models/library.hpp"
#include "protocols/run_document.hpp"
#include "protocols/train.hpp"
#include "sim/weights_file.hpp"
#include "tests/support/yaml_files.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

using namespace counterstream;

TEST_CASE("schedules: cosine falls from 1 to min over the run, step drops by factor every `every` epochs") {
    schedule_spec cosine;
    cosine.kind = "cosine";
    cosine.min = 0.1;
    CHECK(schedule_factor(cosine, 0, 100, 1) == doctest::Approx(1.0));
    CHECK(schedule_factor(cosine, 50, 100, 3) == doctest::Approx(0.55)); // halfway: (1 + min) / 2
    CHECK(schedule_factor(cosine, 25, 100, 2) == doctest::Approx(0.1 + 0.9 * (1 + std::cos(M_PI / 4)) / 2));
    CHECK(schedule_factor(cosine, 100, 100, 5) == doctest::Approx(0.1));
    CHECK(schedule_factor(cosine, 150, 100, 5) == doctest::Approx(0.1)); // past the end: stays at min
    schedule_spec step;
    step.kind = "step";
    step.every = 2;
    step.factor = 0.5;
    for (const auto& [epoch, expected]: {std::pair{1, 1.0}, {2, 1.0}, {3, 0.5}, {4, 0.5}, {5, 0.25}})
        CHECK(schedule_factor(step, 0, 0, epoch) == doctest::Approx(expected));
    CHECK(schedule_factor(schedule_spec{}, 7, 100, 4) == 1.0);
}

TEST_CASE("schedules: a step schedule to zero stops learning after the first epoch, bitwise") {
    const auto lib = models::standard_library();
    const std::string sal = std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sal.yaml";
    const std::vector<std::string> base = {"circuit.sizes=[20, 16, 4]", "protocol.batch_size=32",
                                           "protocol.dataset={name: teacher}"};
    auto run = [&](const std::string& name, std::vector<std::string> sets) {
        sets.insert(sets.end(), base.begin(), base.end());
        train_options opt;
        opt.output = testing::temp_dir() / (name + ".h5");
        opt.command_line = "test";
        opt.threads = 1;
        std::ostringstream log;
        const auto result = train(load_run(sal, sets, lib), lib, opt, log);
        CHECK_FALSE(result.diverged);
        return opt.output.string();
    };
    const auto one_epoch = run("one-epoch", {"protocol.epochs=1"});
    const auto frozen = run("frozen", {"protocol.epochs=3", "protocol.schedule={kind: step, every: 1, factor: 0}"});
    const auto halved = run("halved", {"protocol.epochs=3", "protocol.schedule={kind: step, every: 1, factor: 0.5}"});
    for (const char* g: {"W1", "W2", "Wbar2", "V2", "Vbar1"}) {
        CAPTURE(g);
        const std::string data = std::string("/weights/") + g + "/data";
        const auto a = read_last_matrix(one_epoch, data), b = read_last_matrix(frozen, data),
                   c = read_last_matrix(halved, data);
        CHECK((a.array() == b.array()).all());   // epochs 2 and 3 learned nothing, decay included
        CHECK((a - c).norm() > 1e-6 * a.norm()); // while halved rates still learn
    }
}

TEST_CASE("schedules: a run document keeps its schedule through the recording's protocol") {
    const auto lib = models::standard_library();
    const auto doc = load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sgd.yaml",
                              {"protocol.schedule={kind: cosine, min: 0.05}"}, lib);
    CHECK(doc.protocol.schedule.kind == "cosine");
    CHECK(doc.protocol.schedule.min == 0.05);
    const std::string emitted = emit_protocol(doc.protocol);
    CHECK(emitted.find("schedule: {kind: cosine, min: 0.05}") != std::string::npos);
    CHECK(emit_protocol(load_run(std::string(COUNTERSTREAM_SOURCE_DIR) + "/models/circuits/sgd.yaml", {}, lib).protocol)
              .find("schedule") == std::string::npos);
}
