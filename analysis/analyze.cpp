#include "analysis/analyze.hpp"

#include "analysis/h5.hpp"
#include "analysis/matrix_metrics.hpp"
#include "analysis/recording.hpp"
#include "analysis/theorem1.hpp"
#include "sim/circuit.hpp"
#include "sim/error.hpp"
#include "sim/join.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"

#include <Eigen/Eigenvalues>
#include <hdf5_hl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <ostream>

#ifndef COUNTERSTREAM_VERSION
#define COUNTERSTREAM_VERSION "unknown"
#endif

namespace counterstream::analysis {

namespace {

// 12 for ("W12", "W"); -1 when the name is not the prefix followed by digits.
int layer_of(const std::string& name, const std::string& prefix) {
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0)
        return -1;
    int l = 0;
    for (std::size_t i = prefix.size(); i < name.size(); ++i) {
        if (!std::isdigit(static_cast<unsigned char>(name[i])) || l > 100000)
            return -1;
        l = 10 * l + (name[i] - '0');
    }
    return l;
}

// Eigenvalues of a symmetric matrix, largest first.
Eigen::VectorXd eigenvalues_descending(const Eigen::MatrixXd& symmetric) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(symmetric, Eigen::EigenvaluesOnly);
    return es.eigenvalues().reverse();
}

std::vector<double> row_major(const Eigen::MatrixXd& m) {
    std::vector<double> out(std::size_t(m.size()));
    Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(out.data(), m.rows(), m.cols()) =
        m;
    return out;
}

std::string format_deg(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

std::string format_g(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    const bool same = std::filesystem::equivalent(a, b, ec);
    return !ec && same;
}

// The circuit stored in the recording, or nullopt (with why) when it does not parse.
std::optional<circuit_spec> stored_circuit(const recording& rec, const library& lib, std::string& why) {
    try {
        const YAML::Node root = YAML::Load(rec.circuit_yaml());
        diagnostics d;
        reader rd(d);
        auto spec = parse_circuit(view(root, rec.file() + ":/config/circuit", ""), rd, lib);
        if (d.empty())
            check_circuit(spec, d, false);
        if (!d.empty()) {
            why = d.lines().front();
            return std::nullopt;
        }
        return spec;
    } catch (const YAML::Exception& e) {
        why = rec.file() + ":/config/circuit: not YAML: " + e.msg;
    } catch (const input_error& e) {
        why = e.lines().front();
    }
    return std::nullopt;
}

// The matrix each group applies at one snapshot: stored groups as read,
// tied groups as their source (transposed if the tie says so).
std::map<std::string, Eigen::MatrixXd> weights_at(const recording& rec, std::size_t k, const circuit_spec* spec) {
    std::map<std::string, Eigen::MatrixXd> w;
    for (const auto& g: rec.groups())
        w[g] = rec.snapshot(g, k).cast<double>();
    if (spec)
        for (std::size_t pass = 0; pass < spec->synapses.size(); ++pass) {
            bool added = false;
            for (const auto& s: spec->synapses) {
                if (!s.tie || w.contains(s.name) || !w.contains(s.tie->to))
                    continue;
                const auto& src = w.at(s.tie->to);
                w[s.name] = s.tie->transpose ? Eigen::MatrixXd(src.transpose()) : src;
                added = true;
            }
            if (!added)
                break;
        }
    return w;
}

probe_data synthetic_probe(int inputs, int classes, int batch, std::uint64_t seed) {
    probe_data p;
    rng r(seed);
    p.x.resize(inputs, batch);
    for (Eigen::Index j = 0; j < p.x.cols(); ++j)
        for (Eigen::Index i = 0; i < p.x.rows(); ++i)
            p.x(i, j) = float(r.normal());
    p.labels.resize(std::size_t(batch));
    for (auto& y: p.labels)
        y = std::int32_t(r.below(std::uint64_t(classes)));
    p.description = "synthetic, not the run's data: " + std::to_string(batch) +
                    " samples, x ~ N(0, 1) independently per input neuron, labels uniform over " +
                    std::to_string(classes) + " classes (counterstream::rng, seed " + std::to_string(seed) + ")";
    return p;
}

struct alignment_pair {
    std::string name, description;
    std::string a, b; // angle(a, b^T), or for eq. 27 angle(a b^T, c d^T)
    std::string c, d; // eq. 27 only
    std::vector<double> deg;
};

struct h_series {
    std::vector<double> min_eigenvalue, spectrum; // spectrum row-major [snapshots x n]
    std::vector<std::uint8_t> positive_definite;
    Eigen::Index n = 0;
};

struct gram_result {
    Eigen::MatrixXd first, last;
    Eigen::VectorXd spectrum_first, spectrum_last;
};

struct theorem1_series {
    std::vector<double> to_gradient, to_h_gradient;
    bool has_h = false, learns = false;
};

// The probe pass of Theorem 1: the circuit rebuilt from the recording, its
// upstream chain, and the probe batch. Absent (with a reason) when the
// circuit cannot be rebuilt or has no plain upstream chain.
struct theorem1_setup {
    std::unique_ptr<network> net; // held by pointer: rule factors point into it
    std::vector<upstream_layer> chain;
    probe_data probe;
    std::vector<std::pair<int, std::string>> stored; // network group index, stored name
};

// A continuous-mode circuit as the discrete probe sees it: the rates' steady
// state (population tau 0) and each rule's tau as eta = 1 / tau, which
// scales the update but leaves its direction, all the angles measure.
circuit_spec probe_circuit(circuit_spec spec) {
    for (auto& p: spec.populations)
        p.tau = 0;
    for (auto& s: spec.synapses)
        if (s.rule && s.rule->tau && !s.rule->eta) {
            s.rule->eta = 1 / *s.rule->tau;
            s.rule->tau.reset();
        }
    return spec;
}

std::optional<theorem1_setup> prepare_theorem1(const analyze_options& opt, const recording& rec,
                                               const circuit_spec& spec, const library& lib, std::string& why) {
    theorem1_setup s;
    const int batch = opt.probe ? int(opt.probe->x.cols()) : opt.probe_batch;
    try {
        s.net = std::make_unique<network>(probe_circuit(spec), lib, 0, std::max(batch, 1));
    } catch (const input_error& e) {
        why = "the circuit cannot be rebuilt: " + e.lines().front();
        return std::nullopt;
    }
    s.chain = upstream_chain(*s.net, why);
    if (s.chain.empty())
        return std::nullopt;
    auto& net = *s.net;
    for (const auto& name: rec.groups()) {
        const int gi = spec.synapse_index(name);
        if (gi < 0)
            continue;
        const auto& g = net.groups()[gi];
        const Eigen::MatrixXf w0 = rec.snapshot(name, 0);
        if (g.plan->tied_to >= 0 || w0.rows() != g.w.rows() || w0.cols() != g.w.cols())
            throw input_error(rec.file() + ": /weights/" + name + " is " + std::to_string(w0.rows()) + " x " +
                              std::to_string(w0.cols()) + " but the stored circuit makes it " +
                              std::to_string(g.w.rows()) + " x " + std::to_string(g.w.cols()));
        s.stored.emplace_back(gi, name);
    }
    const int inputs = int(net.input().rows());
    const int classes = int(net.populations()[net.output_population()].spec->size);
    if (opt.probe) {
        s.probe = *opt.probe;
        if (s.probe.x.rows() != inputs || s.probe.labels.size() != std::size_t(s.probe.x.cols()) ||
            s.probe.x.cols() == 0)
            throw input_error(rec.file() + ": the probe batch is " + std::to_string(s.probe.x.rows()) + " x " +
                              std::to_string(s.probe.x.cols()) + " with " + std::to_string(s.probe.labels.size()) +
                              " labels; the circuit has " + std::to_string(inputs) + " inputs");
        for (auto y: s.probe.labels)
            if (y < 0 || y >= classes)
                throw input_error(rec.file() + ": probe label " + std::to_string(y) + " is not in 0.." +
                                  std::to_string(classes - 1));
    } else {
        s.probe = synthetic_probe(inputs, classes, batch, opt.probe_seed);
    }
    return s;
}

void attach_step(const h5::id& d, hid_t step) {
    if (H5DSattach_scale(d.get(), step, 0) < 0 || H5DSset_label(d.get(), 0, "snapshot") < 0)
        throw internal_error("HDF5 H5DSattach_scale failed (" + h5::error_text() + ")");
}

} // namespace

namespace {

// The recording at `root` of opt.input ("" for a run's own file).
int analyze_recording(const analyze_options& opt, const library& lib, std::ostream& log, const std::string& root) {
    const bool in_place = opt.output.empty() || same_file(opt.output, opt.input);
    recording rec(opt.input, in_place, root);
    const std::size_t K = rec.snapshots();

    std::string circuit_note;
    const auto spec = stored_circuit(rec, lib, circuit_note);
    const circuit_spec* sp = spec ? &*spec : nullptr;

    // Every group the analysis can see, in the circuit's order.
    const auto w0 = weights_at(rec, 0, sp);
    std::vector<std::string> names;
    if (sp) {
        for (const auto& s: sp->synapses)
            if (w0.contains(s.name))
                names.push_back(s.name);
    } else {
        names = rec.groups();
    }
    const auto has = [&](const std::string& n) { return w0.contains(n); };
    const auto layered = [&](const std::string& prefix) {
        std::vector<std::pair<int, std::string>> out;
        for (const auto& n: names)
            if (const int l = layer_of(n, prefix); l >= 0)
                out.emplace_back(l, n);
        std::sort(out.begin(), out.end());
        return out;
    };

    // Gram matrices: the requested groups, or every W{l} and Vbar{l}.
    std::vector<std::string> gram_names = opt.gram_groups;
    if (gram_names.empty()) {
        for (const auto& [l, n]: layered("W"))
            gram_names.push_back(n);
        for (const auto& [l, n]: layered("Vbar"))
            gram_names.push_back(n);
    }
    for (const auto& n: gram_names)
        if (!has(n))
            throw input_error(rec.file() + ": no group '" + n + "' for a Gram matrix (groups: " + join(names, ", ") +
                              ")");

    // Alignment pairs whose shapes fit.
    std::vector<alignment_pair> pairs;
    const auto fits_transposed = [&](const std::string& a, const std::string& b) {
        return has(a) && has(b) && w0.at(a).rows() == w0.at(b).cols() && w0.at(a).cols() == w0.at(b).rows();
    };
    for (const auto& [l, w]: layered("W")) {
        const std::string ls = std::to_string(l);
        if (fits_transposed("Wbar" + ls, w))
            pairs.push_back({"Wbar" + ls + "_W" + ls,
                             "angle [deg] between Wbar" + ls + " and (W" + ls +
                                 ")^T, flattened: self-assembly of the feedback weights (exact target of KP)",
                             "Wbar" + ls,
                             w,
                             "",
                             "",
                             {}});
    }
    for (const auto& [l, v]: layered("V")) {
        const std::string prev = "Vbar" + std::to_string(l - 1);
        if (fits_transposed(prev, v))
            pairs.push_back({prev + "_" + v,
                             "angle [deg] between " + prev + " and (" + v +
                                 ")^T, flattened: Lemma 1 (the mismatch contracts by (1 - eta gamma) per step)",
                             prev,
                             v,
                             "",
                             "",
                             {}});
    }
    for (const auto& [l, v]: layered("V")) {
        const std::string ls = std::to_string(l), w = "W" + ls, wb = "Wbar" + ls, vb = "Vbar" + ls;
        if (!has(w) || !has(wb) || !has(vb))
            continue;
        const auto &V = w0.at(v), &W = w0.at(w), &Wb = w0.at(wb), &Vb = w0.at(vb);
        if (V.cols() == W.cols() && Wb.cols() == Vb.cols() && V.rows() == Wb.rows() && W.rows() == Vb.rows())
            pairs.push_back({"VW" + ls + "_WbarVbar" + ls,
                             "angle [deg] between V" + ls + " (W" + ls + ")^T and Wbar" + ls + " (Vbar" + ls +
                                 ")^T: the stationarity condition of the proof of Theorem 1 (eq. 27, without the "
                                 "data-dependent D_u, D_d), self-assembly when V and Vbar learn",
                             v,
                             w,
                             wb,
                             vb,
                             {}});
    }

    // Theorem 1 on the probe batch.
    std::string theorem1_note;
    std::optional<theorem1_setup> t1;
    if (!opt.theorem1)
        theorem1_note = "not requested";
    else if (!sp)
        theorem1_note = "the stored circuit does not parse: " + circuit_note;
    else
        t1 = prepare_theorem1(opt, rec, *sp, lib, theorem1_note);
    std::map<std::string, theorem1_series> t1_series;
    std::vector<double> probe_loss;

    std::map<std::string, std::vector<double>> eff_rank, norms;
    std::map<std::string, h_series> hs;
    std::map<std::string, gram_result> grams;
    const auto vbars = layered("Vbar");

    for (std::size_t k = 0; k < K; ++k) {
        const auto w = k == 0 ? w0 : weights_at(rec, k, sp);
        for (const auto& g: rec.groups()) {
            eff_rank[g].push_back(effective_rank(w.at(g)));
            norms[g].push_back(w.at(g).norm());
        }
        for (auto& p: pairs) {
            if (p.c.empty())
                p.deg.push_back(alignment_angle_deg(w.at(p.a), w.at(p.b).transpose()));
            else
                p.deg.push_back(
                    alignment_angle_deg(w.at(p.a) * w.at(p.b).transpose(), w.at(p.c) * w.at(p.d).transpose()));
        }
        for (const auto& [l, vb]: vbars) {
            const Eigen::MatrixXd& v = w.at(vb);
            const Eigen::VectorXd ev = eigenvalues_descending(v * v.transpose());
            auto& h = hs[vb];
            h.n = ev.size();
            const double top = std::max(std::abs(ev(0)), std::numeric_limits<double>::min());
            const double tol = double(ev.size()) * std::numeric_limits<double>::epsilon() * top;
            h.min_eigenvalue.push_back(ev(ev.size() - 1));
            h.positive_definite.push_back(ev(ev.size() - 1) > tol ? 1 : 0);
            h.spectrum.insert(h.spectrum.end(), ev.data(), ev.data() + ev.size());
        }
        if (k == 0 || k + 1 == K)
            for (const auto& g: gram_names) {
                const Eigen::MatrixXd gram = w.at(g) * w.at(g).transpose();
                auto& r = grams[g];
                const Eigen::VectorXd spectrum = eigenvalues_descending(gram).cwiseAbs();
                if (k == 0) // a single snapshot is both the first and the last
                    r.first = gram, r.spectrum_first = spectrum;
                if (k + 1 == K)
                    r.last = gram, r.spectrum_last = spectrum;
            }
        if (t1) {
            auto& net = *t1->net;
            for (const auto& [gi, name]: t1->stored)
                net.groups()[gi].w = w.at(name).cast<float>();
            net.input() = t1->probe.x;
            const auto r = update_and_gradient(net, t1->chain, t1->probe.labels.data());
            probe_loss.push_back(r.loss);
            for (const auto& layer: r.layers) {
                auto& s = t1_series[layer.name];
                s.learns = layer.learns;
                s.has_h = layer.h.size() > 0;
                s.to_gradient.push_back(alignment_angle_deg(layer.update, layer.gradient));
                if (s.has_h)
                    s.to_h_gradient.push_back(alignment_angle_deg(layer.update, layer.h * layer.gradient));
            }
        }
    }

    // Write /analysis: into the recording, or into a new file with a copy of /config.
    h5::id out_file;
    hid_t target = rec.id();
    std::string target_name = rec.file();
    if (in_place) {
        const std::string analysis = root + "/analysis";
        if (h5::exists(target, analysis) && H5Ldelete(target, analysis.c_str(), H5P_DEFAULT) < 0)
            throw internal_error(rec.file() + ": HDF5 H5Ldelete '/analysis' failed (" + h5::error_text() + ")");
    } else {
        const auto parent = std::filesystem::path(opt.output).parent_path();
        std::error_code ec;
        if (!parent.empty())
            std::filesystem::create_directories(parent, ec);
        const hid_t f = H5Fcreate(opt.output.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (f < 0)
            throw input_error(opt.output + ": cannot create file (" + h5::error_text() + ")");
        out_file = h5::id(f, H5Fclose);
        target = f;
        target_name = opt.output;
        if (H5Ocopy(rec.id(), (root + "/config").c_str(), f, "config", H5P_DEFAULT, H5P_DEFAULT) < 0)
            throw internal_error(opt.output + ": HDF5 H5Ocopy '/config' failed (" + h5::error_text() + ")");
    }
    h5::id top_group(H5Gopen2(target, in_place && !root.empty() ? root.c_str() : "/", H5P_DEFAULT), H5Gclose);
    h5::writer top(top_group.get(), target_name);
    if (!in_place) {
        top.attribute(top_group.get(), "format", "counterstream-analysis");
        top.attribute(top_group.get(), "source", rec.file());
    }
    const h5::id group = top.group("analysis");
    h5::writer w(group.get(), target_name);
    w.attribute(group.get(), "description",
                "measures of the paper's theory per weight snapshot, written by counterstream analyze");
    w.attribute(group.get(), "source", rec.file());
    w.attribute(group.get(), "software_version", COUNTERSTREAM_VERSION);

    const h5::id step = w.integers("step", rec.steps(), "training step of each weight snapshot (/weights/*/step)");
    if (H5DSset_scale(step.get(), "step") < 0)
        throw internal_error(target_name + ": HDF5 H5DSset_scale failed (" + h5::error_text() + ")");
    const auto series = [&](const std::string& path, const std::vector<double>& v, const std::string& description) {
        attach_step(w.doubles(path, v, description), step.get());
    };

    for (const auto& g: rec.groups()) {
        series("effective_rank/" + g, eff_rank[g],
               "effective rank of " + g + ": exp(entropy of its normalized singular values) (Roy & Vetterli 2007)");
        series("norm/" + g, norms[g], "Frobenius norm of " + g);
    }
    for (const auto& [g, r]: grams) {
        const auto n = hsize_t(r.first.rows());
        const std::string what = g + " (" + g + ")^T";
        auto first = w.table("gram/" + g + "/first", row_major(r.first), n, n, true,
                             "Gram matrix " + what + " at the first snapshot (the paper's Figure 3)");
        w.attribute(first.get(), "step", rec.steps().front());
        auto last = w.table("gram/" + g + "/last", row_major(r.last), n, n, true,
                            "Gram matrix " + what + " at the last snapshot (the paper's Figure 3)");
        w.attribute(last.get(), "step", rec.steps().back());
        w.doubles("gram/" + g + "/spectrum_first",
                  std::vector<double>(r.spectrum_first.data(), r.spectrum_first.data() + r.spectrum_first.size()),
                  "singular values of " + what + " at the first snapshot, largest first");
        w.doubles("gram/" + g + "/spectrum_last",
                  std::vector<double>(r.spectrum_last.data(), r.spectrum_last.data() + r.spectrum_last.size()),
                  "singular values of " + what + " at the last snapshot, largest first");
    }
    for (const auto& [g, h]: hs) {
        const std::string what = "H = " + g + " (" + g + ")^T";
        series("H/" + g + "/min_eigenvalue", h.min_eigenvalue,
               "smallest eigenvalue of " + what + ", the matrix learning rate of Theorem 1");
        attach_step(w.bytes("H/" + g + "/positive_definite", h.positive_definite,
                            "1 if " + what +
                                " is positive definite (smallest eigenvalue > n eps largest, in "
                                "double), as Theorem 1 requires"),
                    step.get());
        auto spectrum = w.table("H/" + g + "/spectrum", h.spectrum, hsize_t(K), hsize_t(h.n), false,
                                "eigenvalues of " + what + " at each snapshot, largest first");
        attach_step(spectrum, step.get());
        H5DSset_label(spectrum.get(), 1, "eigenvalue");
    }
    for (const auto& p: pairs)
        series("alignment/" + p.name, p.deg, p.description);

    const h5::id t1_group = w.group("theorem1");
    w.attribute(t1_group.get(), "description",
                "Theorem 1 (eq. 9) measured on a probe batch: angles between the circuit's update of W^l, "
                "(eta / B) POST PRE^T from its own rule factors without decay, and the true gradient -dF/dW^l "
                "of the upstream network (backpropagation in double) or H^l times it");
    if (t1) {
        w.attribute(t1_group.get(), "probe", t1->probe.description);
        w.attribute(t1_group.get(), "probe_batch", std::int64_t(t1->probe.x.cols()));
        if (!opt.probe)
            w.attribute(t1_group.get(), "probe_seed", std::int64_t(opt.probe_seed));
        series("theorem1/probe_loss", probe_loss, "mean loss of the probe batch");
        for (const auto& layer: t1->chain) {
            const auto& s = t1_series[layer.name];
            if (!s.learns)
                continue;
            series("theorem1/" + layer.name + "/angle_to_gradient", s.to_gradient,
                   "angle [deg] between the circuit's update of " + layer.name + " and -dF/d" + layer.name);
            if (s.has_h) {
                const std::string vb = sp->synapses[layer.vbar].name;
                series("theorem1/" + layer.name + "/angle_to_H_gradient", s.to_h_gradient,
                       "angle [deg] between the circuit's update of " + layer.name + " and H (-dF/d" + layer.name +
                           "), H = " + vb + " (" + vb + ")^T");
            }
        }
    } else {
        w.attribute(t1_group.get(), "skipped", theorem1_note);
    }
    if (H5Fflush(target, H5F_SCOPE_GLOBAL) < 0)
        throw internal_error(target_name + ": HDF5 H5Fflush failed (" + h5::error_text() + ")");

    // Summary: first -> last of each series.
    log << "analyze " << rec.file() << " -> " << target_name << ": " << K << " snapshots (steps " << rec.steps().front()
        << ".." << rec.steps().back() << "), " << rec.groups().size() << " stored groups\n";
    const auto arrow = [](const std::vector<double>& v, auto fmt) { return fmt(v.front()) + " -> " + fmt(v.back()); };
    for (const auto& p: pairs)
        log << "  alignment " << p.name << ": " << arrow(p.deg, format_deg) << " deg\n";
    for (const auto& [g, h]: hs) {
        const auto pd = std::count(h.positive_definite.begin(), h.positive_definite.end(), 1);
        log << "  H " << g << ": min eigenvalue " << arrow(h.min_eigenvalue, format_g) << ", positive definite at "
            << pd << "/" << K << " snapshots\n";
    }
    if (t1) {
        for (const auto& layer: t1->chain) {
            const auto& s = t1_series[layer.name];
            if (!s.learns)
                continue;
            log << "  theorem1 " << layer.name << ": angle to gradient " << arrow(s.to_gradient, format_deg) << " deg";
            if (s.has_h)
                log << ", to H gradient " << arrow(s.to_h_gradient, format_deg) << " deg";
            log << '\n';
        }
    } else {
        log << "  theorem1 skipped: " << theorem1_note << '\n';
    }
    return 0;
}

// The points under /points of a sweep's or benchmark's output, in order, and
// what it is ("sweep"); no points for any other file.
std::vector<std::int64_t> sweep_points(const std::string& file, std::string& kind) {
    h5::quiet();
    h5::id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    H5Pset_file_locking(fapl.get(), false, true);
    const h5::id f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
    std::vector<std::int64_t> points;
    if (!f.valid())
        return points;
    const std::string format = h5::string_attribute(f.get(), "format");
    if ((format != "counterstream-sweep" && format != "counterstream-benchmark") || !h5::exists(f.get(), "/points"))
        return points;
    kind = format.substr(format.find('-') + 1);
    std::vector<std::string> names;
    const h5::id g(H5Gopen2(f.get(), "/points", H5P_DEFAULT), H5Gclose);
    const auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->push_back(name);
        return 0;
    };
    H5Literate(g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names);
    for (const auto& n: names) {
        std::int64_t i = 0;
        const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), i);
        if (ec == std::errc{} && end == n.data() + n.size())
            points.push_back(i);
    }
    std::sort(points.begin(), points.end());
    return points;
}

} // namespace

int analyze(const analyze_options& opt, const library& lib, std::ostream& log) {
    if (!opt.probe && opt.probe_batch < 1)
        throw input_error("analyze: probe batch must be at least 1 (got " + std::to_string(opt.probe_batch) + ")");
    std::string kind;
    const std::vector<std::int64_t> points = sweep_points(opt.input, kind);
    if (points.empty()) {
        if (opt.point >= 0)
            throw input_error(opt.input + ": --point names a point of a sweep's or benchmark's output, and this is "
                                          "not one");
        return analyze_recording(opt, lib, log, "");
    }
    const std::string range = "points " + std::to_string(points.front()) + " to " + std::to_string(points.back());
    if (opt.point >= 0) {
        if (!std::binary_search(points.begin(), points.end(), std::int64_t(opt.point)))
            throw input_error(opt.input + ": no point " + std::to_string(opt.point) + " (" + range + ")");
        return analyze_recording(opt, lib, log, "/points/" + std::to_string(opt.point));
    }
    if (!opt.output.empty() && !same_file(opt.output, opt.input))
        throw input_error(opt.input + ": a " + kind + " of " + std::to_string(points.size()) +
                          " points: name the one to write to " + opt.output + " with --point I (" + range +
                          "), or leave out -o to analyze every point in place");
    for (const auto i: points)
        analyze_recording(opt, lib, log, "/points/" + std::to_string(i));
    return 0;
}

} // namespace counterstream::analysis
