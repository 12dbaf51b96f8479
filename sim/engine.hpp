// The engine: every pass of a circuit written once, over a backend's
// primitives (sim/backends/primitives.hpp), for K instances of one plan.
// engine<cpu::backend> and engine<cuda::backend> run the same code.
//
// Discrete-step mode (the paper's Algorithm 1):
//   forward(): evaluate populations in order (r = f(I_b) g(I_g) + alpha I_a),
//              then the currents and derivatives the rules read;
//   learn():   every plastic group S <- beta S + (eta / B) POST PRE^T from the
//              same rates and pre-update weights (simultaneous semantics); with
//              Adam steps S <- S + eta m^ / (sqrt(v^) + epsilon).
// Continuous mode: the ODE state holds the rates of populations with
// tau > 0 and every plastic weight, laid out by circuit_plan::layout for K
// instances; derivative() points the buffers at a state and writes
//   tau_p dr/dt = -r + f(I_b) g(I_g) + alpha I_a       (populations with tau > 0)
//   tau_p du/dt = G (u* - u), r = f(u)                (dynamics: conductance, models/laws/conductance.hpp)
//   tau_S dS/dt = mean_trials(POST PRE^T) - gamma R(S) (plastic groups)
//
// Buffers: a population's [n x batch] (a group's [post x pre]) slices of the
// K instances lie next to each other; instance k's starts k slices in. The
// numbers that may differ between instances (eta, gamma, tau, mirror rates)
// are per-instance arrays beside the plan.
//
// Parts: a pass runs as parts, each a range of instances and columns
// (forward) or of instances and rows (learn). The CUDA backend runs one part
// holding everything; the CPU backend one part per thread: column (row)
// ranges of one instance, or whole instances when K > 1. A run is bitwise
// reproducible for a given thread count.
#pragma once

#include "models/laws/plasticity.hpp"
#include "sim/backends/primitives.hpp"
#include "sim/circuit_plan.hpp"
#include "sim/library.hpp"
#include "sim/random.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace counterstream {

// How a discrete step applies a rule's update U = mean(POST PRE^T) - gamma R(S).
// plain: S <- S + eta U (Algorithm 1). adam: each synapse keeps running means
// of U and U^2 (m, v; beta1, beta2) and moves by eta m^ / (sqrt(v^) + epsilon),
// with m^, v^ the bias-corrected means (Kingma & Ba 2015): a per-synapse step
// size, local to the synapse like the rule itself.
enum class optimizer_kind { plain, adam };
inline const char* optimizer_name(optimizer_kind k) { return k == optimizer_kind::adam ? "adam" : "plain"; }
struct optimizer_spec {
    optimizer_kind kind = optimizer_kind::plain;
    double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
};

template <class B> class engine {
public:
    template <class T> using array = typename B::template array<T>;
    using context = typename B::context;

    // Buffers for `instances` instances of `batch` columns; weights and
    // parameters start at zero.
    engine(circuit_plan plan, int instances, int batch);
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    const circuit_plan& plan() const { return plan_; }
    int instances() const { return K_; }
    int batch() const { return batch_; }
    void resize_batch(int batch);
    // CPU: the threads a pass is spread over.
    void set_threads(int n) { threads_ = std::max(1, n); }
    int threads() const { return threads_; }
    context& ctx() { return ctx_; }

    // Instance k's parameters. eta: discrete, the rule's eta * eta_scale;
    // continuous, eta_scale / tau [1/ms]; scale_rates() multiplies base_eta into it.
    float& eta(int g, int k) { return eta_[at(g, k)]; }
    float& base_eta(int g, int k) { return base_eta_[at(g, k)]; }
    float& gamma(int g, int k) { return gamma_[at(g, k)]; }
    float& saturation(int g, int k) { return saturation_[at(g, k)]; } // the rule's s; 0: none
    float& mirror_eta(int g, int k) { return mirror_eta_[at(g, k)]; }
    float& mirror_gamma(int g, int k) { return mirror_gamma_[at(g, k)]; }
    float& inv_tau(int p, int k) { return inv_tau_[at(p, k)]; } // continuous, dynamic populations: 1 / tau [1/ms]
    // Every rule's eta becomes base_eta times `factor` (protocol.schedule).
    void scale_rates(double factor);

    // Instance k's buffers in the backend's memory: a population's rates
    // [n x batch] (its own, or the bound state's), currents, f'(I_b) and
    // rate-law value; a group's weights [post x pre] (null for tied
    // groups), kept current and Adam moments.
    float* rate(int p, int k = 0) { return pops_[p].rate + k * slice(p); }
    float* own_rate(int p, int k = 0) { return pops_[p].own_rate.get() + k * slice(p); }
    float* current(int p, int c, int k = 0) { return pops_[p].current[c].get() + k * slice(p); }
    float* active(int p, int k = 0) { return pops_[p].active.get() + k * slice(p); }
    float* drive(int p, int k = 0) { return pops_[p].drive.get() + k * slice(p); }
    // Conductance populations: the somatic potential u (its own, or the bound state's).
    float* potential(int p, int k = 0) { return pops_[p].potential + k * slice(p); }
    float* weights(int g, int k = 0) { return groups_[g].w ? groups_[g].w + k * weight_size(g) : nullptr; }
    float* own_weights(int g, int k = 0) {
        return groups_[g].own_w.get() ? groups_[g].own_w.get() + k * weight_size(g) : nullptr;
    }
    float* group_current(int g, int k = 0) { return groups_[g].current.get() + k * current_slice(g); }
    // Expression factor s (plan().signals[s]) of the last forward pass, [n x batch].
    float* signal(int s, int k = 0) { return signal_[s].get() + k * slice(plan_.signals[s].population); }
    float* moment(int g, int which, int k = 0) {
        return (which == 0 ? groups_[g].m : groups_[g].v).get() + k * weight_size(g);
    }
    std::int64_t slice(int p) const { return std::int64_t(plan_.populations[p].size) * batch_; }
    std::int64_t weight_size(int g) const { return std::int64_t(plan_.groups[g].rows) * plan_.groups[g].cols; }

    // The batch's labels: y holds batch values, every instance's (one data
    // stream) or instance k's; or y[k] instance k's, sent together (null: none).
    void set_labels(const std::int32_t* y);
    void set_labels(int k, const std::int32_t* y);
    void set_labels(std::span<const std::int32_t* const> y);
    // Every instance's input rates become instance 0's (one data stream).
    void share_input();

    // Per instance: the loss on the error population (0 without one).
    std::vector<loss_result> forward();
    // Only what the output depends on, every population instantaneous (for
    // evaluation); no error, no rule currents; dynamic rates read their own buffers.
    std::vector<loss_result> infer();
    void learn();
    // One mirror batch: for every mirroring group S (of W), noise X [n_pre(W)
    // x batch] drawn from noise[k], zero-mean uniform of standard deviation
    // sigma, and S <- (1 - eta gamma) S + (eta / batch) X (W X)^T. Returns
    // whether the circuit has any.
    bool mirror(std::span<rng* const> noise, int batch, double sigma);

    // How learn() steps (discrete mode); Adam's moments start at zero.
    void set_optimizer(const optimizer_spec& o);
    const optimizer_spec& optimizer() const { return optimizer_; }
    bool adam() const { return optimizer_.kind == optimizer_kind::adam; }
    std::int64_t optimizer_steps() const { return optimizer_steps_; }
    void set_optimizer_steps(std::int64_t t) { optimizer_steps_ = t; }

    // Continuous mode: the state of all instances (circuit_plan::layout at
    // the batch the engine was built with), in the backend's memory.
    const circuit_plan::state_layout& layout() const { return layout_; }
    // Copies the own rates of dynamic populations and the plastic weights into x.
    void write_state(float* x);
    // Dynamic rates and plastic weights read x (no copies).
    void bind_state(const float* x);
    // Dynamic rates read their own buffers again; weights stay on the state.
    void bind_own_rates();
    // dx/dt at x for the current input; learning: plasticity on (else dS/dt = 0).
    // The loss there comes from losses() (the CUDA backend waits for it).
    void derivative(const float* x, float* dxdt, bool learning);
    // dr/dt alone, plasticity off: the rates at `rates` (the state's first
    // layout().rates values), the weights of x, into drates (as many). The
    // currents and factors that only rules read are not computed. While
    // plasticity is off the weights stand still, so a segment integrated on
    // the rates alone gives the rates of one integrated on the whole state.
    void rate_derivative(const float* x, const float* rates, float* drates);
    // Per instance, the loss of the last forward(), infer() or derivative().
    std::vector<loss_result> losses();
    // Whether the rate buffers hold a whole forward pass (infer() fills only some).
    bool has_forward_rates() const { return rates_of_forward_; }

    // Instance k's Euclidean norms: of every group's own weights (0 for tied
    // groups) and of every population's rates in the last forward pass (0 before one).
    void norms(int k, std::vector<double>& weights, std::vector<double>& rates);
    // Floating-point operations of the GEMMs of one instance's forward() +
    // learn() (or derivative()), 2 m n k per product.
    std::int64_t step_flops() const;
    // Those of forward() alone (or of a derivative() without plasticity).
    std::int64_t forward_flops() const;

private:
    struct population {
        array<float> own_rate, active, drive, own_potential, scratch;
        std::array<array<float>, compartment_count> current;
        float* rate = nullptr;      // own_rate, or the bound state's
        float* potential = nullptr; // conductance: own_potential, or the bound state's
    };
    struct group {
        array<float> own_w, current, post, pre, m, v, u;
        array<float> row_scale; // oja decay: each row's mean square current; activity: its post rate's
        array<float> col_scale; // activity decay: each column's mean square pre rate
        float* w = nullptr;     // own_w, or the bound state's; null for tied groups
    };
    // Instances [k0, k1); columns [c0, c1) of each (forward), or thread t of
    // T's share of every group's rows (learn).
    struct part {
        int k0 = 0, k1 = 1;
        std::int64_t c0 = 0, c1 = 0;
        int t = 0, T = 1;
        int count() const { return k1 - k0; }
    };
    struct rows_range {
        std::int64_t first, count;
    };
    static rows_range share(std::int64_t n, int i, int parts) {
        const std::int64_t first = n * i / parts;
        return {first, n * (i + 1) / parts - first};
    }
    std::size_t at(int i, int k) const { return std::size_t(i) * std::size_t(K_) + std::size_t(k); }
    std::int64_t current_slice(int g) const { return std::int64_t(plan_.groups[g].rows) * batch_; }

    int column_parts() const;
    part column_part(int i, int parts) const;
    int row_parts() const;
    part row_part(int i, int parts) const;

    // A [rows x batch] buffer's block of part P (its columns of its instances).
    backends::out_block columns_of(float* base, std::int64_t rows, const part& P) const {
        return {base + P.k0 * rows * batch_ + P.c0 * rows, rows, rows * batch_};
    }
    backends::extent extent_of(std::int64_t rows, const part& P) const { return {rows, P.c1 - P.c0, P.count()}; }
    float* factor(const circuit_plan::factor_ref& f);
    std::int64_t factor_rows(const circuit_plan::factor_ref& f) const;

    void apply_group(int g, const part& P, backends::out_block out, bool accumulate);
    void compute_compartment(int p, int c, const part& P);
    void evaluate(int p, const part& P, backends::out_block out);
    backends::out_block steady_potential(int p, const part& P, bool basal_only);
    void compute_signal(int s, const part& P);
    // rule_inputs: also the currents and factors that only rules read.
    void forward_part(const part& P, float* dxdt, bool rule_inputs = true);
    // Continuous mode: every rate's derivative into dxdt, at the bound state.
    void rate_pass(float* dxdt, bool rule_inputs);
    void loss_part(int p, const part& P, bool with_error);
    void learn_part(const part& P, float* dxdt);
    void bind_own_storage();
    // The per-instance alpha, beta and -c of every learning group's update
    // (models/laws/plasticity.hpp), for learn() (in_place) or derivative().
    void prepare_update(bool in_place, bool adam_step);
    // A discrete step of a saturating rule: its update goes through U.
    bool saturating_steps(int g) const {
        return plan_.mode == sim_mode::discrete && plan_.groups[g].learns && plan_.groups[g].saturates;
    }
    void decay_scales();

    circuit_plan plan_;
    int K_ = 1, batch_ = 0, threads_ = 1;
    context ctx_;
    std::vector<population> pops_;
    std::vector<group> groups_;
    std::vector<float> eta_, base_eta_, gamma_, saturation_, mirror_eta_, mirror_gamma_, inv_tau_;
    std::vector<float> alpha_, beta_, neg_c_; // this update's, per group and instance
    // Saturating groups: this update's (factor, s, -c) per group and instance.
    std::vector<float> saturate_args_;
    // Expression factors (plan().signals): each one's values [n x batch] per
    // instance, a scratch buffer for its later terms, and per term the
    // per-instance constants of compute_signal (two runs of K values).
    std::vector<array<float>> signal_, signal_scratch_;
    std::vector<std::vector<std::size_t>> signal_consts_at_;
    std::vector<float> signal_consts_;
    // Conductance populations: per population, the weights g_c / G of u*
    // (one run of K values per compartment, at conductance_at_[p]), and
    // G / tau per population and instance (derivative() fills it).
    std::vector<std::size_t> conductance_at_;
    std::vector<float> conductance_consts_, conductance_rate_;
    array<std::int32_t> labels_, correct_;
    array<double> loss_;
    std::vector<std::int32_t> host_correct_, host_labels_;
    std::vector<double> host_loss_;
    bool rates_of_forward_ = false;
    circuit_plan::state_layout layout_;
    int state_batch_ = 0;
    optimizer_spec optimizer_;
    std::int64_t optimizer_steps_ = 0;
    laws::adam_constants adam_{};
    array<float> mirror_x_, mirror_y_;
    std::vector<float> host_noise_;
};

} // namespace counterstream
