// The read-only structure of a circuit, compiled once from its expanded
// spec: what every backend runs. It holds the evaluation order, which
// compartments a population computes and which of them drive its rate, the
// groups feeding each compartment, every rule's factors resolved to the
// signals they read, ties, identity copies, decay laws and which populations
// the continuous mode's ODE state holds. The numbers that may differ between
// instances of one circuit (learning rates, decay strengths, weights) are
// not in the plan: two instances with equal plans can run as one ensemble.
#pragma once

#include "models/laws/plasticity.hpp"
#include "sim/circuit.hpp"
#include "sim/library.hpp"

#include <array>
#include <vector>

namespace counterstream {

enum class sim_mode { discrete, continuous };

struct circuit_plan {
    // A signal a rule reads.
    struct factor_ref {
        enum class kind { rate, current, active, group_current, signal } what = kind::rate;
        int index = 0; // population (group for group_current, signals entry for signal)
        int c = 0;     // compartment, for current
        bool operator==(const factor_ref&) const = default;
    };

    // An expression factor: sum over terms of scale * law(inner * x), with
    // law the population's activation f where the term says law(...), else
    // the identity (sim/circuit.hpp, factor). Computed per column after the
    // rates, currents and f' it reads.
    struct signal {
        struct term {
            factor_ref x; // rate, current, active or group_current
            float scale = 1, inner = 1;
            bool law = false;
            bool operator==(const term&) const = default;
        };
        int population = -1; // whose neurons (rows) and law
        std::vector<term> terms;
        bool operator==(const signal&) const = default;
    };

    // r = f(I_b) g(I_g) + alpha I_a
    struct population {
        int size = 0;
        laws::activation_law f = laws::activation_law::linear;
        bool gated = false; // g is a law (else g = 1)
        laws::activation_law g = laws::activation_law::linear;
        float alpha = 0;
        population_role role = population_role::none;
        bool has_loss = false; // error populations: e = -dF/dy of `loss` on population `of`
        laws::loss_law loss = laws::loss_law::cross_entropy;
        int of = -1;
        std::array<bool, compartment_count> drives{};           // compartment enters the rate law
        std::array<bool, compartment_count> needed{};           // computed at all (rate law, potential or a rule)
        std::array<std::vector<int>, compartment_count> inputs; // groups targeting each compartment
        bool needs_active = false;                              // a rule reads f'(I_b)
        bool dynamic = false;                                   // continuous, tau > 0: its rates are in the ODE state
        // dynamics: conductance (models/laws/conductance.hpp): the ODE state
        // holds the potential u, r = f(u); g by compartment (gate: 0).
        bool conductance = false;
        float g_leak = 0;
        std::array<float, compartment_count> g_c{};
        bool operator==(const population&) const = default;
    };

    struct group {
        int from = -1, to = -1;
        int rows = 0, cols = 0; // [post x pre]
        compartment target = compartment::basal;
        int tied_to = -1;                  // the group whose weights this one applies
        bool transpose = false;            // tied: W^T of the other
        bool identity_copy = false;        // frozen square identity: current = pre rate
        bool keep_current = false;         // a rule reads current:THIS
        bool learns = false;               // plastic with a rule
        std::vector<factor_ref> post, pre; // factors multiplied elementwise
        laws::decay_law decay = laws::decay_law::l2;
        bool saturates = false; // the Hebbian term saturates (rule.saturation > 0, per instance)
        int mirror_of = -1;     // learns in mirror batches from this group's W
        bool operator==(const group&) const = default;
    };

    sim_mode mode = sim_mode::discrete;
    std::vector<population> populations;
    std::vector<group> groups;
    std::vector<signal> signals;  // expression factors, in the order rules name them
    std::vector<int> order;       // evaluation order of instantaneous populations, inputs excluded
    std::vector<int> dynamic;     // continuous: populations with tau > 0
    std::vector<int> infer_order; // the output's ancestors only, all taken as instantaneous
    int input = -1, error = -1, output = -1;
    bool mirrors = false;

    bool operator==(const circuit_plan&) const = default;

    // Continuous mode: where the ODE state of `instances` instances with
    // `batch` trials each holds its fields, dynamic populations' rates first,
    // then learning groups' weights, each in index order. A field's
    // instances lie next to each other: instance k's slice starts at
    // offset + k * (slice size). -1 for what the state does not hold.
    struct state_layout {
        std::vector<std::int64_t> population, group;
        std::int64_t rates = 0; // the rates' share: the state's first values
        std::int64_t size = 0;
    };
    state_layout layout(int batch, int instances = 1) const;
};

// Compiles a circuit that check_circuit accepts (input_error otherwise, with
// every problem) for `mode`; the laws come from `lib`.
circuit_plan compile_plan(const circuit_spec& spec, const library& lib, sim_mode mode);

} // namespace counterstream
