#include "sim/network.hpp"

#include "sim/backends/cpu/gemm.hpp"
#include "sim/error.hpp"

#include <algorithm>
#include <functional>
#include <omp.h>
#include <set>

namespace counterstream {

namespace {
int index_of(compartment c) { return int(c); }
} // namespace

network::network(const circuit_spec& spec, const library& lib, std::uint64_t seed, int batch) : spec_(spec) {
    diagnostics d;
    check_circuit(spec_, d, true);
    d.raise();

    pops_.resize(spec_.populations.size());
    for (std::size_t i = 0; i < pops_.size(); ++i) {
        auto& p = pops_[i];
        p.spec = &spec_.populations[i];
        p.f = lib.activations.find(p.spec->activation);
        p.g = p.spec->gate == "none" ? nullptr : lib.activations.find(p.spec->gate);
        if (!p.f)
            throw internal_error("activation '" + p.spec->activation + "' not in the library");
        if (p.spec->role == population_role::input && input_ < 0)
            input_ = int(i);
        if (p.spec->role == population_role::error) {
            p.loss_law = lib.losses.find(p.spec->loss);
            if (!p.loss_law)
                throw internal_error("loss '" + p.spec->loss + "' not in the library");
            p.of = spec_.population_index(p.spec->of);
            if (error_ < 0)
                error_ = int(i);
        }
    }
    output_ = error_ >= 0 ? pops_[error_].of : -1;

    groups_.resize(spec_.synapses.size());
    for (std::size_t i = 0; i < groups_.size(); ++i) {
        auto& g = groups_[i];
        const auto& s = spec_.synapses[i];
        g.spec = &s;
        g.from = spec_.population_index(s.from);
        g.to = spec_.population_index(s.to);
        g.target = s.target;
        pops_[g.to].inputs[index_of(s.target)].push_back(int(i));
        if (s.tie) {
            g.tied_to = spec_.synapse_index(s.tie->to);
            g.transpose = s.tie->transpose;
            continue;
        }
        g.w.resize(pops_[g.to].spec->size, pops_[g.from].spec->size);
        const auto* init = lib.initializers.find(s.init.kind);
        if (!init)
            throw internal_error("initializer '" + s.init.kind + "' not in the library");
        std::uint64_t mix = seed;
        rng r(s.init.seed ? *s.init.seed : splitmix64(mix) ^ stable_hash(s.name));
        try {
            init->fill(g.w, s.init.params, r);
        } catch (const input_error& e) {
            throw input_error(s.where.str() + ": synapses." + s.name + ".init: " + e.what());
        }
        g.identity_copy =
            !s.plastic && s.init.kind == "identity" && s.init.params.gain == 1.0 && g.w.rows() == g.w.cols();
    }

    // Which compartments enter the rate law.
    for (auto& p: pops_) {
        p.drives[index_of(compartment::basal)] = true;
        p.drives[index_of(compartment::gate)] = p.g != nullptr;
        p.drives[index_of(compartment::apical)] = p.spec->apical_gain != 0;
        p.needed = p.drives;
    }

    // Resolve every rule's factors to the buffers they read.
    for (auto& g: groups_) {
        const auto& s = *g.spec;
        if (!s.rule || !s.plastic || s.tie)
            continue;
        g.learns = true;
        const auto& r = *s.rule;
        g.eta = float(r.eta.value_or(0.0) * spec_.eta_scale);
        g.gamma = float(r.gamma);
        g.decay = r.decay == "l1"     ? group::decay_kind::l1
                  : r.decay == "none" ? group::decay_kind::none
                                      : group::decay_kind::l2;
        auto resolve = [&](const std::vector<factor>& fs, int p, std::vector<const matrix*>& out) {
            for (const auto& f: fs) {
                auto& pp = pops_[p];
                switch (f.what) {
                case factor::kind::rate:
                    out.push_back(&pp.rate);
                    break;
                case factor::kind::basal:
                case factor::kind::apical:
                case factor::kind::gate: {
                    const int c = f.what == factor::kind::basal    ? index_of(compartment::basal)
                                  : f.what == factor::kind::apical ? index_of(compartment::apical)
                                                                   : index_of(compartment::gate);
                    pp.needed[c] = true;
                    out.push_back(&pp.current[c]);
                    break;
                }
                case factor::kind::active:
                    pp.needs_active = true;
                    out.push_back(&pp.active);
                    break;
                case factor::kind::current: {
                    auto& other = groups_[spec_.synapse_index(f.group)];
                    other.keep_current = true;
                    pops_[other.to].needed[index_of(other.target)] = true;
                    out.push_back(&other.current);
                    break;
                }
                }
            }
        };
        resolve(r.post, g.to, g.post);
        resolve(r.pre, g.from, g.pre);
    }

    // Dependency order over rate-driving edges (check_circuit ruled out cycles).
    std::vector<std::vector<int>> deps(pops_.size());
    for (std::size_t i = 0; i < pops_.size(); ++i)
        if (pops_[i].of >= 0)
            deps[i].push_back(pops_[i].of);
    for (const auto& g: groups_)
        if (pops_[g.to].drives[index_of(g.target)])
            deps[g.to].push_back(g.from);
    std::vector<char> done(pops_.size(), 0);
    std::function<void(int, std::vector<int>&, std::vector<char>&)> visit = [&](int p, std::vector<int>& order,
                                                                                std::vector<char>& seen) {
        if (seen[p])
            return;
        seen[p] = 1;
        for (int q: deps[p])
            visit(q, order, seen);
        if (pops_[p].spec->role != population_role::input)
            order.push_back(p);
    };
    for (std::size_t i = 0; i < pops_.size(); ++i)
        visit(int(i), order_, done);
    if (output_ >= 0) {
        std::vector<char> seen(pops_.size(), 0);
        visit(output_, infer_order_, seen);
    }
    if (input_ < 0)
        throw internal_error("no input population");
    set_threads(std::max(1, omp_get_max_threads()));
    cpu::set_gemm_threads(1);
    resize_batch(batch);
}

void network::resize_batch(int batch) {
    batch_ = batch;
    for (auto& p: pops_) {
        const int n = p.spec->size;
        p.rate.setZero(n, batch);
        for (int c = 0; c < 3; ++c)
            if (p.needed[c])
                p.current[c].setZero(n, batch);
        if (p.needs_active)
            p.active.setZero(n, batch);
        if (p.g)
            p.gate_value.setZero(n, batch);
    }
    for (auto& g: groups_) {
        if (g.keep_current)
            g.current.setZero(pops_[g.to].spec->size, batch);
        if (g.post.size() > 1)
            g.post_buf.setZero(pops_[g.to].spec->size, batch);
        if (g.pre.size() > 1)
            g.pre_buf.setZero(pops_[g.from].spec->size, batch);
    }
}

void network::set_threads(int n) {
    if (n < 1)
        throw internal_error("network: threads must be at least 1");
    threads_ = n;
    partial_.reserve(n);
}

network::columns network::share(Eigen::Index n, int part, int parts) const {
    const Eigen::Index first = n * part / parts;
    return {first, n * (part + 1) / parts - first};
}

void network::apply_group(int gi, block out, bool accumulate, columns cols) {
    const auto& g = groups_[gi];
    const auto pre = pops_[g.from].rate.middleCols(cols.first, cols.count);
    if (g.identity_copy) {
        if (accumulate)
            out += pre;
        else
            out = pre;
        return;
    }
    const float beta = accumulate ? 1.0f : 0.0f;
    if (g.tied_to >= 0)
        cpu::gemm(1.0f, groups_[g.tied_to].w, g.transpose ? cpu::op::transpose : cpu::op::none, pre, cpu::op::none,
                  beta, out);
    else
        cpu::gemm(1.0f, g.w, cpu::op::none, pre, cpu::op::none, beta, out);
}

void network::compute_compartment(int p, int c, columns cols) {
    auto& pp = pops_[p];
    auto out = pp.current[c].middleCols(cols.first, cols.count);
    const auto& in = pp.inputs[c];
    if (in.empty()) {
        out.setZero();
        return;
    }
    bool first = true;
    for (int gi: in) {
        auto& g = groups_[gi];
        if (g.keep_current) {
            auto own = g.current.middleCols(cols.first, cols.count);
            apply_group(gi, own, false, cols);
            if (first)
                out = own;
            else
                out += own;
        } else {
            apply_group(gi, out, !first, cols);
        }
        first = false;
    }
}

void network::evaluate(int p, columns cols) {
    auto& pp = pops_[p];
    constexpr int b = int(compartment::basal), a = int(compartment::apical), gt = int(compartment::gate);
    for (int c = 0; c < 3; ++c)
        if (pp.drives[c])
            compute_compartment(p, c, cols);
    auto rate = pp.rate.middleCols(cols.first, cols.count);
    pp.f->apply(pp.current[b].middleCols(cols.first, cols.count), rate);
    if (pp.g) {
        auto gate = pp.gate_value.middleCols(cols.first, cols.count);
        pp.g->apply(pp.current[gt].middleCols(cols.first, cols.count), gate);
        rate.array() *= gate.array();
    }
    if (pp.drives[a])
        rate += float(pp.spec->apical_gain) * pp.current[a].middleCols(cols.first, cols.count);
}

namespace {

// The elementwise product of a rule's factors, over a block of each.
template <class Slice> void multiply_factors(const std::vector<const matrix*>& fs, matrix& buf, Slice slice) {
    auto out = slice(buf);
    out = slice(*fs[0]);
    for (std::size_t i = 1; i < fs.size(); ++i)
        out.array() *= slice(*fs[i]).array();
}

loss_result sum(const std::vector<loss_result>& parts) {
    loss_result total;
    for (const auto& r: parts) {
        total.loss_sum += r.loss_sum;
        total.correct += r.correct;
    }
    return total;
}

} // namespace

loss_result network::forward_columns(columns cols, const std::int32_t* labels) {
    loss_result result;
    if (cols.count == 0)
        return result;
    for (int p: order_) {
        auto& pp = pops_[p];
        if (pp.loss_law)
            result = pp.loss_law->error(pops_[pp.of].rate.middleCols(cols.first, cols.count), labels + cols.first,
                                        pp.rate.middleCols(cols.first, cols.count));
        else
            evaluate(p, cols);
    }
    // Currents and derivatives that only rules read, now that every rate exists.
    for (std::size_t p = 0; p < pops_.size(); ++p) {
        auto& pp = pops_[p];
        for (int c = 0; c < 3; ++c)
            if (pp.needed[c] && !pp.drives[c])
                compute_compartment(int(p), c, cols);
        if (pp.needs_active)
            pp.f->derivative(pp.current[int(compartment::basal)].middleCols(cols.first, cols.count),
                             pp.active.middleCols(cols.first, cols.count));
    }
    // Products of several pre factors, read whole by every thread's rows.
    for (auto& g: groups_)
        if (g.learns && g.pre.size() > 1)
            multiply_factors(g.pre, g.pre_buf, [&](auto& m) { return m.middleCols(cols.first, cols.count); });
    return result;
}

loss_result network::forward(const std::int32_t* labels) {
    const int parts = std::min(threads_, std::max(1, batch_));
    partial_.assign(parts, loss_result{});
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int t = 0; t < parts; ++t)
        partial_[t] = forward_columns(share(batch_, t, parts), labels);
    return sum(partial_);
}

loss_result network::infer_columns(columns cols, const std::int32_t* labels) {
    if (cols.count == 0)
        return {};
    for (int p: infer_order_)
        evaluate(p, cols);
    if (error_ < 0)
        return {};
    return pops_[error_].loss_law->evaluate(pops_[output_].rate.middleCols(cols.first, cols.count),
                                            labels + cols.first);
}

loss_result network::infer(const std::int32_t* labels) {
    const int parts = std::min(threads_, std::max(1, batch_));
    partial_.assign(parts, loss_result{});
#pragma omp parallel for num_threads(parts) schedule(static, 1)
    for (int t = 0; t < parts; ++t)
        partial_[t] = infer_columns(share(batch_, t, parts), labels);
    return sum(partial_);
}

void network::learn_rows(int thread, int threads) {
    const float inv_batch = 1.0f / float(batch_);
    for (auto& g: groups_) {
        if (!g.learns)
            continue;
        const auto rows = share(g.w.rows(), thread, threads);
        if (rows.count == 0)
            continue;
        const auto slice = [&](auto& m) { return m.middleRows(rows.first, rows.count); };
        auto w = slice(g.w);
        if (g.post.size() > 1)
            multiply_factors(g.post, g.post_buf, slice);
        const matrix& post = g.post.size() > 1 ? g.post_buf : *g.post[0];
        const matrix& pre = g.pre.size() > 1 ? g.pre_buf : *g.pre[0];
        float beta = 1.0f;
        switch (g.decay) {
        case group::decay_kind::l2:
            beta = 1.0f - g.eta * g.gamma;
            break;
        case group::decay_kind::l1:
            w -= (g.eta * g.gamma) * w.cwiseSign();
            break;
        case group::decay_kind::none:
            break;
        }
        cpu::gemm(g.eta * inv_batch, post.middleRows(rows.first, rows.count), cpu::op::none, pre, cpu::op::transpose,
                  beta, w);
    }
}

void network::learn() {
    // Rates and currents were all computed by forward() from the pre-update
    // weights, so updating groups one after another is still simultaneous.
#pragma omp parallel for num_threads(threads_) schedule(static, 1)
    for (int t = 0; t < threads_; ++t)
        learn_rows(t, threads_);
}

std::int64_t network::step_flops() const {
    std::int64_t flops = 0;
    const auto gemm = [&](const group& g) {
        return 2 * std::int64_t(pops_[g.to].spec->size) * pops_[g.from].spec->size * batch_;
    };
    for (const auto& p: pops_)
        for (int c = 0; c < 3; ++c)
            if (p.needed[c])
                for (int gi: p.inputs[c])
                    if (!groups_[gi].identity_copy)
                        flops += gemm(groups_[gi]);
    for (const auto& g: groups_)
        if (g.learns)
            flops += gemm(g);
    return flops;
}

const network::population& network::pop(const std::string& name) const {
    const int i = spec_.population_index(name);
    if (i < 0)
        throw internal_error("no population '" + name + "'");
    return pops_[i];
}

network::group& network::grp(const std::string& name) {
    const int i = spec_.synapse_index(name);
    if (i < 0)
        throw internal_error("no synapse group '" + name + "'");
    return groups_[i];
}

matrix network::effective_weights(int gi) const {
    const auto& g = groups_[gi];
    if (g.tied_to < 0)
        return g.w;
    return g.transpose ? matrix(groups_[g.tied_to].w.transpose()) : groups_[g.tied_to].w;
}

} // namespace counterstream
