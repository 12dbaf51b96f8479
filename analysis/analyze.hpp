// `counterstream analyze RUN.h5 [-o OUT.h5]`: per weight snapshot of a
// recording, the measures of the paper's theory, written to /analysis:
//   /analysis/step                              int64 [snapshots], the dimension scale of every series
//   /analysis/effective_rank/<group>            Roy & Vetterli 2007, stored groups
//   /analysis/norm/<group>                      Frobenius norm (divergence shows there first)
//   /analysis/gram/<group>/{first,last}         W W^T (float32) and spectrum_{first,last} (Figure 3)
//   /analysis/H/<Vbar group>/{min_eigenvalue, positive_definite, spectrum}   H = Vbar Vbar^T (Theorem 1)
//   /analysis/alignment/Wbar{l}_W{l}            angle(Wbar^l, (W^l)^T) [deg]     (self-assembly, KP)
//   /analysis/alignment/Vbar{l-1}_V{l}          angle(Vbar^{l-1}, (V^l)^T) [deg] (Lemma 1)
//   /analysis/alignment/VW{l}_WbarVbar{l}       angle(V^l (W^l)^T, Wbar^l (Vbar^l)^T) [deg] (eq. 27)
//   /analysis/theorem1/W{l}/{angle_to_gradient, angle_to_H_gradient}  [deg] on a probe batch (eq. 9)
//   /analysis/theorem1/probe_loss               mean loss of the probe batch
// Re-running replaces /analysis. On the output of a sweep or benchmark, each
// point's recording (or the one opt.point names) gets its own
// /points/<i>/analysis.
#pragma once

#include "sim/library.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace counterstream::analysis {

// A probe batch supplied by the caller (e.g. test samples of the run's dataset).
struct probe_data {
    Eigen::MatrixXf x;                // [input neurons x samples]
    std::vector<std::int32_t> labels; // one per column, 0 .. output neurons - 1
    std::string description;          // stored as /analysis/theorem1 attribute `probe`
};

struct analyze_options {
    std::string input;                    // the recording
    std::string output;                   // empty (or the input): write /analysis into the input
    std::vector<std::string> gram_groups; // empty: every W{l} and Vbar{l}
    int probe_batch = 256;                // synthetic probe: samples
    std::uint64_t probe_seed = 1;         // synthetic probe: x ~ N(0, 1), labels uniform
    std::optional<probe_data> probe;      // replaces the synthetic probe batch
    bool theorem1 = true;                 // run the probe batch through the circuit
    int point = -1;                       // of a sweep's or benchmark's output: the point (-1: every point)
};

// Writes the analysis; prints a short summary to `log`. Returns 0. Throws
// input_error (one line naming the file) for a file that is not a
// counterstream recording, has no snapshots, or options that do not fit it.
int analyze(const analyze_options& opt, const library& lib, std::ostream& log);

} // namespace counterstream::analysis
