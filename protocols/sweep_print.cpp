// The text a sweep prints while it runs and when it is done
// (protocols/sweep_print.hpp).
#include "protocols/sweep_print.hpp"

#include "sim/join.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <sstream>

namespace counterstream {

namespace {

// How a finished point ended, for its line.
std::string outcome(const point_result& r) {
    switch (r.status) {
    case point_status::done:
        return (std::isnan(r.validation_accuracy) ? "" : "val_acc " + percent(r.validation_accuracy) + "  ") +
               "test_acc " + percent(r.test_accuracy);
    case point_status::diverged:
        return "diverged at " + r.diverged_at;
    case point_status::interrupted:
        return "interrupted";
    case point_status::failed:
        return "failed";
    case point_status::not_run:
        return "not run";
    }
    return "";
}

std::string indented(const std::string& text) {
    std::string out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out += "    " + l + '\n';
    return out;
}

// An accuracy as a table cell: "diverged", "-" (none), or in percent
// ("97.12%" in the list, "97.12" in a matrix, whose title gives the unit).
std::string accuracy_cell(const point_outcome& r, double accuracy, bool percent_sign) {
    if (r.diverged)
        return "diverged";
    if (std::isnan(accuracy))
        return "-";
    return percent_sign ? percent(accuracy) : decimals(100 * accuracy, 2);
}

// A 2-D grid's accuracy as a matrix: rows the first key's values, columns the second's.
void print_grid(const sweep_document& doc, const std::vector<point_outcome>& outcomes, const std::string& title,
                double point_outcome::*accuracy, std::ostream& out) {
    const auto& ra = doc.axes[0];
    const auto& ca = doc.axes[1];
    out << '\n' << title << " [%]: rows " << doc.columns[0] << ", columns " << doc.columns[1] << '\n';
    std::size_t w0 = doc.columns[0].size();
    for (const auto& v: ra)
        w0 = std::max(w0, v.size());
    std::size_t wc = 8;
    for (const auto& v: ca)
        wc = std::max(wc, v.size());
    std::string head = doc.columns[0] + std::string(w0 - doc.columns[0].size(), ' ');
    for (const auto& v: ca)
        head += "  " + std::string(wc - v.size(), ' ') + v;
    out << head << '\n';
    for (std::size_t i = 0; i < ra.size(); ++i) {
        std::string s = std::string(w0 - ra[i].size(), ' ') + ra[i];
        for (std::size_t j = 0; j < ca.size(); ++j) {
            const auto& r = outcomes[i * ca.size() + j];
            const std::string cell = accuracy_cell(r, r.*accuracy, false);
            s += "  " + std::string(wc - cell.size(), ' ') + cell;
        }
        out << s << '\n';
    }
}

} // namespace

std::string percent(double fraction) {
    if (std::isnan(fraction))
        return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100 * fraction);
    return buf;
}

std::string decimals(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string point_label(const sweep_document& doc, const sweep_point& p, const std::string& sep) {
    std::vector<std::string> parts;
    for (std::size_t c = 0; c < doc.columns.size(); ++c)
        parts.push_back(doc.columns[c] + "=" + p.values[c]);
    return join(parts, sep);
}

std::string resume_line(const std::vector<point_start>& starts) {
    const auto count = [&](point_start s) { return std::count(starts.begin(), starts.end(), s); };
    const auto points = [](long n) { return std::to_string(n) + (n == 1 ? " point" : " points"); };
    const long resumed = count(point_start::resume), fresh = count(point_start::fresh);
    return "resume: " + points(count(point_start::skip)) + " finished before, " + std::to_string(resumed) +
           (resumed == 1 ? " continues from its checkpoint, " : " continue from their checkpoints, ") +
           std::to_string(fresh) + (fresh == 1 ? " starts over\n" : " start over\n");
}

std::string plan_line(const std::string& command, const std::string& file, const sweep_document& doc,
                      const std::vector<sweep_job>& jobs, int ranks, int threads, const std::filesystem::path& output) {
    const int total = int(doc.points.size());
    std::string shape = std::to_string(total) + (total == 1 ? " point" : " points");
    if (!doc.axes.empty()) {
        std::vector<std::string> dims;
        for (std::size_t c = 0; c < doc.axes.size(); ++c)
            dims.push_back(doc.columns[c] + " " + std::to_string(doc.axes[c].size()));
        shape += " (" + join(dims, " x ") + ")";
    }
    const auto count = [&](bool ensemble) {
        return std::size_t(std::count_if(jobs.begin(), jobs.end(),
                                         [&](const sweep_job& j) { return (j.points.size() > 1) == ensemble; }));
    };
    const std::size_t ensembles = count(true), alone = count(false);
    if (ensembles > 0) {
        shape += " as " + std::to_string(ensembles) + (ensembles == 1 ? " ensemble" : " ensembles");
        if (alone > 0)
            shape += " and " + std::to_string(alone) + (alone == 1 ? " single run" : " single runs");
    }
    std::string line = command + " " + file + ": " + shape + " on ";
    if (ranks > 1)
        line += std::to_string(ranks) + " ranks x ";
    return line + std::to_string(threads) + (threads == 1 ? " thread" : " threads") + " -> " + output.string() + '\n';
}

std::string point_line(const sweep_document& doc, const point_result& r, std::size_t finished, std::size_t of,
                       const process_group& world) {
    const std::size_t digits = std::to_string(doc.points.size()).size();
    const auto pad = [&](const std::string& x) { return std::string(digits - x.size(), ' ') + x; };
    const sweep_point& p = doc.points[std::size_t(r.index)];
    std::string line = "[" + pad(std::to_string(finished)) + "/" + std::to_string(of) + "] point " +
                       pad(std::to_string(p.index)) + "  " + point_label(doc, p, " ") + "  " + outcome(r) + "  " +
                       decimals(r.seconds, 1) + " s";
    if (world.size() > 1)
        line += "  [rank " + std::to_string(world.rank()) + "]";
    line += '\n';
    if (r.status == point_status::failed)
        line += indented(r.message);
    return line;
}

void print_table(const sweep_document& doc, const std::vector<point_outcome>& outcomes, std::ostream& out) {
    const bool validation = holds_validation(doc);
    std::vector<std::string> header = {"point"};
    for (const auto& c: doc.columns)
        header.push_back(c);
    if (validation)
        header.push_back("val_acc");
    header.push_back("test_acc");
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        std::vector<std::string> row = {std::to_string(i)};
        for (const auto& v: doc.points[i].values)
            row.push_back(v);
        if (validation)
            row.push_back(accuracy_cell(outcomes[i], outcomes[i].validation_accuracy, true));
        row.push_back(accuracy_cell(outcomes[i], outcomes[i].test_accuracy, true));
        rows.push_back(row);
    }
    std::vector<std::size_t> width(header.size());
    for (std::size_t c = 0; c < header.size(); ++c) {
        width[c] = header[c].size();
        for (const auto& row: rows)
            width[c] = std::max(width[c], row[c].size());
    }
    const auto line = [&](const std::vector<std::string>& row) {
        std::string s;
        for (std::size_t c = 0; c < row.size(); ++c)
            s += (c ? "  " : "") + std::string(width[c] - row[c].size(), ' ') + row[c];
        out << s << '\n';
    };
    line(header);
    for (const auto& row: rows)
        line(row);

    if (doc.axes.size() != 2)
        return;
    if (validation)
        print_grid(doc, outcomes, "validation accuracy", &point_outcome::validation_accuracy, out);
    print_grid(doc, outcomes, "test accuracy", &point_outcome::test_accuracy, out);
}

} // namespace counterstream
