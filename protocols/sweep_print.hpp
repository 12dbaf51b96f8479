// What a sweep prints: the line announcing its plan, a line per finished
// point, and the final table of accuracies (protocols/sweep_print.cpp).
// Internal to the commands built on sweeps.
#pragma once

#include "protocols/sweep.hpp"
#include "protocols/sweep_schedule.hpp"

#include <cstddef>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace counterstream {

// A fraction in percent with two decimals ("97.12%"); "-" for NaN.
std::string percent(double fraction);
// v with `digits` decimals.
std::string decimals(double v, int digits);

// A point by its swept values: "circuit.eta_scale=2, protocol.seed=1" with
// the default `sep`.
std::string point_label(const sweep_document& doc, const sweep_point& p, const std::string& sep = ", ");

// "sweep FILE: 4 points (a 2 x b 2) as 1 ensemble on 2 ranks x 1 thread -> OUT",
// ending in a newline.
std::string plan_line(const std::string& command, const std::string& file, const sweep_document& doc,
                      const std::vector<sweep_job>& jobs, int ranks, int threads, const std::filesystem::path& output);

// "resume: 2 points finished before, 3 continue from their checkpoints, 1
// starts over", ending in a newline.
std::string resume_line(const std::vector<point_start>& starts);

// "[1/4] point 0  a=1 b=2  test_acc 97.12%  1.2 s" for the `finished`-th of a
// rank's `of` points (with "  [rank R]" when there are several), ending in a
// newline; a failed point's message follows, indented.
std::string point_line(const sweep_document& doc, const point_result& r, std::size_t finished, std::size_t of,
                       const process_group& world);

// sweep's final printout: a row per point with its swept values and
// accuracies, then for a 2-D grid each accuracy as a matrix over the grid.
void print_table(const sweep_document& doc, const std::vector<point_outcome>& outcomes, std::ostream& out);

} // namespace counterstream
