// The CPU backend's elementwise maps: the laws of models/laws/ (the same
// functions the CUDA kernels run) over column-major blocks, one loop per law
// (the law is chosen once per call, not per value).
#pragma once

#include "sim/library.hpp"

namespace counterstream::cpu {

// out = f(in)
void activate(laws::activation_law f, const_block in, block out);
// out = f'(in)
void differentiate(laws::activation_law f, const_block in, block out);
// out = f(basal) g(gate) + alpha apical; g null: no gate; apical null: no apical drive.
void rate_law(laws::activation_law f, const_block basal, const laws::activation_law* g, const float* gate, float alpha,
              const float* apical, block out);
// Per column of y [classes x batch]: the loss and prediction against labels,
// summed; e (when not null, y's shape) gets -dF/dy.
loss_result loss_columns(laws::loss_law law, const_block y, const std::int32_t* labels, block* e);

} // namespace counterstream::cpu
