// A circuit assembled for simulation: preallocated rate and current buffers
// ([neurons x batch], one column per sample or trial), weights, and the
// dependency order.
//
// Discrete-step mode (the paper's Algorithm 1):
//   forward(): clamp inputs, evaluate populations in order (r = f(I_b) g(I_g) + alpha I_a),
//              then the currents the rules need;
//   learn():   every plastic group S <- beta S + (eta / B) POST PRE^T from the same
//              rates and pre-update weights (simultaneous semantics); with Adam
//              steps (optimizer_spec) S <- S + eta m^ / (sqrt(v^) + epsilon).
// Continuous mode: the ODE state is one flat float vector holding the rates of
// populations with tau > 0 and every plastic weight; derivative() points the
// network's views at a state (no copies) and writes
//   tau_p dr/dt = -r + f(I_b) g(I_g) + alpha I_a       (populations with tau > 0)
//   tau_S dS/dt = mean_trials(POST PRE^T) - gamma R(S) (plastic groups)
// after evaluating the instantaneous populations in dependency order.
//
// Threads: the population pass gives each thread a range of columns (samples
// are independent, so no thread waits for another); the plasticity pass gives
// each a range of every group's rows, one GEMM with beta per range. A run is
// bitwise reproducible for a given thread count.
#pragma once

#include "models/laws/plasticity.hpp"
#include "sim/circuit.hpp"
#include "sim/circuit_plan.hpp"
#include "sim/library.hpp"

#include <array>
#include <cstdint>
#include <string>
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

class network {
public:
    using view = Eigen::Map<matrix>;

    using factor_ref = circuit_plan::factor_ref;

    // A population's buffers; its structure is plan().populations[i].
    struct population {
        const population_spec* spec = nullptr;
        const circuit_plan::population* plan = nullptr;
        view rate{nullptr, 0, 0}; // [n x batch]: own storage, or the ODE state (dynamic)
        matrix own_rate;
        std::array<matrix, 3> current;  // indexed by compartment, where needed
        matrix active;                  // f'(I_b), when a rule asks for it
        matrix drive;                   // continuous, dynamic: the rate law's value
        std::int64_t state_offset = -1; // continuous, dynamic: where the rates sit in the state
    };

    // A group's weights, buffers and rates; its structure is plan().groups[i].
    struct group {
        const synapse_spec* spec = nullptr;
        const circuit_plan::group* plan = nullptr;
        view w{nullptr, 0,
               0}; // [post x pre]: own storage, or the ODE state (plastic, continuous); empty for tied groups
        matrix own_w;
        matrix current; // keep_current
        matrix post_buf, pre_buf;
        float eta = 0; // discrete: eta * eta_scale; continuous: eta_scale / tau [1/ms]; times scale_rates()'s factor
        float base_eta = 0; // eta as the circuit gives it
        float gamma = 0;
        // Adam steps: the running means of U and U^2, and U itself (scratch).
        matrix moment1, moment2, update;
        std::int64_t state_offset = -1; // continuous, plastic: where the weights sit in the state
        // Weight mirroring (synapse_spec::mirror).
        float mirror_eta = 0; // eta * eta_scale
        float mirror_gamma = 0;
    };

    // seed: the run seed; a group's init seed is derived from it and the
    // group's name unless the YAML gives one.
    network(const circuit_spec& spec, const library& lib, std::uint64_t seed, int batch,
            sim_mode mode = sim_mode::discrete);
    network(const network&) = delete;
    network& operator=(const network&) = delete;

    void resize_batch(int batch);
    int batch() const { return batch_; }
    sim_mode mode() const { return plan_.mode; }
    // Threads of forward(), infer(), learn() and derivative() (default: OpenMP's maximum).
    void set_threads(int n);
    int threads() const { return threads_; }

    // The input population's rates [n_in x batch], to be filled before forward().
    view& input() { return pops_[plan_.input].rate; }
    // Full evaluation of every population and the currents rules need. labels: one per column.
    loss_result forward(const std::int32_t* labels);
    // Only what the output depends on (for evaluation); no error, no rule currents.
    loss_result infer(const std::int32_t* labels);
    // Discrete plasticity step from the rates of the last forward().
    void learn();
    // One mirror batch: for every mirroring group S (of W), noise X [n_pre(W)
    // x batch], zero-mean uniform of standard deviation sigma, and S <- (1 -
    // eta gamma) S + (eta / batch) X (W X)^T. The other groups, the rates and
    // the forward batch are untouched. Returns whether the circuit has any.
    bool mirror(rng& noise, int batch, double sigma);
    bool mirrors() const { return plan_.mirrors; }
    // How learn() steps (discrete mode); Adam's moments start at zero.
    void set_optimizer(const optimizer_spec& o);
    const optimizer_spec& optimizer() const { return optimizer_; }
    bool adam() const { return optimizer_.kind == optimizer_kind::adam; }
    // learn() calls so far with Adam steps (the bias correction's t); a
    // checkpoint keeps it with the moments.
    std::int64_t optimizer_steps() const { return optimizer_steps_; }
    void set_optimizer_steps(std::int64_t t) { optimizer_steps_ = t; }
    // Every rule's eta (and so its decay eta gamma) becomes the circuit's
    // times `factor` (protocol.schedule); mirror batches keep their rate.
    void scale_rates(double factor);

    // Continuous mode. The state: rates of populations with tau > 0, then plastic weights.
    std::int64_t state_size() const { return state_size_; }
    // Copies the network's own rates and weights into x (the initial state).
    void write_state(float* x) const;
    // Points the views of state-held rates and weights at x.
    void bind_state(const float* x);
    // dx/dt at state x for the current input; learning: plasticity on (else dS/dt = 0).
    // Returns the loss on the error population at x.
    loss_result derivative(const float* x, float* dxdt, const std::int32_t* labels, bool learning);

    const circuit_spec& spec() const { return spec_; }
    const std::vector<population>& populations() const { return pops_; }
    std::vector<population>& populations() { return pops_; }
    // Evaluation order of forward() and infer() (inputs excluded), and the
    // input and error populations (-1: none), for backends that replay them.
    const circuit_plan& plan() const { return plan_; }
    const std::vector<int>& order() const { return plan_.order; }
    const std::vector<int>& infer_order() const { return plan_.infer_order; }
    int input_population() const { return plan_.input; }
    int error_population() const { return plan_.error; }
    const std::vector<group>& groups() const { return groups_; }
    std::vector<group>& groups() { return groups_; }
    const population& pop(const std::string& name) const;
    group& grp(const std::string& name);
    // The matrix a group applies (its own, or the tied group's, transposed if so).
    matrix effective_weights(int g) const;
    int output_population() const { return plan_.output; }
    // The matrix a rule factor reads (a rate, a current, f'(I_b)), [n x batch];
    // a rule's POST or PRE is the elementwise product of its factors.
    const_block factor_block(const factor_ref& f) const;
    // Floating-point operations of the GEMMs in one forward() + learn() (or
    // one derivative()), counted from the circuit's shapes (2 m n k per product).
    std::int64_t step_flops() const;

private:
    struct columns {
        Eigen::Index first, count;
    };
    static columns share(Eigen::Index n, int part, int parts);
    loss_result forward_columns(columns cols, const std::int32_t* labels, float* dxdt);
    loss_result infer_columns(columns cols, const std::int32_t* labels);
    void learn_rows(int thread, int threads, float* dxdt, bool learning);
    void adam_rows(int g, columns rows, const_block post, const_block pre);
    void rule_update(int g, columns rows, const_block post, const_block pre, float a, float c, block target,
                     bool in_place);
    void evaluate(int p, columns cols, block out);
    void compute_compartment(int p, int c, columns cols);
    void apply_group(int g, block out, bool accumulate, columns cols);
    void bind_own_storage();

    circuit_spec spec_;
    circuit_plan plan_;
    std::vector<population> pops_;
    std::vector<group> groups_;
    int batch_ = 0;
    int threads_ = 1;
    std::int64_t state_size_ = 0;
    int state_batch_ = 0;              // the trials the state holds rates for
    std::vector<loss_result> partial_; // one per thread, reused every step
    optimizer_spec optimizer_;
    std::int64_t optimizer_steps_ = 0;
    float adam_c1_ = 1, adam_c2_ = 1; // this step's bias corrections, 1 - beta^t
    matrix mirror_x_, mirror_y_;      // the mirror batch's noise and response, reused
};

} // namespace counterstream
