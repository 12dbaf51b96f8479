// Theorem 1 measured (the paper's eq. 9): Delta_SAL W^l = H^l Delta_sgd W^l - gamma W^l + O(eps),
// H^l = Vbar^l (Vbar^l)^T, Delta_sgd W^l = -dF/dW^l. On a probe batch this compares
//   the circuit's update of W^l: (eta / B) POST PRE^T from the rule's own factors (no decay),
//   the true gradient -dF/dW^l of the upstream network h^{l+1} = f(W^l h^l), F the mean loss
//   of the error population, by backpropagation in double (independent of the downstream).
#pragma once

#include "sim/network.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace counterstream::analysis {

// One forward layer of the upstream chain input -> W1 -> h2 -> ... -> output.
struct upstream_layer {
    std::string name;       // W{l}
    int group = -1;         // index into network::groups()
    int from = -1, to = -1; // populations h^l, h^{l+1}
    int vbar = -1;          // group Vbar{l} onto h^{l+1} (H^l = Vbar Vbar^T), -1 if absent
};

// The chain by the stacked-circuit naming (W1 from the input, W{l+1} from
// W{l}'s target, until the output). Empty, with `why` saying what is
// missing, when the upstream is not such a plain chain: a population on it
// with a gate, an apical gain, or another basal input.
std::vector<upstream_layer> upstream_chain(const network& net, std::string& why);

struct layer_update {
    std::string name;
    bool learns = false;      // W^l is plastic (otherwise update is zero)
    Eigen::MatrixXd update;   // (eta / B) POST PRE^T  [post x pre]
    Eigen::MatrixXd gradient; // -dF/dW^l              [post x pre]
    Eigen::MatrixXd h;        // H^l = Vbar^l (Vbar^l)^T, empty without Vbar{l}
};

struct probe_result {
    double loss = 0; // mean loss F of the probe batch
    std::vector<layer_update> layers;
};

// Runs net.forward(labels) on the batch already in net.input() with the
// network's current weights, and returns each layer's update and gradient.
// labels: one per column of the input.
probe_result update_and_gradient(network& net, const std::vector<upstream_layer>& chain, const std::int32_t* labels);

} // namespace counterstream::analysis
