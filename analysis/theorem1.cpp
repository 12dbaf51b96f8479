#include "analysis/theorem1.hpp"

#include "models/laws/losses.hpp"
#include "sim/error.hpp"

namespace counterstream::analysis {

namespace {

// The circuit's own neuron law f (or f'), evaluated in double (models/laws/).
Eigen::MatrixXd law(laws::activation_law f, const Eigen::MatrixXd& in, bool derivative) {
    return in.unaryExpr([&](double x) { return derivative ? laws::derivative(f, x) : laws::apply(f, x); });
}

// The elementwise product of a rule's factors, in double.
Eigen::MatrixXd product(const network& net, const std::vector<network::factor_ref>& factors) {
    Eigen::MatrixXd out = net.factor_block(factors.at(0)).cast<double>();
    for (std::size_t i = 1; i < factors.size(); ++i)
        out.array() *= net.factor_block(factors[i]).cast<double>().array();
    return out;
}

} // namespace

std::vector<upstream_layer> upstream_chain(const network& net, std::string& why) {
    const auto& spec = net.spec();
    const auto& pops = net.populations();
    const int output = net.output_population();
    int input = -1;
    for (std::size_t p = 0; p < pops.size(); ++p)
        if (pops[p].spec->role == population_role::input && input < 0)
            input = int(p);
    if (output < 0 || input < 0) {
        why = output < 0 ? "no error population" : "no input population";
        return {};
    }
    // From the input, the one basal group out of each layer into a plain
    // feed-forward population, until the output (W1, W2, ... in the paper's
    // motifs; any names in others).
    std::vector<upstream_layer> chain;
    int at = input;
    for (std::size_t l = 1; at != output; ++l) {
        int gi = -1;
        for (std::size_t k = 0; k < net.plan().groups.size(); ++k) {
            const auto& g = net.plan().groups[k];
            if (g.from != at || g.target != compartment::basal || pops[g.to].spec->role != population_role::none)
                continue;
            const auto& post = net.plan().populations[g.to];
            if (post.gated || post.alpha != 0 || post.inputs[int(compartment::basal)].size() != 1)
                continue;
            if (gi >= 0) {
                why = "two feed-forward groups leave " + pops[at].spec->name + " (" + spec.synapses[gi].name +
                      ", " + spec.synapses[k].name + "): the upstream chain is ambiguous";
                return {};
            }
            gi = int(k);
        }
        if (gi < 0 || l > spec.synapses.size()) {
            why = "no feed-forward group from " + pops[at].spec->name +
                  " (a basal group into a population without gate, apical gain or other basal input) on the way to " +
                  pops[output].spec->name;
            return {};
        }
        const auto& g = net.plan().groups[gi];
        const std::string name = spec.synapses[gi].name;
        upstream_layer layer;
        layer.name = name;
        layer.group = gi;
        layer.from = g.from;
        layer.to = g.to;
        const int vb = spec.synapse_index("Vbar" + std::to_string(l));
        if (vb >= 0 && net.plan().groups[vb].to == g.to)
            layer.vbar = vb;
        chain.push_back(layer);
        at = g.to;
    }
    return chain;
}

probe_result update_and_gradient(network& net, const std::vector<upstream_layer>& chain, const std::int32_t* labels) {
    if (chain.empty())
        throw internal_error("update_and_gradient: empty upstream chain");
    net.forward(labels);
    const auto& pops = net.populations();
    const double batch = double(net.batch());

    probe_result out;
    for (const auto& layer: chain) {
        const auto& g = net.groups()[layer.group];
        layer_update u;
        u.name = layer.name;
        u.learns = g.plan->learns;
        if (g.plan->learns)
            u.update = (double(g.eta) / batch) * product(net, g.plan->post) * product(net, g.plan->pre).transpose();
        else
            u.update = Eigen::MatrixXd::Zero(g.w.rows(), g.w.cols());
        if (layer.vbar >= 0) {
            const Eigen::MatrixXd vbar = net.effective_weights(layer.vbar).cast<double>();
            u.h = vbar * vbar.transpose();
        }
        out.layers.push_back(std::move(u));
    }

    // Forward through the upstream chain alone, in double.
    const std::size_t n = chain.size();
    std::vector<Eigen::MatrixXd> w(n), a(n), h(n + 1);
    h[0] = pops[chain[0].from].rate.cast<double>();
    for (std::size_t l = 0; l < n; ++l) {
        w[l] = net.effective_weights(chain[l].group).cast<double>();
        a[l] = w[l] * h[l];
        h[l + 1] = law(pops[chain[l].to].plan->f, a[l], false);
    }
    // -dF/dy from the error population's own loss law.
    const circuit_plan::population* error = nullptr;
    for (const auto& p: net.plan().populations)
        if (p.has_loss && p.of == chain.back().to)
            error = &p;
    if (!error)
        throw internal_error("update_and_gradient: no error population of " + pops[chain.back().to].spec->name);
    const matrix y = h[n].cast<float>();
    matrix e(y.rows(), y.cols());
    double loss_sum = 0;
    for (Eigen::Index j = 0; j < y.cols(); ++j)
        loss_sum += laws::loss_column(error->loss, int(y.rows()), y.col(j).data(), labels[j], e.col(j).data()).loss;
    out.loss = loss_sum / batch;

    // delta^{l+1} = -dF/da^{l+1}; -dF/dW^l = delta^{l+1} (h^l)^T / B.
    Eigen::MatrixXd delta = law(pops[chain[n - 1].to].plan->f, a[n - 1], true).cwiseProduct(e.cast<double>());
    for (std::size_t l = n; l-- > 0;) {
        out.layers[l].gradient = delta * h[l].transpose() / batch;
        if (l > 0)
            delta = law(pops[chain[l - 1].to].plan->f, a[l - 1], true).cwiseProduct(w[l].transpose() * delta);
    }
    return out;
}

} // namespace counterstream::analysis
