// Reading a benchmark document into sweep points, and summarizing their
// outcomes per (method, dataset) cell (the layout is in benchmark.hpp).
#include "protocols/benchmark.hpp"

#include "protocols/sweep_print.hpp"
#include "sim/error.hpp"
#include "sim/stack.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <set>

namespace counterstream {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------- the document

// One label of a map in the document and its value.
struct entry {
    std::string label;
    YAML::Node value;
    location at; // of the label
};

// The labels of `map`, given at `named` under `key` (a null map has no place
// of its own); `what` says what the map holds.
std::vector<entry> entries(const YAML::Node& map, const location& named, const std::string& key,
                           const std::string& what, const std::string& file, diagnostics& diag) {
    std::vector<entry> out;
    if (!map.IsMap()) {
        diag.error(map.IsNull() ? named : locate(map, file), key, "expected a map of " + what);
        return out;
    }
    for (const auto& kv: map) {
        if (kv.first.IsScalar())
            out.push_back({kv.first.Scalar(), kv.second, locate(kv.first, file)});
        else
            diag.error(locate(kv.first, file), key, "a label must be a plain name, not a list or a map");
    }
    return out;
}

// The labels of the root's map `key`, which must have at least one `noun`.
std::vector<entry> required_entries(const YAML::Node& root, const std::string& key, const std::string& noun,
                                    const std::string& what, const std::string& file, diagnostics& diag) {
    const YAML::Node map = root[key];
    if (!map.IsDefined()) {
        diag.error(locate(root, file), "", "missing " + key + ": (" + what + ")");
        return {};
    }
    if (map.IsNull() || (map.IsMap() && map.size() == 0)) {
        diag.error(key_location(root, key, file), key, "is empty: give at least one " + noun + " (" + what + ")");
        return {};
    }
    return entries(map, key_location(root, key, file), key, what, file, diag);
}

std::optional<std::size_t> index_of(const std::vector<std::string>& labels, const std::string& label) {
    const auto it = std::find(labels.begin(), labels.end(), label);
    if (it == labels.end())
        return std::nullopt;
    return std::size_t(it - labels.begin());
}

// An entry of cells: or paper: (method: {dataset: VALUE}).
struct cell_entry {
    std::size_t cell; // method-major
    YAML::Node value;
    location at;
    std::string key; // "paper.SGD.MNIST"
};

// The entries of the optional root map `key`, each naming a method and a
// dataset of the table.
std::vector<cell_entry> cell_entries(const YAML::Node& root, const std::string& key, const std::string& what,
                                     const benchmark_document& doc, const std::string& file, diagnostics& diag) {
    std::vector<cell_entry> out;
    const YAML::Node map = root[key];
    if (!map.IsDefined() || map.IsNull())
        return out;
    for (const auto& row:
         entries(map, key_location(root, key, file), key, "method: {dataset: " + what + "}", file, diag)) {
        const std::string row_key = key + "." + row.label;
        const auto m = index_of(doc.methods, row.label);
        if (!m) {
            diag.error(row.at, row_key, unknown_name_message("method", row.label, doc.methods));
            continue;
        }
        for (const auto& col: entries(row.value, row.at, row_key, "dataset: " + what, file, diag)) {
            const std::string cell_key = row_key + "." + col.label;
            const auto d = index_of(doc.datasets, col.label);
            if (!d)
                diag.error(col.at, cell_key, unknown_name_message("dataset", col.label, doc.datasets));
            else
                out.push_back({*m * doc.datasets.size() + *d, col.value, col.at, cell_key});
        }
    }
    return out;
}

// The seeds, as overrides of protocol.seed.
std::vector<document_override> read_seeds(const YAML::Node& root, const std::string& file, reader& rd) {
    std::vector<document_override> out;
    const YAML::Node seeds = root["seeds"];
    diagnostics& diag = rd.diag();
    if (!seeds.IsDefined()) {
        diag.error(locate(root, file), "", "missing seeds: (the protocol.seed of each cell's runs)");
    } else if (seeds.IsNull() || (seeds.IsSequence() && seeds.size() == 0)) {
        diag.error(key_location(root, "seeds", file), "seeds", "is empty: give at least one seed");
    } else if (!seeds.IsSequence()) {
        diag.error(locate(seeds, file), "seeds", "expected a list of seeds, like [1, 2, 3]");
    } else {
        std::set<std::int64_t> seen;
        for (std::size_t i = 0; i < seeds.size(); ++i) {
            const std::string key = "seeds[" + std::to_string(i) + "]";
            const auto seed = rd.integer(view(seeds[i], file, key), 0, std::numeric_limits<std::int64_t>::max());
            if (seeds[i].IsNull())
                diag.error(locate(seeds[i], file), key, "expected an integer");
            else if (seed && !seen.insert(*seed).second)
                diag.error(locate(seeds[i], file), key, "seed " + std::to_string(*seed) + " appears twice");
            else if (seed)
                out.push_back({"protocol.seed", std::to_string(*seed), locate(seeds[i], file), key});
        }
    }
    return out;
}

// A path is given once per run: by set: (or --set above it), its dataset or
// its cell; protocol.seed only by seeds:.
void check_paths(const std::vector<document_override>& fixed,
                 const std::vector<std::vector<document_override>>& per_dataset,
                 const std::vector<std::vector<document_override>>& per_cell, const benchmark_document& doc,
                 const std::vector<std::string>& cli_sets, const std::string& file, diagnostics& diag) {
    const auto given = [](const std::vector<document_override>& layer, const std::string& path) {
        return std::any_of(layer.begin(), layer.end(), [&](const document_override& o) { return o.path == path; });
    };
    const auto not_seed = [&](const document_override& o) {
        if (o.path == "protocol.seed")
            diag.error(o.at, o.key, "protocol.seed comes from seeds:");
        return o.path != "protocol.seed";
    };
    const auto not_fixed = [&](const document_override& o) {
        if (given(fixed, o.path))
            diag.error(o.at, o.key, "is also under set: (a path is set for every run, per dataset or per cell)");
        return !given(fixed, o.path);
    };
    for (const auto& o: fixed)
        not_seed(o);
    for (const auto& layer: per_dataset)
        for (const auto& o: layer)
            if (not_seed(o))
                not_fixed(o);
    for (std::size_t c = 0; c < per_cell.size(); ++c) {
        const std::size_t d = c % doc.datasets.size();
        for (const auto& o: per_cell[c])
            if (not_seed(o) && not_fixed(o) && given(per_dataset[d], o.path))
                diag.error(o.at, o.key,
                           "is also under datasets." + doc.datasets[d] + " (a path is set per dataset or per cell)");
    }
    for (const auto& s: cli_sets) {
        const std::string path = s.substr(0, s.find('='));
        std::string by = path == "protocol.seed" ? "seeds" : "";
        for (const auto* layers: {&per_dataset, &per_cell})
            for (const auto& layer: *layers)
                for (const auto& o: layer)
                    if (by.empty() && o.path == path)
                        by = o.key;
        if (!by.empty())
            diag.error(location{"--set " + s, 0, 0}, "", path + " is set per run by " + file + "'s " + by);
    }
}

// ---------------------------------------------------------------- the summary

struct cell_stats {
    std::int64_t runs = 0, diverged = 0, finished = 0; // finished: with a finite accuracy
    double mean = nan, sd = nan, min = nan, max = nan;
};

// The runs [first, first + count): diverged ones counted, the others' final
// accuracies (test or validation) summarized (sample std).
cell_stats summarize_cell(const std::vector<point_outcome>& outcomes, std::size_t first, std::size_t count,
                          double point_outcome::*accuracy) {
    cell_stats c;
    c.runs = std::int64_t(count);
    std::vector<double> acc;
    for (std::size_t i = first; i < first + count; ++i) {
        if (outcomes[i].diverged)
            ++c.diverged;
        else if (std::isfinite(outcomes[i].*accuracy))
            acc.push_back(outcomes[i].*accuracy);
    }
    c.finished = std::int64_t(acc.size());
    if (acc.empty())
        return c;
    double sum = 0;
    for (const double a: acc)
        sum += a;
    c.mean = sum / double(acc.size());
    c.min = *std::min_element(acc.begin(), acc.end());
    c.max = *std::max_element(acc.begin(), acc.end());
    if (acc.size() > 1) {
        double squares = 0;
        for (const double a: acc)
            squares += (a - c.mean) * (a - c.mean);
        c.sd = std::sqrt(squares / double(acc.size() - 1));
    }
    return c;
}

// The test accuracies' cells, and the validation accuracies' when the runs hold out a validation split.
std::vector<table_column> cells_table(const benchmark_document& doc, const std::vector<cell_stats>& cells,
                                      const std::vector<cell_stats>& validation) {
    std::vector<std::string> method, dataset;
    std::vector<std::int64_t> runs, diverged;
    std::vector<double> mean, sd, min, max, paper_mean, paper_std, validation_mean, validation_sd;
    for (std::size_t c = 0; c < cells.size(); ++c) {
        method.push_back(doc.methods[c / doc.datasets.size()]);
        dataset.push_back(doc.datasets[c % doc.datasets.size()]);
        runs.push_back(cells[c].runs);
        diverged.push_back(cells[c].diverged);
        mean.push_back(cells[c].mean);
        sd.push_back(cells[c].sd);
        min.push_back(cells[c].min);
        max.push_back(cells[c].max);
        paper_mean.push_back(doc.paper_mean[c] / 100);
        paper_std.push_back(doc.paper_std[c] / 100);
        if (!validation.empty()) {
            validation_mean.push_back(validation[c].mean);
            validation_sd.push_back(validation[c].sd);
        }
    }
    std::vector<table_column> table = {
        {"method", method},         {"dataset", dataset},         {"runs", runs},
        {"diverged", diverged},     {"mean_test_accuracy", mean}, {"std_test_accuracy", sd},
        {"min_test_accuracy", min}, {"max_test_accuracy", max},   {"paper_mean", paper_mean},
        {"paper_std", paper_std}};
    if (!validation.empty()) {
        table.push_back({"mean_validation_accuracy", validation_mean});
        table.push_back({"std_validation_accuracy", validation_sd});
    }
    return table;
}

// "97.91 ± 0.12", "97.10 ± 0.20 (1 of 5 diverged)", "all 5 diverged" [%].
std::string ours(const cell_stats& c) {
    if (c.diverged == c.runs)
        return c.runs == 1 ? "diverged" : "all " + std::to_string(c.runs) + " diverged";
    std::string s = c.finished == 0 ? "-" : decimals(100 * c.mean, 2);
    if (c.finished > 1)
        s += " ± " + decimals(100 * c.sd, 2);
    if (c.diverged > 0)
        s += " (" + std::to_string(c.diverged) + " of " + std::to_string(c.runs) + " diverged)";
    return s;
}

// A label as a markdown table cell.
std::string markdown(std::string text) {
    for (auto at = text.find('|'); at != std::string::npos; at = text.find('|', at + 2))
        text.replace(at, 1, "\\|");
    return text;
}

// Rows the methods, columns the datasets (each beside the paper's numbers
// when the document gives any), for pasting into a README.
// `what` names the accuracy ("test"); the paper's numbers are test accuracies.
std::string markdown_table(const benchmark_document& doc, const std::vector<cell_stats>& cells,
                           const std::string& what) {
    const bool paper = what == "test" && std::any_of(doc.paper_mean.begin(), doc.paper_mean.end(),
                                                     [](double v) { return !std::isnan(v); });
    const std::size_t seeds = doc.sweep.axes[2].size();
    std::string out = "final " + what + " accuracy [%], mean ± sample std over " + std::to_string(seeds) +
                      (seeds == 1 ? " seed" : " seeds") + " (diverged runs counted, not averaged in)\n\n| method |";
    std::string rule = "|---|";
    for (const auto& d: doc.datasets) {
        out += " " + markdown(d) + (paper ? " (ours) | " + markdown(d) + " (paper) |" : " |");
        rule += paper ? "---|---|" : "---|";
    }
    out += "\n" + rule + "\n";
    for (std::size_t m = 0; m < doc.methods.size(); ++m) {
        out += "| " + markdown(doc.methods[m]) + " |";
        for (std::size_t d = 0; d < doc.datasets.size(); ++d) {
            const std::size_t c = m * doc.datasets.size() + d;
            out += " " + ours(cells[c]) + " |";
            if (paper && !std::isnan(doc.paper_mean[c]))
                out += " " + decimals(doc.paper_mean[c], 2) + " ± " + decimals(doc.paper_std[c], 2) + " |";
            else if (paper)
                out += " |";
        }
        out += "\n";
    }
    return out;
}

sweep_summary summarize(const benchmark_document& doc, const std::vector<point_outcome>& outcomes) {
    const std::size_t seeds = doc.sweep.axes[2].size();
    std::vector<cell_stats> cells, validation;
    const bool held_out = holds_validation(doc.sweep);
    for (std::size_t c = 0; c < doc.methods.size() * doc.datasets.size(); ++c) {
        cells.push_back(summarize_cell(outcomes, c * seeds, seeds, &point_outcome::test_accuracy));
        if (held_out)
            validation.push_back(summarize_cell(outcomes, c * seeds, seeds, &point_outcome::validation_accuracy));
    }
    std::string text = markdown_table(doc, cells, "test");
    if (held_out) // first, since a search chooses by it
        text = markdown_table(doc, validation, "validation") + "\n" + text;
    return {cells_table(doc, cells, validation), text};
}

} // namespace

benchmark_document load_benchmark(const std::string& file, const std::vector<std::string>& cli_sets,
                                  const library& lib) {
    const YAML::Node root = load_yaml_file(file);
    diagnostics diag;
    reader rd(diag);
    const view v = document_root(file, root, cli_sets, "methods:, datasets: and seeds:",
                                 {"methods", "datasets", "seeds", "set", "cells", "paper", "threads"}, rd);

    benchmark_document doc;
    sweep_document& sweep = doc.sweep;
    sweep.file = file;
    sweep.text = file_text(file);
    if (auto t = rd.integer(v["threads"], 1, 1024)) // the command line's --threads bound
        sweep.threads = int(*t);

    std::vector<std::filesystem::path> method_files;
    std::vector<location> method_at;
    for (const auto& e: required_entries(root, "methods", "method", "row label: run document", file, diag)) {
        const std::string key = "methods." + e.label;
        doc.methods.push_back(e.label);
        method_at.push_back(e.at);
        method_files.emplace_back();
        if (e.value.IsNull())
            diag.error(e.at, key, "expected the path of a run document");
        else if (auto p = run_document_path(view(e.value, file, key), rd, file))
            method_files.back() = *p;
    }
    std::vector<std::vector<document_override>> per_dataset;
    std::vector<location> dataset_at;
    for (const auto& e:
         required_entries(root, "datasets", "dataset", "column label: {dotted.path: VALUE}", file, diag)) {
        doc.datasets.push_back(e.label);
        dataset_at.push_back(e.at);
        per_dataset.push_back(read_overrides(e.value, file, "datasets." + e.label, diag));
    }
    const std::vector<document_override> seeds = read_seeds(root, file, rd);
    const std::vector<document_override> fixed = read_overrides(root["set"], file, "set", diag);

    const std::size_t n_cells = doc.methods.size() * doc.datasets.size();
    std::vector<std::vector<document_override>> per_cell(n_cells);
    std::vector<std::string> cell_keys(n_cells); // where a cell's overrides are given
    for (const auto& c: cell_entries(root, "cells", "{dotted.path: VALUE}", doc, file, diag)) {
        per_cell[c.cell] = read_overrides(c.value, file, c.key, diag);
        cell_keys[c.cell] = c.at.str() + ": " + c.key;
    }
    doc.paper_mean.assign(n_cells, nan);
    doc.paper_std.assign(n_cells, nan);
    for (const auto& c: cell_entries(root, "paper", "[mean, std]", doc, file, diag)) {
        const view numbers(c.value, file, c.key);
        const auto items = numbers.elements();
        if (items.size() != 2) {
            diag.error(c.value.IsNull() ? c.at : locate(c.value, file), c.key,
                       "expected [mean, std] in percent, like [98.44, 0.09]");
            continue;
        }
        const auto mean = rd.number(items[0], 0, 100), sd = rd.number(items[1], 0, 100);
        if (mean && sd) {
            doc.paper_mean[c.cell] = *mean;
            doc.paper_std[c.cell] = *sd;
        }
    }
    check_paths(fixed, per_dataset, per_cell, doc, cli_sets, file, diag);
    diag.raise();

    // The runs: method, dataset, seed, the seed fastest. A problem with one is
    // named by the key that caused it, else by its method, dataset or cell
    // when all their runs have it.
    sweep.columns = {"method", "dataset", "seed"};
    sweep.numeric = {false, false, true};
    sweep.axes = {doc.methods, doc.datasets, {}};
    for (const auto& s: seeds)
        sweep.axes[2].push_back(s.value);
    std::vector<point_source> sources;
    for (std::size_t m = 0; m < doc.methods.size(); ++m) {
        const std::string method_key = method_at[m].str() + ": methods." + doc.methods[m];
        for (std::size_t d = 0; d < doc.datasets.size(); ++d) {
            const std::size_t c = m * doc.datasets.size() + d;
            const std::string cell_key =
                cell_keys[c].empty() ? method_key + " on datasets." + doc.datasets[d] : cell_keys[c];
            for (const auto& seed: seeds) {
                sweep_point p;
                p.index = int(sweep.points.size());
                p.values = {doc.methods[m], doc.datasets[d], seed.value};
                p.base = method_files[m];
                point_source source;
                source.groups = {method_key, dataset_at[d].str() + ": datasets." + doc.datasets[d], cell_key};
                source.at = method_at[m];
                // The document's layers, lowest first; --set goes right above set:.
                source.overrides = fixed;
                source.overrides.insert(source.overrides.end(), per_dataset[d].begin(), per_dataset[d].end());
                source.overrides.insert(source.overrides.end(), per_cell[c].begin(), per_cell[c].end());
                source.overrides.push_back(seed);
                for (const auto& o: source.overrides)
                    p.sets.push_back(o.set());
                p.sets.insert(p.sets.begin() + std::ptrdiff_t(fixed.size()), cli_sets.begin(), cli_sets.end());
                sweep.points.push_back(std::move(p));
                sources.push_back(std::move(source));
            }
        }
    }
    load_points(sweep, sources, lib);
    return doc;
}

int benchmark(const sweep_options& opt, const library& lib, std::ostream& out) {
    benchmark_document doc;
    sweep_command command;
    command.name = "benchmark";
    command.format = "counterstream-benchmark";
    command.group = "benchmark";
    command.points_table = "runs";
    command.load = [&] {
        doc = load_benchmark(opt.file, opt.sets, lib);
        return doc.sweep;
    };
    command.summarize = [&](const sweep_document&, const std::vector<point_outcome>& outcomes) {
        return summarize(doc, outcomes);
    };
    return run_sweep(command, opt, lib, out);
}

} // namespace counterstream
