// A circuit assembled for simulation on the CPU: one instance of the
// engine (sim/engine.hpp, which holds the passes and their equations) with
// Eigen views of its buffers ([neurons x batch] rates and currents, [post x
// pre] weights), its initial weights and its parameters, for the trainers,
// the recorder, the analysis and the tests. The views read the engine's
// buffers, or the ODE state the engine is bound to (continuous mode).
#pragma once

#include "sim/backends/cpu/backend.hpp"
#include "sim/circuit.hpp"
#include "sim/circuit_plan.hpp"
#include "sim/engine.hpp"
#include "sim/library.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace counterstream {

class network {
public:
    using view = Eigen::Map<matrix>;
    using factor_ref = circuit_plan::factor_ref;
    using cpu_engine = engine<cpu::backend>;

    // A population's views; its structure is plan().populations[i].
    struct population {
        const population_spec* spec = nullptr;
        const circuit_plan::population* plan = nullptr;
        view rate{nullptr, 0, 0}; // [n x batch]: the engine's, or the ODE state's (dynamic)
        std::array<view, compartment_count> current{view{nullptr, 0, 0}, view{nullptr, 0, 0}, view{nullptr, 0, 0},
                                                    view{nullptr, 0, 0}}; // indexed by compartment, where needed
        view active{nullptr, 0, 0};                       // f'(I_b), when a rule asks for it
        std::int64_t state_offset = -1;                   // continuous, dynamic: where the rates sit in the state
        // Continuous, dynamic: the state's share, [n x batch]: the rates, or
        // the potential u of a conductance population (whose `rate` is f(u)
        // of the last forward pass).
        view state{nullptr, 0, 0};
    };

    // A group's views and parameters (the engine's); its structure is plan().groups[i].
    struct group {
        const synapse_spec* spec = nullptr;
        const circuit_plan::group* plan = nullptr;
        // [post x pre]: the engine's, or the ODE state's (plastic, continuous); empty for tied groups
        view w{nullptr, 0, 0};
        view current{nullptr, 0, 0}; // keep_current
        // Adam steps: the running means of U and U^2.
        view moment1{nullptr, 0, 0}, moment2{nullptr, 0, 0};
        std::int64_t state_offset = -1; // continuous, plastic: where the weights sit in the state
        float& eta;      // discrete: eta * eta_scale; continuous: eta_scale / tau [1/ms]; times scale_rates()'s factor
        float& base_eta; // eta as the circuit gives it
        float& gamma;
        float& saturation; // the rule's s (0: none)
        // Weight mirroring (synapse_spec::mirror).
        float& mirror_eta; // eta * eta_scale
        float& mirror_gamma;
    };

    // seed: the run seed; a group's init seed is derived from it and the
    // group's name unless the YAML gives one.
    network(const circuit_spec& spec, const library& lib, std::uint64_t seed, int batch,
            sim_mode mode = sim_mode::discrete);
    network(const network&) = delete;
    network& operator=(const network&) = delete;

    void resize_batch(int batch);
    int batch() const { return engine_.batch(); }
    sim_mode mode() const { return plan().mode; }
    // Threads of forward(), infer(), learn() and derivative() (default:
    // work_threads()). Results are bitwise the same for a given count.
    void set_threads(int n);
    // The threads a step of this circuit at this batch can use: one per
    // 30 MFLOP of step_flops(), at least 1, at most OpenMP's maximum.
    int work_threads() const;
    int threads() const { return engine_.threads(); }

    // The input population's rates [n_in x batch], to be filled before forward().
    view& input() { return pops_[plan().input].rate; }
    // Full evaluation of every population and the currents rules need. labels: one per column.
    loss_result forward(const std::int32_t* labels);
    // Only what the output depends on (for evaluation); no error, no rule currents.
    loss_result infer(const std::int32_t* labels);
    // Discrete plasticity step from the rates of the last forward().
    void learn() { engine_.learn(); }
    // One mirror batch (engine::mirror) with noise drawn from `noise`.
    bool mirror(rng& noise, int batch, double sigma);
    bool mirrors() const { return plan().mirrors; }
    // How learn() steps (discrete mode); Adam's moments start at zero.
    void set_optimizer(const optimizer_spec& o);
    const optimizer_spec& optimizer() const { return engine_.optimizer(); }
    bool adam() const { return engine_.adam(); }
    // learn() calls so far with Adam steps (the bias correction's t); a
    // checkpoint keeps it with the moments.
    std::int64_t optimizer_steps() const { return engine_.optimizer_steps(); }
    void set_optimizer_steps(std::int64_t t) { engine_.set_optimizer_steps(t); }
    // Every rule's eta (and so its decay eta gamma) becomes the circuit's
    // times `factor` (protocol.schedule); mirror batches keep their rate.
    void scale_rates(double factor) { engine_.scale_rates(factor); }

    // Continuous mode. The state: rates of populations with tau > 0, then plastic weights.
    std::int64_t state_size() const { return engine_.layout().size; }
    // Copies the network's own rates and weights into x (the initial state).
    void write_state(float* x) { engine_.write_state(x); }
    // Points the views of state-held rates and weights at x.
    void bind_state(const float* x);
    // dx/dt at state x for the current input; learning: plasticity on (else dS/dt = 0).
    // Returns the loss on the error population at x.
    loss_result derivative(const float* x, float* dxdt, const std::int32_t* labels, bool learning);
    // The state's first rate_state_size() values are the rates. dr/dt alone,
    // plasticity off, at `rates` (as many values) with x's weights
    // (engine::rate_derivative: what integrating without plasticity needs).
    std::int64_t rate_state_size() const { return engine_.layout().rates; }
    void rate_derivative(const float* x, const float* rates, float* drates, const std::int32_t* labels);

    const circuit_spec& spec() const { return spec_; }
    const std::vector<population>& populations() const { return pops_; }
    std::vector<population>& populations() { return pops_; }
    // The compiled structure: evaluation orders, the input, error and output populations.
    const circuit_plan& plan() const { return engine_.plan(); }
    const std::vector<group>& groups() const { return groups_; }
    std::vector<group>& groups() { return groups_; }
    const population& pop(const std::string& name) const;
    group& grp(const std::string& name);
    // The matrix a group applies (its own, or the tied group's, transposed if so).
    matrix effective_weights(int g) const;
    int output_population() const { return plan().output; }
    // The matrix a rule factor reads (a rate, a current, f'(I_b)), [n x batch];
    // a rule's POST or PRE is the elementwise product of its factors.
    const_block factor_block(const factor_ref& f) const;
    // Floating-point operations of the GEMMs in one forward() + learn() (or
    // one derivative()), counted from the circuit's shapes (2 m n k per product).
    std::int64_t step_flops() const { return engine_.step_flops(); }
    std::int64_t forward_flops() const { return engine_.forward_flops(); }
    // The engine the views read.
    cpu_engine& backend_engine() { return engine_; }

private:
    // The views at the engine's buffers (after a resize or a rebinding).
    void bind_views();

    circuit_spec spec_;
    cpu_engine engine_;
    std::vector<population> pops_;
    std::vector<group> groups_;
};

} // namespace counterstream
