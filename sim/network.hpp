// A circuit assembled for simulation: preallocated rate and current buffers
// ([neurons x batch], one column per sample or trial), weights, and the
// dependency order. Discrete-step mode (the paper's Algorithm 1):
//   forward(): clamp inputs, evaluate populations in order (r = f(I_b) g(I_g) + alpha I_a),
//              then the currents the rules need;
//   learn():   every plastic group S <- beta S + (eta / B) POST PRE^T from the same
//              rates and pre-update weights (simultaneous semantics).
// Threads: forward() gives each thread a range of columns (samples are
// independent, so no thread waits for another); learn() gives each a range of
// every group's rows, one GEMM with beta per range. Each column and each
// weight is computed by the same operations whatever the thread count.
#pragma once

#include "sim/circuit.hpp"
#include "sim/library.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace counterstream {

class network {
public:
    struct population {
        const population_spec* spec = nullptr;
        matrix rate;
        std::array<matrix, 3> current;          // indexed by compartment
        std::array<bool, 3> drives{};           // compartment enters the rate law
        std::array<bool, 3> needed{};           // computed at all (rate law or a rule)
        std::array<std::vector<int>, 3> inputs; // groups targeting each compartment
        matrix active;                          // f'(I_b), when a rule asks for it
        matrix gate_value;                      // g(I_g), reused every step
        bool needs_active = false;
        const activation* f = nullptr;
        const activation* g = nullptr;  // nullptr: gate none
        const loss* loss_law = nullptr; // error populations
        int of = -1;                    // error populations: the output
    };

    struct group {
        const synapse_spec* spec = nullptr;
        matrix w; // [post x pre]; empty for tied groups
        int from = -1, to = -1;
        compartment target = compartment::basal;
        int tied_to = -1;           // index of the group whose weights this one uses
        bool transpose = false;     // tied: use the other's W^T
        bool identity_copy = false; // frozen square identity: current = pre rate
        bool keep_current = false;  // a rule reads current:THIS
        matrix current;
        // Rule, resolved at assembly.
        bool learns = false;
        std::vector<const matrix*> post, pre; // factors multiplied elementwise
        matrix post_buf, pre_buf;
        float eta = 0; // effective rate (eta * eta_scale)
        float gamma = 0;
        enum class decay_kind { l2, l1, none } decay = decay_kind::l2;
    };

    // seed: the run seed; a group's init seed is derived from it and the
    // group's name unless the YAML gives one.
    network(const circuit_spec& spec, const library& lib, std::uint64_t seed, int batch);

    void resize_batch(int batch);
    int batch() const { return batch_; }
    // Threads of forward(), infer() and learn() (default: OpenMP's maximum).
    void set_threads(int n);
    int threads() const { return threads_; }

    // The input population's rates [n_in x batch], to be filled before forward().
    matrix& input() { return pops_[input_].rate; }
    // Full evaluation of every population and the currents rules need. labels: one per column.
    loss_result forward(const std::int32_t* labels);
    // Only what the output depends on (for evaluation); no error, no rule currents.
    loss_result infer(const std::int32_t* labels);
    // Discrete plasticity step from the rates of the last forward().
    void learn();

    const circuit_spec& spec() const { return spec_; }
    const std::vector<population>& populations() const { return pops_; }
    const std::vector<group>& groups() const { return groups_; }
    std::vector<group>& groups() { return groups_; }
    const population& pop(const std::string& name) const;
    group& grp(const std::string& name);
    // The matrix a group applies (its own, or the tied group's, transposed if so).
    matrix effective_weights(int g) const;
    int output_population() const { return output_; }
    // Floating-point operations of the GEMMs in one forward() + learn(),
    // counted from the circuit's shapes (2 m n k per product).
    std::int64_t step_flops() const;

private:
    struct columns {
        Eigen::Index first, count;
    };
    columns share(Eigen::Index n, int part, int parts) const;
    loss_result forward_columns(columns cols, const std::int32_t* labels);
    loss_result infer_columns(columns cols, const std::int32_t* labels);
    void learn_rows(int thread, int threads);
    void evaluate(int p, columns cols);
    void compute_compartment(int p, int c, columns cols);
    void apply_group(int g, block out, bool accumulate, columns cols);

    circuit_spec spec_;
    std::vector<population> pops_;
    std::vector<group> groups_;
    std::vector<int> order_;       // evaluation order, inputs excluded
    std::vector<int> infer_order_; // the output's ancestors only
    int input_ = -1, error_ = -1, output_ = -1;
    int batch_ = 0;
    int threads_ = 1;
    std::vector<loss_result> partial_; // one per thread, reused every step
};

} // namespace counterstream
