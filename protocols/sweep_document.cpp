// Reading a sweep document into its points, and checking every point's run
// document and dataset before anything runs (the layout in sweep.hpp). The
// pieces load_points and document_root are shared with `benchmark`.
#include "protocols/sweep.hpp"

#include "protocols/run_support.hpp"
#include "protocols/sweep_print.hpp"
#include "sim/error.hpp"
#include "sim/join.hpp"
#include "sim/stack.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

namespace counterstream {

namespace {

constexpr std::int64_t max_points = 100000;

std::string flow_yaml(const YAML::Node& n) {
    YAML::Emitter e;
    e << YAML::Flow << n;
    return e.c_str();
}

// A scalar that reads as a finite number (quoted or not: the run document's
// reader does not tell them apart either).
bool is_number(const YAML::Node& n) {
    if (!n.IsScalar())
        return false;
    const std::string& s = n.Scalar();
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc{} && end == s.data() + s.size() && std::isfinite(v);
}

// A path for --set that is also a valid HDF5 link name (table columns).
bool is_dotted_path(const std::string& p) {
    if (p.empty() || p.front() == '.' || p.back() == '.' || p.find("..") != std::string::npos)
        return false;
    return std::none_of(p.begin(), p.end(),
                        [](char c) { return c == '/' || c == '=' || std::isspace((unsigned char)c); });
}

// A map key as text; a key that is itself a list or map becomes its flow YAML
// (and then fails the dotted-path check) instead of throwing.
std::string key_text(const YAML::Node& key) { return key.IsScalar() ? key.Scalar() : flow_yaml(key); }

// Problems of the points' documents, each reported once and in order.
class problem_list {
public:
    void add(const std::string& line) {
        if (seen_.insert(line).second)
            lines_.push_back(line);
    }
    bool empty() const { return lines_.empty(); }
    [[noreturn]] void raise() const { throw input_error(lines_); }

private:
    std::vector<std::string> lines_;
    std::set<std::string> seen_;
};

// What train() will check about the data, checked for every point up front:
// each distinct dataset is loaded once.
class dataset_check {
public:
    std::vector<std::string> problems(const run_document& run) {
        const auto& d = run.protocol.dataset;
        std::ostringstream key;
        key << d.name << '\n'
            << d.path.string() << '\n'
            << d.normalize << '\n'
            << d.idx_classes << '\n'
            << d.teacher_inputs << ' ' << d.teacher_hidden << ' ' << d.teacher_classes << ' ' << d.teacher_train << ' '
            << d.teacher_test << ' ' << d.teacher_seed;
        auto it = seen_.find(key.str());
        if (it == seen_.end()) {
            shape s;
            try {
                const auto data = datasets::load(d);
                s.name = data.name;
                s.features = data.n_features();
                s.classes = data.n_classes;
            } catch (const input_error& e) {
                s.errors = e.lines();
            }
            it = seen_.emplace(key.str(), s).first;
        }
        const shape& s = it->second;
        if (!s.errors.empty())
            return s.errors;
        return dataset_shape_problems(run, s.name, s.features, s.classes);
    }

private:
    struct shape {
        std::string name;
        int features = 0, classes = 0;
        std::vector<std::string> errors;
    };
    std::map<std::string, shape> seen_;
};

} // namespace

location key_location(const YAML::Node& map, const std::string& key, const std::string& file) {
    for (const auto& kv: map)
        if (key_text(kv.first) == key)
            return locate(kv.first, file);
    return locate(map, file);
}

std::optional<std::filesystem::path> run_document_path(const view& v, reader& rd, const std::string& file) {
    const auto b = rd.text(v);
    if (!b)
        return std::nullopt;
    std::filesystem::path p = *b;
    if (p.is_relative())
        p = std::filesystem::path(file).parent_path() / p;
    p = p.lexically_normal();
    std::error_code ec;
    const std::string looked = p.string() != *b ? " (looked for " + p.string() + ")" : "";
    if (std::filesystem::is_directory(p, ec))
        rd.error(v, "'" + *b + "' is a folder, not a run document" + looked);
    else if (!std::filesystem::is_regular_file(p, ec))
        rd.error(v, "no such file '" + *b + "'" + looked);
    else
        return p;
    return std::nullopt;
}

std::vector<document_override> read_overrides(const YAML::Node& node, const std::string& file, const std::string& key,
                                              diagnostics& diag) {
    std::vector<document_override> out;
    if (!node.IsDefined() || node.IsNull())
        return out;
    if (!node.IsMap()) {
        diag.error(locate(node, file), key, "expected a map of dotted.path: VALUE");
        return out;
    }
    for (const auto& kv: node) {
        const auto path = key_text(kv.first);
        const location at = locate(kv.first, file);
        if (!is_dotted_path(path))
            diag.error(at, key + "." + path, "not a dotted path into the run document (like protocol.epochs)");
        else
            out.push_back({path, flow_yaml(kv.second), at, key + "." + path});
    }
    return out;
}

void load_points(sweep_document& doc, const std::vector<point_source>& sources, const library& lib) {
    problem_list problems;
    std::vector<std::pair<std::string, std::vector<int>>> unattributed; // line, the points that have it
    dataset_check data;
    // load_run names a --set layer "--set path=VALUE".
    const auto label = [](const document_override& o) { return "--set " + o.set() + ": "; };
    for (auto& p: doc.points) {
        const auto& own = sources[std::size_t(p.index)].overrides;
        std::vector<std::string> lines;
        try {
            p.run = load_run(p.base.string(), p.sets, lib);
            lines = data.problems(p.run);
        } catch (const input_error& e) {
            lines = e.lines();
        }
        for (const auto& line: lines) {
            const auto o = std::find_if(own.begin(), own.end(),
                                        [&](const document_override& o) { return line.rfind(label(o), 0) == 0; });
            if (o != own.end()) {
                problems.add(o->at.str() + ": " + o->key + ": rejected by " + p.base.filename().string() + ": " +
                             line.substr(label(*o).size()));
                continue;
            }
            auto u =
                std::find_if(unattributed.begin(), unattributed.end(), [&](const auto& x) { return x.first == line; });
            if (u == unattributed.end())
                u = unattributed.insert(unattributed.end(), {line, {}});
            u->second.push_back(p.index);
        }
    }
    std::map<std::string, std::size_t> group_size;
    for (const auto& s: sources)
        for (const auto& g: s.groups)
            ++group_size[g];
    for (const auto& [line, indices]: unattributed) {
        std::map<std::string, std::size_t> having;
        for (const int i: indices)
            for (const auto& g: sources[std::size_t(i)].groups)
                ++having[g];
        for (const int i: indices) {
            const auto& s = sources[std::size_t(i)];
            // Every point of a group has it: the group's source (or --set) itself.
            const auto g = std::find_if(s.groups.begin(), s.groups.end(), [&](const std::string& key) {
                return having[key] == group_size[key] && group_size[key] > 1;
            });
            if (g != s.groups.end())
                problems.add(line.rfind("--set ", 0) == 0 ? line : *g + ": " + line);
            else
                problems.add(s.at.str() + ": point " + std::to_string(i) + " (" +
                             point_label(doc, doc.points[std::size_t(i)]) + "): " + line);
        }
    }
    if (!problems.empty())
        problems.raise();
}

std::string file_text(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

view document_root(const std::string& file, const YAML::Node& root, const std::vector<std::string>& cli_sets,
                   const std::string& expected, const std::vector<std::string>& keys, reader& rd) {
    parse_sets(cli_sets); // reports a malformed --set first
    const view v(root, file, "");
    if (!v.is_map()) {
        rd.diag().error(location{file, 1, 1}, "", "expected a map with " + expected);
        rd.diag().raise();
    }
    rd.check_keys(v, keys);
    return v;
}

sweep_document load_sweep(const std::string& file, const std::vector<std::string>& cli_sets, const library& lib) {
    sweep_document doc;
    doc.file = file;
    const YAML::Node root = load_yaml_file(file);
    doc.text = file_text(file);
    diagnostics diag;
    reader rd(diag);
    const view v = document_root(
        file, root, cli_sets, "base: and grid:, list: or both", {"base", "set", "grid", "list", "threads", "ensemble"}, rd);

    if (!v["base"].defined())
        rd.error(v, "missing base: (the run document every point starts from)");
    else if (auto p = run_document_path(v["base"], rd, file))
        doc.base = *p;
    if (auto t = rd.integer(v["threads"], 1, 1024)) // the command line's --threads bound
        doc.threads = int(*t);
    if (auto e = rd.integer(v["ensemble"], 1, max_points))
        doc.ensemble = int(*e);

    const std::vector<document_override> fixed = read_overrides(root["set"], file, "set", diag);

    // grid:, list:, or both (every list point crossed with the grid): the
    // swept paths and their values. Columns: the list's paths, then the grid's.
    const YAML::Node grid = root["grid"], list = root["list"];
    std::vector<std::vector<YAML::Node>> axis_nodes; // grid: per grid column, its values
    std::vector<std::vector<YAML::Node>> list_nodes; // list: per point, per list column
    std::vector<std::string> list_columns, grid_columns;
    std::vector<location> column_at; // where each column is named
    std::vector<location> list_at;   // where each list point is
    std::vector<std::vector<std::string>> grid_axes;
    if (!grid.IsDefined() && !list.IsDefined())
        diag.error(locate(root, file), "", "missing grid: or list: (the points to run)");
    if (list.IsDefined()) {
        if (list.IsNull() || (list.IsSequence() && list.size() == 0)) {
            diag.error(key_location(root, "list", file), "list", "is empty: give at least one point");
        } else if (!list.IsSequence()) {
            diag.error(locate(list, file), "list", "expected a list of points, each a map of dotted.path: VALUE");
        } else if (list.size() > std::size_t(max_points)) {
            diag.error(locate(list, file), "list", "has more than " + std::to_string(max_points) + " points");
        } else {
            for (std::size_t i = 0; i < list.size(); ++i) {
                const YAML::Node e = list[i];
                const std::string key = "list[" + std::to_string(i) + "]";
                if (!e.IsMap() || e.size() == 0) {
                    diag.error(locate(e, file), key, "expected a non-empty map of dotted.path: VALUE");
                    continue;
                }
                if (list_columns.empty()) {
                    for (const auto& kv: e) {
                        const auto path = key_text(kv.first);
                        if (!is_dotted_path(path))
                            diag.error(locate(kv.first, file), key + "." + path,
                                       "not a dotted path into the run document (like circuit.eta_scale)");
                        list_columns.push_back(path);
                        column_at.push_back(locate(kv.first, file));
                    }
                }
                std::vector<std::string> missing, extra;
                std::vector<YAML::Node> row(list_columns.size());
                std::vector<bool> given(list_columns.size(), false);
                for (const auto& kv: e) {
                    const auto path = key_text(kv.first);
                    const auto c =
                        std::size_t(std::find(list_columns.begin(), list_columns.end(), path) - list_columns.begin());
                    if (c == list_columns.size()) {
                        extra.push_back(path);
                    } else {
                        row[c] = kv.second;
                        given[c] = true;
                    }
                }
                for (std::size_t c = 0; c < list_columns.size(); ++c)
                    if (!given[c])
                        missing.push_back(list_columns[c]);
                if (!missing.empty() || !extra.empty()) {
                    diag.error(locate(e, file), key,
                               "every point needs the keys of list[0] (" + join(list_columns, ", ") + ")" +
                                   (missing.empty() ? "" : "; missing " + join(missing, ", ")) +
                                   (extra.empty() ? "" : "; extra " + join(extra, ", ")));
                    continue;
                }
                list_nodes.push_back(row);
                list_at.push_back(locate(e, file));
            }
        }
    }
    if (grid.IsDefined()) {
        if (grid.IsNull() || (grid.IsMap() && grid.size() == 0)) {
            diag.error(key_location(root, "grid", file), "grid", "is empty: give at least one dotted.path: [values]");
        } else if (!grid.IsMap()) {
            diag.error(locate(grid, file), "grid", "expected a map of dotted.path: [values]");
        } else {
            std::int64_t count = std::max<std::int64_t>(1, std::int64_t(list_nodes.size()));
            for (const auto& kv: grid) {
                const auto path = key_text(kv.first);
                const location at = locate(kv.first, file);
                const std::string key = "grid." + path;
                if (!is_dotted_path(path)) {
                    diag.error(at, key, "not a dotted path into the run document (like circuit.eta_scale)");
                    continue;
                }
                if (std::find(list_columns.begin(), list_columns.end(), path) != list_columns.end()) {
                    diag.error(at, key, "is also swept by list: (a path is swept by the grid or the list, not both)");
                    continue;
                }
                if (!kv.second.IsSequence()) {
                    diag.error(locate(kv.second, file), key, "expected a list of values, like [1, 2, 3]");
                    continue;
                }
                if (kv.second.size() == 0) {
                    diag.error(locate(kv.second, file), key, "is empty: give at least one value");
                    continue;
                }
                std::vector<YAML::Node> values;
                std::vector<std::string> texts;
                for (const auto& value: kv.second) {
                    const auto t = flow_yaml(value);
                    if (std::find(texts.begin(), texts.end(), t) != texts.end())
                        diag.error(locate(value, file), key, "value " + t + " appears twice");
                    texts.push_back(t);
                    values.push_back(value);
                }
                count = std::min<std::int64_t>(count * std::int64_t(values.size()), max_points + 1);
                grid_columns.push_back(path);
                grid_axes.push_back(texts);
                axis_nodes.push_back(values);
                column_at.push_back(at);
            }
            if (count > max_points)
                diag.error(key_location(root, "grid", file), "grid",
                           "has more than " + std::to_string(max_points) + " points" +
                               (list.IsDefined() ? " with the list" : ""));
        }
    }
    doc.columns = list_columns;
    doc.columns.insert(doc.columns.end(), grid_columns.begin(), grid_columns.end());
    if (!list.IsDefined())
        doc.axes = grid_axes; // a pure grid prints as a matrix
    const std::size_t list_width = list_columns.size();
    const auto column_key = [&](std::size_t c, std::size_t point) {
        return c < list_width ? "list[" + std::to_string(point) + "]." + doc.columns[c] : "grid." + doc.columns[c];
    };

    // A path is either swept or fixed.
    for (std::size_t c = 0; c < doc.columns.size(); ++c) {
        const std::string key = column_key(c, 0);
        for (const auto& f: fixed)
            if (f.path == doc.columns[c])
                diag.error(column_at[c], key, "is also under set: (a path is swept or fixed, not both)");
        for (const auto& s: cli_sets)
            if (s.substr(0, s.find('=')) == doc.columns[c])
                diag.error(location{"--set " + s, 0, 0}, "", doc.columns[c] + " is swept by " + file);
    }
    diag.raise();

    // The points: each list point (in order) crossed with the grid, whose
    // last key varies fastest. point_row[i] is point i's list point.
    std::vector<std::size_t> point_row;
    const auto add_point = [&](std::vector<YAML::Node> nodes, std::size_t row) {
        sweep_point p;
        p.index = int(doc.points.size());
        p.base = doc.base;
        for (const auto& f: fixed)
            p.sets.push_back(f.set());
        for (const auto& s: cli_sets)
            p.sets.push_back(s);
        for (std::size_t c = 0; c < nodes.size(); ++c) {
            p.values.push_back(flow_yaml(nodes[c]));
            p.sets.push_back(doc.columns[c] + "=" + p.values.back());
        }
        doc.points.push_back(std::move(p));
        point_row.push_back(row);
    };
    std::int64_t grid_points = 1;
    for (const auto& a: axis_nodes)
        grid_points *= std::int64_t(a.size());
    const std::size_t rows = list.IsDefined() ? list_nodes.size() : 1;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::int64_t i = 0; i < grid_points; ++i) {
            std::vector<YAML::Node> nodes = list.IsDefined() ? list_nodes[r] : std::vector<YAML::Node>{};
            nodes.resize(list_width + axis_nodes.size());
            std::int64_t rest = i;
            for (std::size_t c = axis_nodes.size(); c-- > 0;) {
                nodes[list_width + c] = axis_nodes[c][std::size_t(rest % std::int64_t(axis_nodes[c].size()))];
                rest /= std::int64_t(axis_nodes[c].size());
            }
            add_point(nodes, r);
        }
    for (std::size_t c = 0; c < doc.columns.size(); ++c) {
        bool numeric = true;
        if (c >= list_width)
            for (const auto& v: axis_nodes[c - list_width])
                numeric &= is_number(v);
        else
            for (const auto& row: list_nodes)
                numeric &= is_number(row[c]);
        doc.numeric.push_back(numeric);
    }

    // A problem is named by the sweep key that caused it when load_run names
    // that key's layer; otherwise by the base document or the point.
    const std::string base_key = key_location(root, "base", file).str() + ": base";
    std::vector<point_source> sources;
    for (const auto& p: doc.points) {
        const auto i = std::size_t(p.index);
        const std::size_t row = point_row[i];
        const location point_at = list.IsDefined() ? list_at[row] : key_location(root, "grid", file);
        point_source s{fixed, {base_key}, point_at};
        for (std::size_t c = 0; c < doc.columns.size(); ++c)
            s.overrides.push_back(
                {doc.columns[c], p.values[c], c < list_width ? list_at[row] : column_at[c], column_key(c, row)});
        sources.push_back(std::move(s));
    }
    load_points(doc, sources, lib);
    return doc;
}

bool holds_validation(const sweep_document& doc) {
    return std::any_of(doc.points.begin(), doc.points.end(),
                       [](const sweep_point& p) { return p.run.protocol.dataset.validation > 0; });
}

} // namespace counterstream
