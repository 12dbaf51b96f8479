// The circuit as data: populations and synapse groups parsed and checked
// from YAML (explicit, or stacked from a motif by sim/stack.hpp), and
// written back as the expanded YAML stored in every recording.
#pragma once

#include "sim/library.hpp"
#include "sim/yaml_view.hpp"

#include <optional>
#include <string>
#include <vector>

namespace counterstream {

// soma: the somatic compartment of a conductance population (nudging).
enum class compartment { basal, apical, gate, soma };
inline constexpr int compartment_count = 4;
enum class population_role { none, input, error };

// dynamics: {kind: conductance, g_leak, g_basal, g_apical, g_soma}: the
// population's state is a somatic potential u (models/laws/conductance.hpp),
//   tau du/dt = -g_lk u + g_B (v_B - u) + g_A (v_A - u) + g_som (v_som - u),
// v_c the summed input current of compartment c, and r = f(u). Continuous mode only.
struct conductance_spec {
    double leak = 0.1, basal = 1, apical = 0, soma = 0;
    bool operator==(const conductance_spec&) const = default;
};

// r = f(I_b) * g(I_g) + alpha * I_a (or f(u), conductance)
struct population_spec {
    std::string name;
    int size = 0;
    std::string activation = "linear"; // f
    std::string gate = "none";         // g; none means g = 1
    double apical_gain = 0;            // alpha
    double tau = 0;                    // [ms] membrane time constant; 0 = instantaneous
    population_role role = population_role::none;
    std::string loss;                            // error role: cross_entropy | mse
    std::string of;                              // error role: the output population
    std::optional<conductance_spec> conductance; // dynamics: {kind: conductance, ...}
    location where;
};

// One signal of a rule's pre or post side: a plain signal (`rate`, `basal`,
// `apical`, `gate`, `active`, `current:GROUP`), or a sum of terms written as
// an expression, each term `[c *] SIGNAL` or `[c *] law([k *] SIGNAL)`, where
// law is the population's own activation f:
//   "rate - law(0.8 * basal)"  =  r - f(0.8 I_b)    (a somatic rate minus a dendritic prediction)
//   "-apical"                  =  -I_a
struct factor {
    enum class kind { rate, basal, apical, gate, current, active };
    // scale * x, or scale * f(inner * x) with law
    struct term {
        kind what = kind::rate;
        std::string group; // for current:GROUP
        double scale = 1, inner = 1;
        bool law = false;
        bool operator==(const term&) const = default;
    };
    kind what = kind::rate;
    std::string group;       // for current:GROUP
    std::vector<term> terms; // an expression: the sum of these (empty: the plain signal above)
    std::string str() const;
    bool operator==(const factor&) const = default;
};

// tau_S dS/dt = post (x) pre - gamma R(S);  discrete: S += eta (mean(post pre^T) - gamma R(S)),
// the Hebbian term saturated elementwise at s (s tanh(H / s)) when saturation s > 0
struct rule_spec {
    std::vector<factor> post{factor{}}; // rate
    std::vector<factor> pre{factor{}};  // rate
    std::optional<double> eta;          // discrete learning rate
    std::optional<double> tau;          // [ms] plasticity time constant
    std::string decay = "l2";           // l2 | l1 | none | oja | activity
    double gamma = 0;                   // decay strength
    double saturation = 0;              // s > 0: the Hebbian term is s tanh(H / s) (models/laws/plasticity.hpp)
    bool operator==(const rule_spec&) const = default;
};

struct init_spec {
    std::string kind = "normal";
    init_params params;
    std::optional<std::uint64_t> seed; // default: derived from the run seed and the group name
};

struct tie_spec {
    std::string to;
    bool transpose = true;
};

// Weight mirroring (Akrout et al. 2019): in the protocol's mirror batches,
// zero-mean noise X drives the presynaptic population of group `of`, which
// answers Y = W_of X, and this group learns S <- S + eta (mean(X Y^T) -
// gamma S), so that S tends to (var(X) / gamma) W_of^T.
struct mirror_spec {
    std::string of;
    double eta = 0;
    double gamma = 0;
};

struct synapse_spec {
    std::string name;
    std::string from, to;
    compartment target = compartment::basal;
    init_spec init;
    bool plastic = true;
    std::optional<tie_spec> tie;       // a copy of another group (weight transport)
    std::optional<rule_spec> rule;     // plastic, untied groups
    std::optional<mirror_spec> mirror; // learns in mirror batches (whether plastic or not)
    location where;
};

struct circuit_spec {
    std::vector<population_spec> populations;
    std::vector<synapse_spec> synapses;
    double eta_scale = 1; // multiplies every eta (divides every tau)

    const population_spec* population(const std::string& name) const;
    const synapse_spec* synapse(const std::string& name) const;
    int population_index(const std::string& name) const; // -1 if absent
    int synapse_index(const std::string& name) const;
};

const char* to_string(compartment c);
const char* to_string(population_role r);

// Field parsers shared by explicit circuits and motif templates.
// `template_keys`: keys a motif template may add (name:, layers:, ...),
// read by the caller.
population_spec parse_population(const std::string& name, const view& v, reader& rd, const library& lib,
                                 const std::vector<std::string>& template_keys = {});
synapse_spec parse_synapse(const std::string& name, const view& v, reader& rd, const library& lib,
                           const std::vector<std::string>& template_keys = {});

// A circuit map: either `motif:` + `sizes:` (stacked) or `populations:` + `synapses:`.
// `file` is the YAML file the circuit came from (motif paths are relative to it).
circuit_spec parse_circuit(const view& circuit, reader& rd, const library& lib);

// Graph checks: endpoints exist, sizes agree, factors make sense, ties match
// shapes, and (discrete mode) no cycle through rate-driving edges. `prefix`
// starts every key path ("circuit." in a run document), as in the parse errors.
void check_circuit(const circuit_spec& c, diagnostics& d, bool discrete, const std::string& prefix = "circuit.");

// The expanded circuit as YAML (explicit form; parse_circuit reads it back).
std::string emit_circuit(const circuit_spec& c);

} // namespace counterstream
