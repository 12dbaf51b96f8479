// counterstream._core: the engine and the commands for Python (pybind11).
// The package python/counterstream/ wraps it: documents as paths, YAML
// strings or dicts, recordings opened as pandas/xarray objects. Nothing here
// reimplements the engine: run/resume/expand are protocols/commands.hpp,
// sweep/benchmark/analyze the command line's own calls, and Simulation a
// network (sim/network.hpp) built as the trainers build it.
#include "analysis/analyze.hpp"
#include "models/library.hpp"
#include "protocols/benchmark.hpp"
#include "protocols/commands.hpp"
#include "protocols/datasets/dataset.hpp"
#include "protocols/run_document.hpp"
#include "protocols/run_support.hpp"
#include "protocols/sweep.hpp"
#include "sim/error.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/stack.hpp"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <ostream>
#include <streambuf>

namespace py = pybind11;
namespace cs = counterstream;

namespace {

// Lines written by the engine go to Python's sys.stdout (a notebook's cell
// output), each flushed as it ends; the GIL is taken only to write.
class python_stdout_buf : public std::streambuf {
public:
    ~python_stdout_buf() override { flush_line(); }

protected:
    int_type overflow(int_type c) override {
        if (c == traits_type::eof())
            return 0;
        line_ += char(c);
        if (c == '\n')
            flush_line();
        return c;
    }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        for (std::streamsize i = 0; i < n; ++i)
            overflow(traits_type::to_int_type(s[i]));
        return n;
    }
    int sync() override {
        flush_line();
        return 0;
    }

private:
    void flush_line() {
        if (line_.empty())
            return;
        py::gil_scoped_acquire gil;
        auto out = py::module_::import("sys").attr("stdout");
        out.attr("write")(line_);
        out.attr("flush")();
        line_.clear();
    }
    std::string line_;
};

struct python_stdout {
    python_stdout_buf buf;
    std::ostream os{&buf};
};

const cs::library& lib() {
    static const cs::library l = cs::models::standard_library();
    return l;
}

// A document given as text (YAML or JSON) rather than a file.
YAML::Node parse_text(const std::string& label, const std::string& text) {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw cs::input_error(label + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                              ": YAML syntax error: " + e.msg);
    }
}

std::optional<YAML::Node> root_of(const std::string& file, const std::optional<std::string>& text) {
    if (!text)
        return std::nullopt;
    return parse_text(file, *text);
}

py::dict epoch_dict(const cs::epoch_summary& e) {
    py::dict d;
    d["epoch"] = e.epoch;
    d["step"] = e.step;
    d["train_loss"] = e.train_loss;
    d["train_accuracy"] = e.train_accuracy;
    d["test_loss"] = e.test_loss;
    d["test_accuracy"] = e.test_accuracy;
    d["validation_loss"] = e.validation_loss;
    d["validation_accuracy"] = e.validation_accuracy;
    d["samples_per_second"] = e.samples_per_second;
    return d;
}

py::dict outcome_dict(const cs::run_outcome& o) {
    py::dict d;
    d["exit_code"] = o.exit_code;
    d["output"] = o.output;
    d["diverged"] = o.result.diverged;
    d["interrupted"] = o.result.interrupted;
    d["stop_signal"] = o.result.stop_signal;
    d["steps"] = o.result.steps;
    d["diverged_at"] = o.result.diverged_at;
    py::list epochs;
    for (const auto& e: o.result.epochs)
        epochs.append(epoch_dict(e));
    d["epochs"] = epochs;
    return d;
}

// The progress callback, called on the training thread with the GIL taken;
// an exception it raises stops the run as SIGINT does (a checkpoint is
// written) and is raised again when the run returns.
struct progress_hook {
    py::object callback;
    std::exception_ptr error;

    std::function<void(const cs::progress_update&)> function() {
        if (callback.is_none())
            return {};
        return [this](const cs::progress_update& u) {
            if (error)
                return;
            py::gil_scoped_acquire gil;
            try {
                py::dict d;
                d["epoch"] = u.epoch;
                d["epochs"] = u.epochs;
                d["done"] = u.done;
                d["total"] = u.total;
                d["finished"] = u.finished ? py::object(epoch_dict(*u.finished)) : py::object(py::none());
                callback(d);
            } catch (py::error_already_set&) {
                error = std::current_exception();
                cs::stop_requested = true;
            }
        };
    }
    void rethrow() const {
        if (error)
            std::rethrow_exception(error);
    }
};

py::dict run(const std::string& file, const std::optional<std::string>& text, const std::vector<std::string>& sets,
             const std::string& output, int threads, bool overwrite, bool progress_bar, py::object callback) {
    cs::run_request req;
    req.file = file;
    req.root = root_of(file, text);
    req.sets = sets;
    req.output = output;
    req.command_line = "python: counterstream.run(" + file + ")";
    req.threads = threads;
    req.overwrite = overwrite;
    req.progress = progress_bar;
    progress_hook hook{std::move(callback), nullptr};
    req.on_progress = hook.function();
    cs::run_outcome o;
    {
        python_stdout out;
        py::gil_scoped_release release;
        o = cs::run_command(req, lib(), out.os);
    }
    hook.rethrow();
    return outcome_dict(o);
}

py::dict resume(const std::string& file, int threads, py::object callback) {
    progress_hook hook{std::move(callback), nullptr};
    cs::run_outcome o;
    {
        python_stdout out;
        py::gil_scoped_release release;
        o = cs::resume_command(file, "python: counterstream.resume(" + file + ")", threads, lib(), out.os,
                               hook.function());
    }
    hook.rethrow();
    return outcome_dict(o);
}

int sweep_or_benchmark(bool benchmark, const std::string& file, const std::vector<std::string>& sets,
                       const std::string& output, int threads, int ensemble, bool overwrite) {
    cs::sweep_options opt;
    opt.file = file;
    opt.sets = sets;
    opt.output = output;
    opt.threads = threads;
    opt.ensemble = ensemble;
    opt.overwrite = overwrite;
    opt.command_line = std::string("python: counterstream.") + (benchmark ? "benchmark(" : "sweep(") + file + ")";
    cs::check_not_input(output, file);
    python_stdout out;
    py::gil_scoped_release release;
    return benchmark ? cs::benchmark(opt, lib(), out.os) : cs::sweep(opt, lib(), out.os);
}

int analyze(const std::string& input, const std::string& output, int point, bool theorem1, int probe_batch) {
    cs::analysis::analyze_options opt;
    opt.input = input;
    opt.output = output;
    opt.point = point;
    opt.theorem1 = theorem1;
    opt.probe_batch = probe_batch;
    cs::check_not_input(output, input);
    python_stdout out;
    py::gil_scoped_release release;
    return cs::analysis::analyze(opt, lib(), out.os);
}

// A numpy view of an engine buffer [rows x cols], column-major: shape
// (cols, rows) row-major for rates and currents (sample x neuron), shape
// (rows, cols) in Fortran order for weights (post x pre). `owner` keeps the
// Simulation alive while the view is.
py::array_t<float> view_of(float* data, Eigen::Index rows, Eigen::Index cols, bool samples_first, py::handle owner) {
    const auto f = py::ssize_t(sizeof(float));
    if (samples_first)
        return py::array_t<float>({py::ssize_t(cols), py::ssize_t(rows)}, {f * py::ssize_t(rows), f}, data, owner);
    return py::array_t<float>({py::ssize_t(rows), py::ssize_t(cols)}, {f, f * py::ssize_t(rows)}, data, owner);
}

// A circuit assembled without a protocol loop, stepped by hand.
class simulation {
public:
    simulation(const std::string& file, const std::optional<std::string>& text, const std::vector<std::string>& sets,
               int batch, std::optional<std::uint64_t> seed, int threads)
        : doc_(text ? cs::load_run(file, parse_text(file, *text), sets, lib()) : cs::load_run(file, sets, lib())) {
        const auto& p = doc_.protocol;
        continuous_ = p.mode == "continuous";
        const int b = batch > 0 ? batch : continuous_ ? p.trials : p.batch_size;
        net_ = std::make_unique<cs::network>(doc_.circuit, lib(), seed.value_or(p.seed), b,
                                             continuous_ ? cs::sim_mode::continuous : cs::sim_mode::discrete);
        if (!continuous_)
            net_->set_optimizer(p.optimizer);
        net_->set_threads(threads > 0 ? threads : 1);
        labels_.assign(std::size_t(b), 0);
        if (continuous_) {
            state_.resize(net_->state_size());
            net_->write_state(state_.data());
            net_->bind_state(state_.data());
            integrator_.emplace(*net_, p.integrator);
        }
    }

    // Discrete: forward with labels, then the plasticity step; the loss.
    py::dict step(py::array_t<float, py::array::c_style | py::array::forcecast> x,
                  py::array_t<std::int32_t, py::array::c_style | py::array::forcecast> labels) {
        require(!continuous_, "step() is discrete mode's; use advance(ms) in continuous mode");
        set_input(x, &labels);
        cs::loss_result r;
        {
            py::gil_scoped_release release;
            r = net_->forward(labels_.data());
            net_->learn();
        }
        return loss_dict(r);
    }

    // Discrete: forward only (rates, currents and the error, no plasticity).
    py::dict present(py::array_t<float, py::array::c_style | py::array::forcecast> x,
                     std::optional<py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>> labels) {
        require(!continuous_, "present() is discrete mode's; use advance(ms) in continuous mode");
        set_input(x, labels ? &*labels : nullptr);
        cs::loss_result r;
        {
            py::gil_scoped_release release;
            r = net_->forward(labels_.data());
        }
        return loss_dict(r);
    }

    // Continuous: integrates `ms` with the given input (or the last one).
    py::dict advance(double ms, std::optional<py::array_t<float, py::array::c_style | py::array::forcecast>> x,
                     std::optional<py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>> labels,
                     bool learning) {
        require(continuous_, "advance(ms) is continuous mode's; use step(x, labels) in discrete mode");
        require(ms > 0, "advance(ms): ms must be > 0");
        if (x)
            set_input(*x, labels ? &*labels : nullptr);
        {
            py::gil_scoped_release release;
            integrator_->advance(state_, t_, t_ + ms, labels_.data(), learning);
        }
        t_ += ms;
        py::dict d;
        d["time_ms"] = t_;
        return d;
    }

    double time_ms() const { return t_; }
    int batch() const { return net_->batch(); }
    std::string mode() const { return continuous_ ? "continuous" : "discrete"; }

    py::array_t<float> rates(const std::string& name, py::handle self) {
        auto& v = pop(name).rate;
        return view_of(v.data(), v.rows(), v.cols(), true, self);
    }

    py::array_t<float> currents(const std::string& name, const std::string& compartment, py::handle self) {
        auto& p = pop(name);
        const int c = compartment == "basal" ? 0 : compartment == "apical" ? 1 : compartment == "gate" ? 2 : -1;
        if (c < 0)
            throw cs::input_error("currents: compartment '" + compartment + "' is not basal, apical or gate");
        auto& v = p.current[std::size_t(c)];
        if (!v.data())
            throw cs::input_error("currents: population '" + name + "' does not compute its " + compartment +
                                  " current (no group targets it, or no rule and no rate law reads it)");
        return view_of(v.data(), v.rows(), v.cols(), true, self);
    }

    py::array_t<float> weights(const std::string& group, py::handle self) {
        auto& v = net_->grp(checked_group(group)).w;
        if (!v.data())
            throw cs::input_error("weights: group '" + group + "' is tied to another group and has none of its own");
        return view_of(v.data(), v.rows(), v.cols(), false, self);
    }

    void set_weights(const std::string& group, py::array_t<float, py::array::forcecast> w) {
        auto& v = net_->grp(checked_group(group)).w;
        if (!v.data())
            throw cs::input_error("set_weights: group '" + group +
                                  "' is tied to another group and has none of its own");
        if (w.ndim() != 2 || w.shape(0) != v.rows() || w.shape(1) != v.cols())
            throw cs::input_error("set_weights: group '" + group + "' is " + std::to_string(v.rows()) + " x " +
                                  std::to_string(v.cols()) + " (post x pre); got an array of shape " + shape_text(w));
        auto r = w.unchecked<2>();
        for (Eigen::Index j = 0; j < v.cols(); ++j)
            for (Eigen::Index i = 0; i < v.rows(); ++i)
                v(i, j) = r(i, j);
    }

    std::vector<std::string> populations() const {
        std::vector<std::string> out;
        for (const auto& p: net_->spec().populations)
            out.push_back(p.name);
        return out;
    }
    std::vector<std::string> groups() const {
        std::vector<std::string> out;
        for (const auto& s: net_->spec().synapses)
            out.push_back(s.name);
        return out;
    }

private:
    static void require(bool ok, const std::string& message) {
        if (!ok)
            throw cs::input_error(message);
    }
    static std::string shape_text(const py::array& a) {
        std::string s = "(";
        for (py::ssize_t i = 0; i < a.ndim(); ++i)
            s += (i ? ", " : "") + std::to_string(a.shape(i));
        return s + ")";
    }
    cs::network::population& pop(const std::string& name) {
        return net_->populations()[std::size_t(net_->spec().population_index(checked_population(name)))];
    }
    const std::string& checked_population(const std::string& name) const {
        for (const auto& p: net_->spec().populations)
            if (p.name == name)
                return name;
        throw cs::input_error(cs::unknown_name_message("population", name, populations()));
    }
    const std::string& checked_group(const std::string& name) const {
        for (const auto& s: net_->spec().synapses)
            if (s.name == name)
                return name;
        throw cs::input_error(cs::unknown_name_message("synapse group", name, groups()));
    }

    using labels_array = py::array_t<std::int32_t, py::array::c_style | py::array::forcecast>;

    // x: (batch, inputs), C order: the engine's [inputs x batch] column-major.
    void set_input(const py::array_t<float, py::array::c_style | py::array::forcecast>& x, const labels_array* labels) {
        auto& in = net_->input();
        if (x.ndim() != 2 || x.shape(1) != in.rows())
            throw cs::input_error("the input is (batch, " + std::to_string(in.rows()) + "); got an array of shape " +
                                  shape_text(x));
        const int b = int(x.shape(0));
        if (b < 1)
            throw cs::input_error("the input needs at least one sample");
        if (b != net_->batch()) {
            if (continuous_)
                throw cs::input_error("continuous mode's batch (trials) is " + std::to_string(net_->batch()) +
                                      "; got " + std::to_string(b) + " samples");
            net_->resize_batch(b);
        }
        std::copy(x.data(), x.data() + x.size(), net_->input().data());
        labels_.assign(std::size_t(b), 0);
        if (labels)
            copy_labels(*labels, b);
    }
    void copy_labels(const labels_array& y, int b) {
        if (y.ndim() != 1 || y.shape(0) != b)
            throw cs::input_error("labels: expected " + std::to_string(b) + " of them; got an array of shape " +
                                  shape_text(y));
        const int classes = net_->populations()[std::size_t(net_->output_population())].spec->size;
        for (int j = 0; j < b; ++j) {
            if (y.data()[j] < 0 || y.data()[j] >= classes)
                throw cs::input_error("labels: " + std::to_string(y.data()[j]) + " is not in 0.." +
                                      std::to_string(classes - 1));
            labels_[std::size_t(j)] = y.data()[j];
        }
    }
    py::dict loss_dict(const cs::loss_result& r) const {
        py::dict d;
        d["loss"] = r.loss_sum / double(net_->batch());
        d["accuracy"] = double(r.correct) / double(net_->batch());
        return d;
    }

    cs::run_document doc_;
    bool continuous_ = false;
    std::unique_ptr<cs::network> net_;
    std::vector<std::int32_t> labels_;
    Eigen::VectorXf state_;
    std::optional<cs::integrator> integrator_;
    double t_ = 0;
};

// The run's dataset as the trainer loads it (normalized; inputs as
// (samples, features) float32, labels int32).
py::dict dataset(const std::string& file, const std::optional<std::string>& text,
                 const std::vector<std::string>& sets) {
    const auto doc = text ? cs::load_run(file, parse_text(file, *text), sets, lib()) : cs::load_run(file, sets, lib());
    cs::datasets::dataset data;
    {
        py::gil_scoped_release release;
        data = cs::load_matching_dataset(doc);
    }
    auto split = [](const cs::datasets::split& s) {
        py::array_t<float> x({py::ssize_t(s.size()), py::ssize_t(s.features())});
        if (s.size() > 0) {
            Eigen::Map<Eigen::MatrixXf> out(x.mutable_data(), s.features(), Eigen::Index(s.size()));
            s.copy(0, int(s.size()), out);
        }
        py::array_t<std::int32_t> y(py::ssize_t(s.size()));
        std::copy(s.y.begin(), s.y.end(), y.mutable_data());
        return py::make_tuple(x, y);
    };
    py::dict d;
    d["name"] = data.name;
    d["classes"] = data.n_classes;
    d["train"] = split(data.train);
    d["test"] = split(data.test);
    d["validation"] = split(data.validation);
    return d;
}

} // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "counterstream's engine and commands (use the counterstream package)";
    static py::exception<cs::input_error> input_error_type(m, "InputError", PyExc_ValueError);
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p)
                std::rethrow_exception(p);
        } catch (const cs::input_error& e) {
            std::string text;
            for (const auto& line: e.lines())
                text += (text.empty() ? "" : "\n") + line;
            input_error_type(text.c_str());
        }
    });
    m.attr("version") = COUNTERSTREAM_VERSION;
    m.def("run", &run, py::arg("file"), py::arg("text"), py::arg("sets"), py::arg("output"), py::arg("threads"),
          py::arg("overwrite"), py::arg("progress_bar"), py::arg("callback"));
    m.def("resume", &resume, py::arg("file"), py::arg("threads"), py::arg("callback"));
    m.def("sweep_or_benchmark", &sweep_or_benchmark, py::arg("benchmark"), py::arg("file"), py::arg("sets"),
          py::arg("output"), py::arg("threads"), py::arg("ensemble"), py::arg("overwrite"));
    m.def("analyze", &analyze, py::arg("input"), py::arg("output"), py::arg("point"), py::arg("theorem1"),
          py::arg("probe_batch"));
    m.def(
        "expand",
        [](const std::string& file, const std::optional<std::string>& text, const std::vector<std::string>& sets) {
            return cs::expand_command(file, root_of(file, text), sets, lib());
        },
        py::arg("file"), py::arg("text"), py::arg("sets"));
    m.def("dataset", &dataset, py::arg("file"), py::arg("text"), py::arg("sets"));
    py::class_<simulation>(m, "Simulation")
        .def(py::init<const std::string&, const std::optional<std::string>&, const std::vector<std::string>&, int,
                      std::optional<std::uint64_t>, int>(),
             py::arg("file"), py::arg("text"), py::arg("sets"), py::arg("batch"), py::arg("seed"), py::arg("threads"))
        .def("step", &simulation::step, py::arg("x"), py::arg("labels"))
        .def("present", &simulation::present, py::arg("x"), py::arg("labels") = py::none())
        .def("advance", &simulation::advance, py::arg("ms"), py::arg("x") = py::none(), py::arg("labels") = py::none(),
             py::arg("learning") = true)
        .def(
            "rates", [](py::object self, const std::string& n) { return self.cast<simulation&>().rates(n, self); },
            py::arg("name"))
        .def(
            "currents",
            [](py::object self, const std::string& n, const std::string& c) {
                return self.cast<simulation&>().currents(n, c, self);
            },
            py::arg("name"), py::arg("compartment"))
        .def(
            "weights", [](py::object self, const std::string& g) { return self.cast<simulation&>().weights(g, self); },
            py::arg("group"))
        .def("set_weights", &simulation::set_weights, py::arg("group"), py::arg("weights"))
        .def_property_readonly("populations", &simulation::populations)
        .def_property_readonly("groups", &simulation::groups)
        .def_property_readonly("time_ms", &simulation::time_ms)
        .def_property_readonly("batch", &simulation::batch)
        .def_property_readonly("mode", &simulation::mode);
}
