// Reading a sweep document, running its points on threads and MPI ranks, and
// merging their recordings into one file (the layout is in sweep.hpp).
#include "protocols/sweep.hpp"

#include "protocols/run_support.hpp"
#include "protocols/train.hpp"
#include "protocols/train_ensemble.hpp"
#include "sim/error.hpp"
#include "sim/stack.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>
#ifdef COUNTERSTREAM_MPI
#include <mpi.h>
#endif
#ifdef __linux__
#include <sched.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#ifndef COUNTERSTREAM_VERSION
#define COUNTERSTREAM_VERSION "unknown"
#endif

namespace counterstream {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr std::int64_t max_points = 100000;

// ---------------------------------------------------------------- the document

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

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (const auto& p: parts)
        out += (out.empty() ? "" : sep) + p;
    return out;
}

// "circuit.eta_scale=2, protocol.seed=1"
std::string point_label(const sweep_document& doc, const sweep_point& p, const std::string& sep = ", ") {
    std::vector<std::string> parts;
    for (std::size_t c = 0; c < doc.columns.size(); ++c)
        parts.push_back(doc.columns[c] + "=" + p.values[c]);
    return join(parts, sep);
}

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
        int n_in = 0, n_out = 0;
        for (const auto& p: run.circuit.populations) {
            if (p.role == population_role::input && n_in == 0)
                n_in = p.size;
            if (p.role == population_role::error)
                n_out = p.size;
        }
        std::vector<std::string> out;
        if (n_in != s.features)
            out.push_back("circuit input has " + std::to_string(n_in) + " neurons but dataset '" + s.name + "' has " +
                          std::to_string(s.features) + " features (set circuit.sizes[0])");
        if (n_out != s.classes)
            out.push_back("circuit output has " + std::to_string(n_out) + " neurons but dataset '" + s.name + "' has " +
                          std::to_string(s.classes) + " classes (set the last entry of circuit.sizes)");
        return out;
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
    const view v = document_root(file, root, cli_sets, "base: and grid: or list:",
                                 {"base", "set", "grid", "list", "threads", "ensemble"}, rd);

    if (!v["base"].defined())
        rd.error(v, "missing base: (the run document every point starts from)");
    else if (auto p = run_document_path(v["base"], rd, file))
        doc.base = *p;
    if (auto t = rd.integer(v["threads"], 1, 1024)) // the command line's --threads bound
        doc.threads = int(*t);
    if (auto e = rd.integer(v["ensemble"], 1, max_points))
        doc.ensemble = int(*e);

    const std::vector<document_override> fixed = read_overrides(root["set"], file, "set", diag);

    // grid: or list: the swept paths and their values.
    const YAML::Node grid = root["grid"], list = root["list"];
    std::vector<std::vector<YAML::Node>> axis_nodes; // grid
    std::vector<std::vector<YAML::Node>> list_nodes; // list: per point, per column
    std::vector<location> column_at;                 // where each column is named
    std::vector<location> list_at;                   // where each list point is
    if (grid.IsDefined() && list.IsDefined()) {
        diag.error(key_location(root, "list", file), "list", "give grid: or list:, not both");
    } else if (!grid.IsDefined() && !list.IsDefined()) {
        diag.error(locate(root, file), "", "missing grid: or list: (the points to run)");
    } else if (grid.IsDefined()) {
        if (grid.IsNull() || (grid.IsMap() && grid.size() == 0)) {
            diag.error(key_location(root, "grid", file), "grid", "is empty: give at least one dotted.path: [values]");
        } else if (!grid.IsMap()) {
            diag.error(locate(grid, file), "grid", "expected a map of dotted.path: [values]");
        } else {
            std::int64_t count = 1;
            for (const auto& kv: grid) {
                const auto path = key_text(kv.first);
                const location at = locate(kv.first, file);
                const std::string key = "grid." + path;
                if (!is_dotted_path(path)) {
                    diag.error(at, key, "not a dotted path into the run document (like circuit.eta_scale)");
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
                doc.columns.push_back(path);
                doc.axes.push_back(texts);
                axis_nodes.push_back(values);
                column_at.push_back(at);
            }
            if (count > max_points)
                diag.error(key_location(root, "grid", file), "grid",
                           "has more than " + std::to_string(max_points) + " points");
        }
    } else {
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
                if (doc.columns.empty()) {
                    for (const auto& kv: e) {
                        const auto path = key_text(kv.first);
                        if (!is_dotted_path(path))
                            diag.error(locate(kv.first, file), key + "." + path,
                                       "not a dotted path into the run document (like circuit.eta_scale)");
                        doc.columns.push_back(path);
                        column_at.push_back(locate(kv.first, file));
                    }
                }
                std::vector<std::string> missing, extra;
                std::vector<YAML::Node> row(doc.columns.size());
                std::vector<bool> given(doc.columns.size(), false);
                for (const auto& kv: e) {
                    const auto path = key_text(kv.first);
                    const auto c =
                        std::size_t(std::find(doc.columns.begin(), doc.columns.end(), path) - doc.columns.begin());
                    if (c == doc.columns.size()) {
                        extra.push_back(path);
                    } else {
                        row[c] = kv.second;
                        given[c] = true;
                    }
                }
                for (std::size_t c = 0; c < doc.columns.size(); ++c)
                    if (!given[c])
                        missing.push_back(doc.columns[c]);
                if (!missing.empty() || !extra.empty()) {
                    diag.error(locate(e, file), key,
                               "every point needs the keys of list[0] (" + join(doc.columns, ", ") + ")" +
                                   (missing.empty() ? "" : "; missing " + join(missing, ", ")) +
                                   (extra.empty() ? "" : "; extra " + join(extra, ", ")));
                    continue;
                }
                list_nodes.push_back(row);
                list_at.push_back(locate(e, file));
            }
        }
    }

    // A path is either swept or fixed.
    for (std::size_t c = 0; c < doc.columns.size(); ++c) {
        const std::string key = (grid.IsDefined() ? "grid." : "list[0].") + doc.columns[c];
        for (const auto& f: fixed)
            if (f.path == doc.columns[c])
                diag.error(column_at[c], key, "is also under set: (a path is swept or fixed, not both)");
        for (const auto& s: cli_sets)
            if (s.substr(0, s.find('=')) == doc.columns[c])
                diag.error(location{"--set " + s, 0, 0}, "", doc.columns[c] + " is swept by " + file);
    }
    diag.raise();

    // The points: the grid's last key varies fastest.
    const auto add_point = [&](std::vector<YAML::Node> nodes) {
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
    };
    if (!axis_nodes.empty()) {
        std::int64_t n = 1;
        for (const auto& a: axis_nodes)
            n *= std::int64_t(a.size());
        for (std::int64_t i = 0; i < n; ++i) {
            std::vector<YAML::Node> nodes(axis_nodes.size());
            std::int64_t rest = i;
            for (std::size_t c = axis_nodes.size(); c-- > 0;) {
                nodes[c] = axis_nodes[c][std::size_t(rest % std::int64_t(axis_nodes[c].size()))];
                rest /= std::int64_t(axis_nodes[c].size());
            }
            add_point(nodes);
        }
    } else {
        for (const auto& row: list_nodes)
            add_point(row);
    }
    for (std::size_t c = 0; c < doc.columns.size(); ++c) {
        bool numeric = true;
        if (!axis_nodes.empty())
            for (const auto& a: axis_nodes[c])
                numeric &= is_number(a);
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
        point_source s{fixed, {base_key}, axis_nodes.empty() ? list_at[i] : key_location(root, "grid", file)};
        for (std::size_t c = 0; c < doc.columns.size(); ++c) {
            const std::string key =
                axis_nodes.empty() ? "list[" + std::to_string(i) + "]." + doc.columns[c] : "grid." + doc.columns[c];
            s.overrides.push_back({doc.columns[c], p.values[c], axis_nodes.empty() ? list_at[i] : column_at[c], key});
        }
        sources.push_back(std::move(s));
    }
    load_points(doc, sources, lib);
    return doc;
}

namespace {

// ---------------------------------------------------------------- processes

bool env_int(const char* name, int* value) {
    const char* s = std::getenv(name);
    if (s == nullptr || *s == '\0')
        return false;
    *value = std::atoi(s);
    return true;
}

// Set by mpirun/mpiexec (Open MPI, MPICH/Hydra and Intel MPI, PMIx launchers).
bool launched_by_mpi(int* size, int* rank) {
    *size = 1;
    *rank = 0;
    if (env_int("OMPI_COMM_WORLD_SIZE", size)) {
        env_int("OMPI_COMM_WORLD_RANK", rank);
        return true;
    }
    if (env_int("PMI_SIZE", size)) {
        env_int("PMI_RANK", rank);
        return true;
    }
    return env_int("PMIX_RANK", rank);
}

// The ranks of an MPI launch, or one process. Only the thread that made it
// calls MPI (MPI_THREAD_FUNNELED).
class process_group {
public:
    process_group() {
        int env_size = 1, env_rank = 0;
        if (!launched_by_mpi(&env_size, &env_rank))
            return;
#ifdef COUNTERSTREAM_MPI
        int initialized = 0, finalized = 0;
        MPI_Initialized(&initialized);
        MPI_Finalized(&finalized);
        if (finalized)
            return;
        if (!initialized) {
            int provided = 0;
            MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
            owns_ = true;
        }
        active_ = true;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        MPI_Comm node;
        MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
        MPI_Comm_size(node, &node_size_);
        MPI_Comm_free(&node);
#else
        // Without MPI every process would run the whole sweep into one file.
        if (env_size > 1) {
            unsupported_launch_ = true;
            rank_ = env_rank;
            size_ = env_size;
        }
#endif
    }
    ~process_group() {
#ifdef COUNTERSTREAM_MPI
        if (owns_)
            MPI_Finalize();
#endif
    }
    process_group(const process_group&) = delete;
    process_group& operator=(const process_group&) = delete;

    int rank() const { return rank_; }
    int size() const { return size_; }
    int node_size() const { return node_size_; }
    bool unsupported_launch() const { return unsupported_launch_; }

    bool all(bool ok) const {
#ifdef COUNTERSTREAM_MPI
        if (active_) {
            int mine = ok ? 1 : 0, every = 0;
            MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
            return every != 0;
        }
#endif
        return ok;
    }

    int broadcast(int value) const {
#ifdef COUNTERSTREAM_MPI
        if (active_)
            MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD);
#endif
        return value;
    }

    // Rank 0 gets every rank's bytes in rank order; the others get nothing.
    std::vector<std::string> gather(const std::string& mine) const {
#ifdef COUNTERSTREAM_MPI
        if (active_) {
            if (mine.size() > std::size_t(std::numeric_limits<int>::max()))
                throw internal_error("sweep: a rank's results exceed 2 GiB");
            int n = int(mine.size());
            const auto ranks = std::size_t(size_);
            std::vector<int> sizes(ranks), offsets(ranks);
            MPI_Gather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
            std::string all;
            if (rank_ == 0) {
                std::int64_t total = 0;
                for (int r = 0; r < size_; ++r) {
                    offsets[std::size_t(r)] = int(total);
                    total += sizes[std::size_t(r)];
                }
                if (total > std::numeric_limits<int>::max())
                    throw internal_error("sweep: the results exceed 2 GiB");
                all.resize(std::size_t(total));
            }
            MPI_Gatherv(mine.data(), n, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR, 0,
                        MPI_COMM_WORLD);
            std::vector<std::string> out;
            if (rank_ == 0)
                for (int r = 0; r < size_; ++r)
                    out.push_back(all.substr(std::size_t(offsets[std::size_t(r)]), std::size_t(sizes[std::size_t(r)])));
            return out;
        }
#endif
        return {mine};
    }

private:
    int rank_ = 0, size_ = 1, node_size_ = 1;
    bool active_ = false, owns_ = false, unsupported_launch_ = false;
};

// Cores this process may run on (its affinity mask, which mpirun narrows).
int available_cores() {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return std::max(1, CPU_COUNT(&set));
#endif
    return std::max(1u, std::thread::hardware_concurrency());
}

// ---------------------------------------------------------------- running points

enum class point_status : std::uint8_t { not_run, done, diverged, interrupted, failed };

struct point_result {
    std::int64_t index = 0;
    point_status status = point_status::not_run;
    bool internal = false; // failed by an internal error, not the input
    double test_accuracy = nan, test_loss = nan, train_loss = nan, train_accuracy = nan;
    double validation_accuracy = nan, validation_loss = nan;
    std::int64_t steps = 0;
    std::string diverged_at; // as the point's log names it: "step N" or "presentation N"
    double seconds = 0;
    std::int32_t rank = 0;
    std::string log, message;
};

// Results travel between ranks as plain bytes (same machine type everywhere).
class byte_writer {
public:
    template <class T> void put(const T& v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
    void put(const std::string& s) {
        put(std::uint64_t(s.size()));
        out_ += s;
    }
    const std::string& bytes() const { return out_; }

private:
    std::string out_;
};

class byte_reader {
public:
    explicit byte_reader(const std::string& in) : in_(in) {}
    bool done() const { return at_ >= in_.size(); }
    template <class T> void get(T& v) {
        need(sizeof v);
        std::memcpy(&v, in_.data() + at_, sizeof v);
        at_ += sizeof v;
    }
    void get(std::string& s) {
        std::uint64_t n = 0;
        get(n);
        need(n);
        s = in_.substr(at_, n);
        at_ += n;
    }

private:
    void need(std::size_t n) const {
        if (in_.size() - at_ < n)
            throw internal_error("sweep: truncated results from a rank");
    }
    const std::string& in_;
    std::size_t at_ = 0;
};

void encode(byte_writer& w, const point_result& r) {
    w.put(r.index);
    w.put(std::uint8_t(r.status));
    w.put(std::uint8_t(r.internal));
    w.put(r.test_accuracy);
    w.put(r.test_loss);
    w.put(r.train_loss);
    w.put(r.train_accuracy);
    w.put(r.validation_accuracy);
    w.put(r.validation_loss);
    w.put(r.steps);
    w.put(r.diverged_at);
    w.put(r.seconds);
    w.put(r.rank);
    w.put(r.log);
    w.put(r.message);
}

point_result decode(byte_reader& in) {
    point_result r;
    std::uint8_t status = 0, internal = 0;
    in.get(r.index);
    in.get(status);
    in.get(internal);
    r.status = point_status(status);
    r.internal = internal != 0;
    in.get(r.test_accuracy);
    in.get(r.test_loss);
    in.get(r.train_loss);
    in.get(r.train_accuracy);
    in.get(r.validation_accuracy);
    in.get(r.validation_loss);
    in.get(r.steps);
    in.get(r.diverged_at);
    in.get(r.seconds);
    in.get(r.rank);
    in.get(r.log);
    in.get(r.message);
    return r;
}

std::string shell_quote(const std::string& s) {
    const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum((unsigned char)c) || std::strchr("_-+./=:,@%", c) != nullptr;
    });
    if (plain)
        return s;
    std::string out = "'";
    for (const char c: s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// The `counterstream run` command that reproduces one point.
std::string run_command_line(const sweep_point& p) {
    std::string out = "counterstream run " + shell_quote(p.base.string());
    for (const auto& s: p.sets)
        out += " --set " + shell_quote(s);
    return out;
}

std::filesystem::path point_file(const std::filesystem::path& dir, std::int64_t index) {
    char name[32];
    std::snprintf(name, sizeof name, "point-%05lld.h5", static_cast<long long>(index));
    return dir / name;
}

// A point's result from its finished training run.
void take_result(point_result& r, const train_result& t) {
    r.steps = t.steps;
    r.diverged_at = t.diverged_at;
    if (t.interrupted) {
        r.status = point_status::interrupted;
    } else if (t.diverged) {
        r.status = point_status::diverged;
    } else {
        r.status = point_status::done;
        if (!t.epochs.empty()) {
            const auto& e = t.epochs.back();
            r.test_accuracy = e.test_accuracy;
            r.test_loss = e.test_loss;
            r.train_loss = e.train_loss;
            r.train_accuracy = e.train_accuracy;
            r.validation_accuracy = e.validation_accuracy;
            r.validation_loss = e.validation_loss;
        }
    }
}

// A point's result from what its training run threw.
void take_failure(point_result& r, const std::exception_ptr& error) {
    r.status = point_status::failed;
    try {
        std::rethrow_exception(error);
    } catch (const input_error& e) {
        r.message = e.what();
    } catch (const std::exception& e) {
        r.internal = true;
        r.message = e.what();
    } catch (...) {
        r.internal = true;
        r.message = "unknown exception";
    }
}

point_result run_point(const sweep_point& p, const library& lib, const std::filesystem::path& file, int rank) {
    point_result r;
    r.index = p.index;
    r.rank = rank;
    train_options opt;
    opt.output = file;
    opt.command_line = run_command_line(p);
    opt.progress = false;
    opt.threads = 1; // a point's result must not depend on how the sweep is spread
    std::ostringstream log;
    const auto t0 = std::chrono::steady_clock::now();
    try {
        take_result(r, train(p.run, lib, opt, log));
    } catch (...) {
        take_failure(r, std::current_exception());
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.log = log.str();
    return r;
}

// What runs as one: a point alone, or an ensemble of points that differ only
// in their circuits.
struct sweep_job {
    std::vector<const sweep_point*> points;
};

// Points with the same ensemble_key() (continuous points; discrete points on
// the CUDA backend) are cut into ensembles of at
// most `size` points (at least `ranks` of them, so that every rank has work;
// contiguous, sizes within one of each other); the others run alone. Jobs are
// in the order of their first point.
std::vector<sweep_job> plan_jobs(const sweep_document& doc, int size, int ranks) {
    std::vector<sweep_job> jobs;
    std::vector<std::pair<std::string, std::vector<const sweep_point*>>> groups;
    for (const auto& p: doc.points) {
        const std::string key = size > 1 ? ensemble_key(p.run) : std::string();
        if (key.empty()) {
            jobs.push_back({{&p}});
            continue;
        }
        auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& x) { return x.first == key; });
        if (g == groups.end())
            g = groups.insert(groups.end(), {key, {}});
        g->second.push_back(&p);
    }
    for (const auto& [key, points]: groups) {
        const std::size_t n = points.size();
        const std::size_t parts =
            std::max((n + std::size_t(size) - 1) / std::size_t(size), std::min(n, std::size_t(ranks)));
        for (std::size_t c = 0; c < parts; ++c)
            jobs.push_back({{points.begin() + std::ptrdiff_t(c * n / parts),
                             points.begin() + std::ptrdiff_t((c + 1) * n / parts)}});
    }
    std::sort(jobs.begin(), jobs.end(),
              [](const sweep_job& a, const sweep_job& b) { return a.points.front()->index < b.points.front()->index; });
    return jobs;
}

// Runs a job's points, an ensemble's spread over `threads`.
std::vector<point_result> run_job(const sweep_job& job, const library& lib, const std::filesystem::path& dir, int rank,
                                  int threads) {
    std::vector<point_result> results;
    if (job.points.size() == 1) {
        results.push_back(run_point(*job.points.front(), lib, point_file(dir, job.points.front()->index), rank));
        return results;
    }
    const std::size_t n = job.points.size();
    std::vector<std::ostringstream> logs(n);
    std::vector<ensemble_member> members(n);
    for (std::size_t i = 0; i < n; ++i) {
        const sweep_point& p = *job.points[i];
        members[i] = {&p.run, point_file(dir, p.index), run_command_line(p), &logs[i]};
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<ensemble_outcome> outcomes;
    try {
        outcomes = train_ensemble(members, lib, threads);
    } catch (...) {
        // Nothing ran (the data or a network could not be made): each point
        // alone reports what is wrong with it.
        for (const auto* p: job.points)
            results.push_back(run_point(*p, lib, point_file(dir, p->index), rank));
        return results;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (std::size_t i = 0; i < n; ++i) {
        point_result r;
        r.index = job.points[i]->index;
        r.rank = rank;
        if (outcomes[i].error)
            take_failure(r, outcomes[i].error);
        else
            take_result(r, outcomes[i].result);
        r.seconds = seconds / double(n);
        r.log = logs[i].str();
        results.push_back(std::move(r));
    }
    return results;
}

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

// ---------------------------------------------------------------- HDF5 output

using close_fn = herr_t (*)(hid_t);

class h5 {
public:
    h5(hid_t id, close_fn close, const std::string& what) : id_(id), close_(close) {
        if (id < 0)
            fail(what);
    }
    h5(h5&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
    h5(const h5&) = delete;
    h5& operator=(const h5&) = delete;
    h5& operator=(h5&&) = delete;
    ~h5() {
        if (id_ >= 0)
            close_(id_);
    }
    hid_t get() const { return id_; }

    [[noreturn]] static void fail(const std::string& what) {
        std::string desc;
        H5Ewalk2(
            H5E_DEFAULT, H5E_WALK_UPWARD,
            [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
                if (n == 0 && e->desc != nullptr)
                    *static_cast<std::string*>(out) = e->desc;
                return 0;
            },
            &desc);
        H5Eclear2(H5E_DEFAULT);
        throw internal_error("sweep output: HDF5 " + what + " failed (" + (desc.empty() ? "unknown error" : desc) +
                             ")");
    }
    static void check(herr_t status, const std::string& what) {
        if (status < 0)
            fail(what);
    }

private:
    hid_t id_;
    close_fn close_;
};

h5 string_type() {
    h5 t(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
    h5::check(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
    h5::check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
    return t;
}

h5 ordered_group(hid_t parent, const std::string& name) {
    h5 gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "H5Pcreate");
    // Readers that follow creation order see the table's columns in order.
    h5::check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
              "H5Pset_link_creation_order");
    return h5(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose,
              "H5Gcreate2 '" + name + "'");
}

void string_attribute(hid_t object, const std::string& name, const std::string& value) {
    const h5 type = string_type();
    const h5 space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    if (H5Aexists(object, name.c_str()) > 0)
        h5::check(H5Adelete(object, name.c_str()), "H5Adelete");
    const h5 a(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
               "H5Acreate2 '" + name + "'");
    const char* text = value.c_str();
    h5::check(H5Awrite(a.get(), type.get(), &text), "H5Awrite '" + name + "'");
}

void strings_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values) {
    const h5 type = string_type();
    const hsize_t n = values.size();
    const h5 space(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
    const h5 a(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
               "H5Acreate2 '" + name + "'");
    std::vector<const char*> texts;
    for (const auto& v: values)
        texts.push_back(v.c_str());
    h5::check(H5Awrite(a.get(), type.get(), texts.data()), "H5Awrite '" + name + "'");
}

template <class T>
void scalar_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t mem_type, T value) {
    const h5 space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    const h5 a(H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
               "H5Acreate2 '" + name + "'");
    h5::check(H5Awrite(a.get(), mem_type, &value), "H5Awrite '" + name + "'");
}

void string_dataset(hid_t parent, const std::string& name, const std::string& value) {
    const h5 type = string_type();
    const h5 space(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    const h5 d(H5Dcreate2(parent, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               H5Dclose, "H5Dcreate2 '" + name + "'");
    const char* text = value.c_str();
    h5::check(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text), "H5Dwrite '" + name + "'");
}

// A 1-D dataset of n elements; `data` is in memory type `mem_type`.
void column(hid_t parent, const std::string& name, hid_t file_type, hid_t mem_type, hsize_t n, const void* data) {
    const h5 space(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
    const h5 dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
    // No modification times: the table's objects are the same bytes every time.
    h5::check(H5Pset_obj_track_times(dcpl.get(), false), "H5Pset_obj_track_times");
    const h5 d(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose,
               "H5Dcreate2 '" + name + "'");
    h5::check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite '" + name + "'");
}

std::string utc_now_iso8601() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
    return buf.data();
}

// H5Ocopy leaves the references of dimension scales (DIMENSION_LIST, a vlen
// of references, and REFERENCE_LIST) dangling (HDF5 issue #6200), so they are
// dropped from the copy under `copy` and the scales attached again as in `src`.
void reattach_dimension_scales(hid_t src, hid_t copy) {
    std::vector<std::string> objects;
    const auto collect = [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        if (info->type == H5L_TYPE_HARD)
            static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
    };
    h5::check(H5Lvisit(src, H5_INDEX_NAME, H5_ITER_INC, collect, &objects), "H5Lvisit");
    struct attachment {
        std::string dataset, scale;
        unsigned dim;
    };
    std::vector<attachment> attachments;
    for (const auto& name: objects) {
        if (H5Aexists_by_name(src, name.c_str(), "DIMENSION_LIST", H5P_DEFAULT) <= 0)
            continue;
        const h5 d(H5Dopen2(src, name.c_str(), H5P_DEFAULT), H5Dclose, "H5Dopen2 '" + name + "'");
        const h5 space(H5Dget_space(d.get()), H5Sclose, "H5Dget_space");
        const int rank = H5Sget_simple_extent_ndims(space.get());
        for (int dim = 0; dim < rank; ++dim) {
            std::vector<std::string> scales;
            const auto scale_name = [](hid_t, unsigned, hid_t scale, void* data) -> herr_t {
                const ssize_t n = H5Iget_name(scale, nullptr, 0);
                if (n <= 0)
                    return -1;
                std::string path(std::size_t(n) + 1, '\0');
                H5Iget_name(scale, path.data(), path.size());
                path.resize(std::size_t(n));
                static_cast<std::vector<std::string>*>(data)->push_back(path.substr(1)); // relative to the root
                return 0;
            };
            if (H5DSget_num_scales(d.get(), unsigned(dim)) <= 0)
                continue;
            h5::check(H5DSiterate_scales(d.get(), unsigned(dim), nullptr, scale_name, &scales),
                      "H5DSiterate_scales '" + name + "'");
            for (const auto& s: scales)
                attachments.push_back({name, s, unsigned(dim)});
        }
    }
    for (const auto& name: objects)
        for (const char* attr: {"DIMENSION_LIST", "REFERENCE_LIST"})
            if (H5Aexists_by_name(copy, name.c_str(), attr, H5P_DEFAULT) > 0)
                h5::check(H5Adelete_by_name(copy, name.c_str(), attr, H5P_DEFAULT), "H5Adelete_by_name");
    for (const auto& a: attachments) {
        const h5 d(H5Dopen2(copy, a.dataset.c_str(), H5P_DEFAULT), H5Dclose, "H5Dopen2 '" + a.dataset + "'");
        const h5 s(H5Dopen2(copy, a.scale.c_str(), H5P_DEFAULT), H5Dclose, "H5Dopen2 '" + a.scale + "'");
        h5::check(H5DSattach_scale(d.get(), s.get(), a.dim), "H5DSattach_scale '" + a.dataset + "'");
    }
}

// A group of 1-D datasets, one per column, listed in order by its attribute `columns`.
h5 write_table(hid_t parent, const std::string& name, const std::vector<table_column>& columns) {
    h5 table = ordered_group(parent, name);
    std::vector<std::string> names;
    for (const auto& c: columns) {
        if (const auto* v = std::get_if<std::vector<double>>(&c.values)) {
            column(table.get(), c.name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v->size(), v->data());
        } else if (const auto* v = std::get_if<std::vector<std::int64_t>>(&c.values)) {
            column(table.get(), c.name, H5T_STD_I64LE, H5T_NATIVE_INT64, v->size(), v->data());
        } else if (const auto* v = std::get_if<std::vector<std::uint8_t>>(&c.values)) {
            column(table.get(), c.name, H5T_STD_U8LE, H5T_NATIVE_UINT8, v->size(), v->data());
        } else {
            const h5 type = string_type();
            std::vector<const char*> texts;
            for (const auto& t: std::get<std::vector<std::string>>(c.values))
                texts.push_back(t.c_str());
            column(table.get(), c.name, type.get(), type.get(), texts.size(), texts.data());
        }
        names.push_back(c.name);
    }
    strings_attribute(table.get(), "columns", names);
    return table;
}

// The swept values, then the final metrics of every point.
std::vector<table_column> points_table(const sweep_document& doc, const std::vector<point_result>& results) {
    std::vector<table_column> table;
    for (std::size_t c = 0; c < doc.columns.size(); ++c) {
        if (doc.numeric[c]) {
            std::vector<double> v;
            for (const auto& p: doc.points) {
                double x = nan;
                std::from_chars(p.values[c].data(), p.values[c].data() + p.values[c].size(), x);
                v.push_back(x);
            }
            table.push_back({doc.columns[c], v});
        } else {
            std::vector<std::string> v;
            for (const auto& p: doc.points)
                v.push_back(p.values[c]);
            table.push_back({doc.columns[c], v});
        }
    }
    std::vector<std::int64_t> index, steps;
    std::vector<double> test_acc, test_loss, validation_acc, validation_loss, train_loss, train_acc;
    std::vector<std::uint8_t> diverged;
    for (const auto& r: results) {
        index.push_back(r.index);
        test_acc.push_back(r.test_accuracy);
        test_loss.push_back(r.test_loss);
        validation_acc.push_back(r.validation_accuracy);
        validation_loss.push_back(r.validation_loss);
        train_loss.push_back(r.train_loss);
        train_acc.push_back(r.train_accuracy);
        diverged.push_back(r.status == point_status::diverged ? 1 : 0);
        steps.push_back(r.steps);
    }
    table.push_back({"point", index});
    table.push_back({"final_test_accuracy", test_acc});
    table.push_back({"final_test_loss", test_loss});
    if (holds_validation(doc)) {
        table.push_back({"final_validation_accuracy", validation_acc});
        table.push_back({"final_validation_loss", validation_loss});
    }
    table.push_back({"final_train_loss", train_loss});
    table.push_back({"final_train_accuracy", train_acc});
    table.push_back({"diverged", diverged});
    table.push_back({"steps", steps});
    return table;
}

struct merge_info {
    std::string command_line;
    int ranks = 1, threads = 1;
};

void write_sweep_file(const std::filesystem::path& path, const std::filesystem::path& points_dir,
                      const sweep_document& doc, const std::vector<point_result>& results, const merge_info& info,
                      const sweep_command& command, const std::vector<table_column>& summary) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const h5 fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate");
    h5::check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
    const h5 file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                  "H5Fcreate '" + path.string() + "'");
    const hid_t root = file.get();
    const auto n = hsize_t(results.size());
    string_attribute(root, "format", command.format);
    scalar_attribute(root, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, 1);
    string_attribute(root, "software_version", COUNTERSTREAM_VERSION);
    string_attribute(root, "created", utc_now_iso8601());
    string_attribute(root, "command_line", info.command_line);
    scalar_attribute(root, "points", H5T_STD_I64LE, H5T_NATIVE_INT64, std::int64_t(n));
    scalar_attribute(root, "ranks", H5T_STD_I32LE, H5T_NATIVE_INT, info.ranks);
    scalar_attribute(root, "threads", H5T_STD_I32LE, H5T_NATIVE_INT, info.threads);

    const h5 sweep(H5Gcreate2(root, command.group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
                   "H5Gcreate2 '" + command.group + "'");
    string_dataset(sweep.get(), "config", doc.text);
    if (!doc.base.empty())
        string_dataset(sweep.get(), "base", file_text(doc.base));
    if (!summary.empty())
        write_table(sweep.get(), "table", summary);
    const h5 table = write_table(sweep.get(), command.points_table, points_table(doc, results));
    strings_attribute(table.get(), "parameters", doc.columns);

    std::vector<double> seconds;
    for (const auto& r: results)
        seconds.push_back(r.seconds);
    {
        const h5 space(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
        const h5 d(
            H5Dcreate2(sweep.get(), "seconds", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose, "H5Dcreate2 'seconds'");
        h5::check(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, seconds.data()), "H5Dwrite");
        string_attribute(d.get(), "units", "s");
    }

    // Each point's recording, whole: copying its root group copies its root
    // attributes and keeps the dimension-scale references inside it valid.
    const h5 points = ordered_group(root, "points");
    for (const auto& r: results) {
        const auto src_path = point_file(points_dir, r.index);
        const h5 src(H5Fopen(src_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
                     "H5Fopen '" + src_path.string() + "'");
        const std::string name = std::to_string(r.index);
        h5::check(H5Ocopy(src.get(), "/", points.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                  "H5Ocopy '" + src_path.string() + "'");
        const h5 g(H5Gopen2(points.get(), name.c_str(), H5P_DEFAULT), H5Gclose, "H5Gopen2 '" + name + "'");
        reattach_dimension_scales(src.get(), g.get());
        scalar_attribute(g.get(), "point", H5T_STD_I64LE, H5T_NATIVE_INT64, r.index);
        // Attributes live in the object header; keep the log well under its 64 KiB.
        constexpr std::size_t max_log = 32768;
        string_attribute(g.get(), "log", r.log.size() <= max_log ? r.log : r.log.substr(r.log.size() - max_log));
    }
    h5::check(H5Fflush(root, H5F_SCOPE_GLOBAL), "H5Fflush");
}

// ---------------------------------------------------------------- printing

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

std::string indented(const std::string& text) {
    std::string out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out += "    " + l + '\n';
    return out;
}

} // namespace

bool holds_validation(const sweep_document& doc) {
    return std::any_of(doc.points.begin(), doc.points.end(),
                       [](const sweep_point& p) { return p.run.protocol.dataset.validation > 0; });
}

bool sweep_built_with_mpi() {
#ifdef COUNTERSTREAM_MPI
    return true;
#else
    return false;
#endif
}

int sweep(const sweep_options& opt, const library& lib, std::ostream& out) {
    sweep_command command;
    command.name = "sweep";
    command.format = "counterstream-sweep";
    command.group = "sweep";
    command.points_table = "table";
    command.load = [&] { return load_sweep(opt.file, opt.sets, lib); };
    command.summarize = [](const sweep_document& doc, const std::vector<point_outcome>& outcomes) {
        std::ostringstream text;
        print_table(doc, outcomes, text);
        return sweep_summary{{}, text.str()};
    };
    return run_sweep(command, opt, lib, out);
}

int run_sweep(const sweep_command& command, const sweep_options& opt, const library& lib, std::ostream& out) {
    const process_group world;
    if (world.unsupported_launch()) {
        if (world.rank() != 0)
            return 2;
        throw input_error("launched by mpirun with " + std::to_string(world.size()) +
                          " processes, but this counterstream was built without MPI (install an MPI, "
                          "e.g. libopenmpi-dev, and rebuild)");
    }
    const auto wall0 = std::chrono::steady_clock::now();

    // Every rank reads and checks everything (all points, before any runs); rank 0 reports.
    sweep_document doc;
    std::filesystem::path output = opt.output;
    std::filesystem::path points_dir;
    std::exception_ptr failure;
    try {
        doc = command.load();
        if (output.empty())
            output = "runs/" + std::filesystem::path(opt.file).stem().string() + ".h5";
        std::error_code ec;
        if (std::filesystem::exists(output, ec) && !opt.overwrite)
            throw input_error(output.string() + ": exists (pass --overwrite to replace it)");
        points_dir = output.string() + ".points";
        std::filesystem::create_directories(points_dir, ec);
        if (!std::filesystem::is_directory(points_dir, ec))
            throw input_error(points_dir.string() + ": cannot create folder (" + ec.message() + ")");
    } catch (...) {
        failure = std::current_exception();
    }
    // Every rank reaches this collective, whatever it found.
    if (!world.all(failure == nullptr)) {
        if (world.rank() != 0)
            return 2;
        if (failure)
            std::rethrow_exception(failure);
        throw input_error(opt.file + ": another MPI rank could not read the " + command.name + " or create " +
                          points_dir.string());
    }

    int ensemble_size = 16;
    if (opt.ensemble > 0)
        ensemble_size = opt.ensemble;
    else if (doc.ensemble > 0)
        ensemble_size = doc.ensemble;
    const std::vector<sweep_job> jobs = plan_jobs(doc, ensemble_size, world.size());
    std::vector<const sweep_job*> mine;
    std::size_t mine_points = 0, ensembles = 0;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        ensembles += jobs[j].points.size() > 1 ? 1 : 0;
        if (int(j % std::size_t(world.size())) == world.rank()) {
            mine.push_back(&jobs[j]);
            mine_points += jobs[j].points.size();
        }
    }
    int threads = opt.threads > 0 ? opt.threads
                  : doc.threads > 0
                      ? doc.threads
                      : std::max(1, std::min(available_cores(), int(std::max(1u, std::thread::hardware_concurrency())) /
                                                                    world.node_size()));
    // Points write their recordings from their own threads; every HDF5 call
    // goes through hdf5_mutex() (sim/hdf5_lock.hpp), so a serial HDF5 build is fine.
    const int total = int(doc.points.size());
    // No more threads than the busiest rank has points.
    threads = std::max(1, std::min(threads, (total + world.size() - 1) / world.size()));
    const int used_threads = std::max(1, std::min<int>(threads, int(mine.size())));
    // Threads the pool does not use spread the instances of ensembles.
    const int ensemble_threads = std::max(1, threads / used_threads);

    if (world.rank() == 0) {
        std::string shape = std::to_string(total) + (total == 1 ? " point" : " points");
        if (!doc.axes.empty()) {
            std::vector<std::string> dims;
            for (std::size_t c = 0; c < doc.axes.size(); ++c)
                dims.push_back(doc.columns[c] + " " + std::to_string(doc.axes[c].size()));
            shape += " (" + join(dims, " x ") + ")";
        }
        if (ensembles > 0) {
            const std::size_t alone = std::size_t(
                std::count_if(jobs.begin(), jobs.end(), [](const sweep_job& j) { return j.points.size() == 1; }));
            shape += " as " + std::to_string(ensembles) + (ensembles == 1 ? " ensemble" : " ensembles");
            if (alone > 0)
                shape += " and " + std::to_string(alone) + (alone == 1 ? " single run" : " single runs");
        }
        out << command.name << " " << opt.file << ": " << shape << " on ";
        if (world.size() > 1)
            out << world.size() << " ranks x ";
        out << threads << (threads == 1 ? " thread" : " threads") << " -> " << output.string() << '\n';
        out << std::flush;
    }

    // The jobs of this rank, on a pool of threads.
    std::vector<point_result> done;
    std::mutex done_mutex;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    const int digits = int(std::to_string(total).size());
    const auto worker = [&] {
        while (!stop && !stop_requested) {
            const std::size_t k = next++;
            if (k >= mine.size())
                break;
            std::vector<point_result> rs = run_job(*mine[k], lib, points_dir, world.rank(), ensemble_threads);
            const auto pad = [&](const std::string& x) { return std::string(std::size_t(digits) - x.size(), ' ') + x; };
            const std::lock_guard<std::mutex> lock(done_mutex);
            for (auto& r: rs) {
                if (r.status == point_status::interrupted)
                    stop = true;
                const sweep_point& p = doc.points[std::size_t(r.index)];
                std::string line = "[" + pad(std::to_string(done.size() + 1)) + "/" + std::to_string(mine_points) +
                                   "] point " + pad(std::to_string(p.index)) + "  " + point_label(doc, p, " ") + "  " +
                                   outcome(r) + "  " + decimals(r.seconds, 1) + " s";
                if (world.size() > 1)
                    line += "  [rank " + std::to_string(world.rank()) + "]";
                line += '\n';
                if (r.status == point_status::failed)
                    line += indented(r.message);
                out << line;
                done.push_back(std::move(r));
            }
            out << std::flush;
        }
    };
    {
        // Installed for the whole pool, so that a signal between two points
        // stops the sweep as one during a point does.
        const stop_signals signals;
        std::vector<std::thread> pool;
        for (int t = 0; t < used_threads; ++t)
            pool.emplace_back(worker);
        for (auto& t: pool)
            t.join();
    }

    byte_writer mine_bytes;
    for (const auto& r: done)
        encode(mine_bytes, r);
    const auto gathered = world.gather(mine_bytes.bytes());

    // Rank 0 decides and merges; every rank returns the same code.
    int code = 0;
    std::vector<point_result> results;
    std::error_code ec;
    if (world.rank() == 0) {
        try {
            results.resize(doc.points.size());
            for (std::size_t i = 0; i < results.size(); ++i)
                results[i].index = std::int64_t(i);
            for (const auto& bytes: gathered) {
                byte_reader in(bytes);
                while (!in.done()) {
                    point_result r = decode(in);
                    results.at(std::size_t(r.index)) = std::move(r);
                }
            }
            std::vector<std::string> failed;
            bool internal = false;
            std::size_t finished = 0;
            for (const auto& r: results) {
                if (r.status == point_status::failed) {
                    std::istringstream lines(r.message);
                    for (std::string l; std::getline(lines, l);)
                        failed.push_back(opt.file + ": point " + std::to_string(r.index) + " (" +
                                         point_label(doc, doc.points[std::size_t(r.index)]) + "): " + l);
                    internal |= r.internal;
                }
                if (r.status == point_status::done || r.status == point_status::diverged)
                    ++finished;
            }
            if (!failed.empty()) {
                for (const auto& r: results)
                    std::filesystem::remove(point_file(points_dir, r.index), ec);
                std::filesystem::remove(points_dir, ec);
                if (internal)
                    throw internal_error(join(failed, "\n"));
                throw input_error(failed);
            }
            if (finished < results.size()) {
                out << "interrupted: " << finished << " of " << results.size()
                    << " points finished; the recordings so far stay in " << points_dir.string() << " (not merged)\n";
                code = 130;
            } else {
                std::vector<point_outcome> outcomes;
                for (const auto& r: results)
                    outcomes.push_back({r.status == point_status::diverged, r.test_accuracy, r.validation_accuracy});
                const sweep_summary summary = command.summarize(doc, outcomes);
                const auto merged = points_dir / "merged.h5";
                write_sweep_file(merged, points_dir, doc, results, {opt.command_line, world.size(), threads}, command,
                                 summary.table);
                if (std::filesystem::exists(output, ec) && !opt.overwrite)
                    throw input_error(output.string() + ": appeared during the sweep; the merged file is " +
                                      merged.string());
                std::filesystem::rename(merged, output);
                for (const auto& r: results)
                    std::filesystem::remove(point_file(points_dir, r.index), ec);
                std::filesystem::remove(points_dir, ec);

                out << '\n' << summary.text;
                double point_seconds = 0;
                for (const auto& r: results)
                    point_seconds += r.seconds;
                const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
                out << "\nwrote " << output.string() << ": " << results.size() << " points in " << decimals(wall, 1)
                    << " s (points took " << decimals(point_seconds, 1) << " s together)\n"
                    << std::flush;
            }
        } catch (const input_error&) {
            failure = std::current_exception();
            code = 2;
        } catch (const std::exception&) {
            failure = std::current_exception();
            code = 70;
        }
    }
    code = world.broadcast(code);
    if (failure)
        std::rethrow_exception(failure);
    return code;
}

} // namespace counterstream
