// Stacking a motif file into a layered circuit (the paper's L-layer
// ascending/descending streams). Names are an interface: upstream h1..hL
// (h1 input, hL output), downstream hbar2..hbar{L-1}, error population e
// (the downstream top, hbar{L}); groups keep their motif names with {l}
// replaced by the layer index.
#pragma once

#include "sim/circuit.hpp"

namespace counterstream {

// circuit: a map with motif:, sizes:, feedback_ratio:, eta_scale:, params:,
// loss:, and optional populations:/synapses: overrides (template keys such as
// `hidden` or `W{l}` apply to every layer, concrete names to one).
circuit_spec stack_circuit(const view& circuit, reader& rd, const library& lib);

// Loads a YAML file, turning syntax errors into one-line input_errors.
YAML::Node load_yaml_file(const std::string& file);

} // namespace counterstream
