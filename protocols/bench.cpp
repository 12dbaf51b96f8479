#include "protocols/bench.hpp"

#include "protocols/run_document.hpp"
#include "protocols/run_support.hpp"
#include "sim/ensemble.hpp"
#include "sim/error.hpp"
#include "sim/integrator.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/recorder.hpp"
#include "sim/runner.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <dlfcn.h>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <sstream>
#include <csignal>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace counterstream {

namespace {

using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point t0) { return std::chrono::duration<double>(clock_type::now() - t0).count(); }

// Runs `step` repeatedly for about `seconds` in five windows after a warm-up
// and returns the median window's steps per second.
template <class Step> double steps_per_second(Step&& step, double seconds) {
    const auto warm = clock_type::now();
    while (since(warm) < std::min(0.3, seconds / 4))
        step();
    std::vector<double> rates;
    for (int w = 0; w < 5; ++w) {
        const auto t0 = clock_type::now();
        std::int64_t n = 0;
        do {
            step();
            ++n;
        } while (since(t0) < seconds / 5);
        rates.push_back(double(n) / since(t0));
    }
    std::sort(rates.begin(), rates.end());
    return rates[2];
}

void fill_uniform(matrix& m, rng& r) {
    for (Eigen::Index i = 0; i < m.size(); ++i)
        m.data()[i] = float(r.uniform());
}

// A STREAM triad, a = b + s c, over three arrays of `mib` MiB each on the
// engine's threads (each thread its own contiguous share, as the engine's
// parts are): bytes moved per second, counting 12 per element (two reads, one write).
double triad_bytes_per_second(double seconds, int threads, std::int64_t mib = 128) {
    const std::int64_t n = mib * 1024 * 1024 / 4;
    std::vector<float> a(std::size_t(n), 0.0f), b(std::size_t(n), 1.0f), c(std::size_t(n), 2.0f);
    const float s = 0.5f;
    const auto share = [&](int t) {
        const std::int64_t i0 = n * t / threads, i1 = n * (t + 1) / threads;
        float* __restrict ap = a.data();
        const float* __restrict bp = b.data();
        const float* __restrict cp = c.data();
        for (std::int64_t i = i0; i < i1; ++i)
            ap[i] = bp[i] + s * cp[i];
    };
    const auto triad = [&] {
        std::vector<std::thread> others;
        for (int t = 1; t < threads; ++t)
            others.emplace_back(share, t);
        share(0);
        for (auto& t: others)
            t.join();
    };
    const double per_s = steps_per_second(triad, seconds);
    // Read what was written, so that no store can be optimized away.
    volatile float sink = a[0] + a[std::size_t(n / 2)] + a[std::size_t(n - 1)];
    (void)sink;
    return per_s * 12.0 * double(n);
}

// A process that spins on one core until destroyed: "one busy process".
class busy_process {
public:
    busy_process() : pid_(::fork()) {
        if (pid_ == 0)
            for (;;)
                asm volatile("" ::: "memory"); // a side effect: the loop is not optimized away
        if (pid_ < 0)
            throw input_error("bench: could not start the busy process of the contention case (fork failed); "
                              "give --no-contention");
    }
    ~busy_process() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    busy_process(const busy_process&) = delete;
    busy_process& operator=(const busy_process&) = delete;

private:
    pid_t pid_;
};

// Samples per second (discrete: forward and learn on a random batch) or
// presentations per second (continuous) of FILE with SETS, on `threads`
// (0: the default, network::work_threads()), and that default.
struct timed_rate {
    double per_s = 0;
    int threads = 0;
};
timed_rate circuit_rate(const std::string& file, const std::vector<std::string>& sets, int threads, double seconds,
                        const library& lib) {
    const auto doc = load_run(file, sets, lib);
    const auto& p = doc.protocol;
    const bool continuous = p.mode == "continuous";
    const int columns = continuous ? p.trials : p.batch_size;
    network net(doc.circuit, lib, p.seed, columns, continuous ? sim_mode::continuous : sim_mode::discrete);
    if (threads > 0)
        net.set_threads(threads);
    rng r(12345);
    auto& x = net.input();
    for (Eigen::Index i = 0; i < x.size(); ++i)
        x.data()[i] = r.uniform() < 0.2 ? float(r.uniform()) : 0.0f;
    std::uint64_t classes = 2;
    for (const auto& pop: doc.circuit.populations)
        if (pop.role == population_role::error)
            classes = std::uint64_t(pop.size);
    std::vector<std::int32_t> labels(static_cast<std::size_t>(columns));
    for (auto& y: labels)
        y = std::int32_t(r.below(classes));
    timed_rate out;
    out.threads = net.threads();
    if (!continuous) {
        out.per_s = columns * steps_per_second(
                                  [&] {
                                      net.forward(labels.data());
                                      net.learn();
                                  },
                                  seconds);
        return out;
    }
    Eigen::VectorXf s(net.state_size());
    net.write_state(s.data());
    net.bind_state(s.data());
    integrator integ(net, p.integrator);
    out.per_s = steps_per_second(
        [&] {
            integ.advance(s, 0, p.learn_after_ms, labels.data(), false);
            integ.advance(s, p.learn_after_ms, p.present_ms, labels.data(), true);
        },
        seconds);
    return out;
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0; // ru_maxrss is in KiB on Linux
}

struct case_result {
    std::string name;
    double samples_per_s = 0;
    double gflops = 0;
    double peer_samples_per_s = 0; // 0: not measured
    double cuda_samples_per_s = 0; // 0: not measured
    std::string note;
};

// An MNIST-like batch into net.input() (a fifth of the pixels lit, in [0, 1))
// and labels 0-9.
void mnist_like_batch(network& net, rng& r, std::vector<std::int32_t>& labels) {
    auto& x = net.input();
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = r.uniform() < 0.2 ? float(r.uniform()) : 0.0f;
    for (auto& y: labels) y = std::int32_t(r.below(10));
}

// One discrete step (forward and learn) of the circuit at `ratio` on the
// engine's threads, or on the CUDA device (the batch copied in every step,
// as training does). record_every > 0 (device only): a weight snapshot every
// that many steps, copied asynchronously and written to an HDF5 recording
// in the temporary folder, as `counterstream run` does.
case_result discrete_case(const std::string& name, const std::string& file, double ratio, const bench_options& opt,
                          const library& lib, bool on_device = false, int record_every = 0) {
    std::ostringstream r;
    r << "circuit.feedback_ratio=" << ratio;
    const auto doc = load_run(file, {r.str(), "protocol.batch_size=" + std::to_string(opt.batch)}, lib);
    const int B = opt.batch;
    network net(doc.circuit, lib, doc.protocol.seed, B);
    rng data_rng(12345);
    std::vector<std::int32_t> labels(B);
    mnist_like_batch(net, data_rng, labels);
    loss_result last;
    std::unique_ptr<runner> gpu;
    if (on_device) gpu = make_runner("cuda", {&net});
    const auto file_name = std::filesystem::temp_directory_path() /
                           ("counterstream-bench-" + std::to_string(::getpid()) + ".h5");
    std::unique_ptr<recorder> rec;
    if (gpu && record_every > 0)
        rec = std::make_unique<recorder>(file_name, run_info{"bench", 1, emit_circuit(doc.circuit), emit_protocol(doc.protocol)},
                                         std::chrono::seconds(10));
    std::int64_t step = 0, pending = -1;
    const auto write_pending = [&] {
        for (std::size_t g = 0; pending >= 0 && g < net.groups().size(); ++g) {
            const auto& grp = net.groups()[g];
            if (grp.plan->tied_to < 0)
                rec->snapshot(grp.spec->name,
                              Eigen::Map<const matrix>(gpu->snapshot_of(int(g), 0), grp.w.rows(), grp.w.cols()), pending);
        }
        pending = -1;
    };
    const double sps = steps_per_second(
        [&] {
            if (gpu) {
                last = gpu->forward(labels.data()).front();
                gpu->learn();
                if (!rec) return;
                write_pending(); // while the device learns
                if (++step % record_every == 0) {
                    gpu->begin_snapshot();
                    pending = step;
                }
            } else {
                last = net.forward(labels.data());
                net.learn();
            }
        },
        opt.seconds);
    if (rec) {
        write_pending();
        rec.reset();
        std::filesystem::remove(file_name);
    }
    case_result out;
    out.name = name;
    out.samples_per_s = sps * B;
    out.gflops = sps * double(net.step_flops()) * 1e-9;
    if (!std::isfinite(last.loss_sum))
        out.note = "loss not finite";
    return out;
}

// K instances of a discrete circuit (seeds 1..K) on the CUDA device: one
// ensemble stepping them in lockstep on one batch, as training does, against
// K single device runs stepped one after another, as steps per second of all K.
struct cuda_ensemble_result {
    int instances = 0;
    double ensemble_steps_per_s = 0, singles_steps_per_s = 0;
};

cuda_ensemble_result cuda_ensemble_case(const std::string& file, const bench_options& opt, const library& lib) {
    const auto doc = load_run(file, {"protocol.batch_size=" + std::to_string(opt.batch)}, lib);
    const int K = opt.ensemble, B = opt.batch;
    std::vector<std::unique_ptr<network>> nets;
    std::vector<network*> hosts;
    rng data_rng(12345);
    std::vector<std::vector<std::int32_t>> labels(static_cast<std::size_t>(K), std::vector<std::int32_t>(static_cast<std::size_t>(B)));
    for (int k = 0; k < K; ++k) {
        nets.push_back(std::make_unique<network>(doc.circuit, lib, std::uint64_t(k + 1), B));
        hosts.push_back(nets.back().get());
        mnist_like_batch(*nets.back(), data_rng, labels[k]);
    }
    cuda_ensemble_result out;
    out.instances = K;
    {
        const auto ensemble = make_runner("cuda", hosts);
        out.ensemble_steps_per_s = steps_per_second(
            [&] {
                ensemble->forward(labels[0].data());
                ensemble->learn();
            },
            opt.seconds);
    }
    std::vector<std::unique_ptr<runner>> singles;
    for (auto* h: hosts) singles.push_back(make_runner("cuda", {h}));
    out.singles_steps_per_s = steps_per_second(
        [&] {
            for (int k = 0; k < K; ++k) {
                singles[k]->forward(labels[k].data());
                singles[k]->learn();
            }
        },
        opt.seconds);
    return out;
}

// Presentations of sal_continuous.yaml: rates and plasticity integrated
// together, as `counterstream run` does (without recording).
struct continuous_result {
    double presentations_per_s = 0, synapse_updates_per_s = 0, gflops = 0;
    double bytes_per_s = 0; // by the traffic model in continuous_case; 0 for adaptive steppers
    double cuda_presentations_per_s = 0; // 0: not measured
    int trials = 0;
    std::string method;
};

continuous_result continuous_case(const std::string& file, const bench_options& opt, const library& lib) {
    const auto doc = load_run(file, {}, lib);
    const auto& p = doc.protocol;
    network net(doc.circuit, lib, p.seed, p.trials, sim_mode::continuous);
    rng data_rng(12345);
    auto& in = net.input();
    for (Eigen::Index i = 0; i < in.size(); ++i)
        in.data()[i] = data_rng.uniform() < 0.2 ? float(data_rng.uniform()) : 0.0f;
    std::vector<std::int32_t> labels(p.trials);
    for (auto& y: labels) y = std::int32_t(data_rng.below(10));
    Eigen::VectorXf x(net.state_size());
    net.write_state(x.data());
    net.bind_state(x.data());
    integrator integ(net, p.integrator);
    const auto present = [&] {
        integ.advance(x, 0, p.learn_after_ms, labels.data(), false);
        integ.advance(x, p.learn_after_ms, p.present_ms, labels.data(), true);
    };
    const double per_s = steps_per_second(present, opt.seconds);
    double cuda_per_s = 0;
    if (opt.backend == "cuda") { // the same presentations on the device
        ensemble instance({{doc.circuit, p.seed}}, lib, p.trials, p.integrator);
        instance.net(0).input() = net.input();
        const auto gpu = make_runner("cuda", instance);
        std::vector<segment> segments;
        if (p.learn_after_ms > 0)
            segments.push_back({0, p.learn_after_ms, false, {}, false});
        segments.push_back({std::max(0.0, p.learn_after_ms), p.present_ms, true, {}, false});
        cuda_per_s = steps_per_second(
            [&] { gpu->present(segments, p.present_ms, labels.data(), {1}, [](int) {}); }, opt.seconds);
    }
    // Every presentation takes the same steps and derivative calls (fixed
    // dt): count them in each of its two segments.
    struct counts {
        double steps = 0, calls = 0;
    };
    const auto segment = [&](double t0, double t1, bool learning) {
        const auto steps0 = integ.steps(), calls0 = integ.derivative_calls();
        integ.advance(x, t0, t1, labels.data(), learning);
        return counts{double(integ.steps() - steps0), double(integ.derivative_calls() - calls0)};
    };
    const counts settling = segment(0, p.learn_after_ms, false), learning = segment(p.learn_after_ms, p.present_ms, true);
    std::int64_t plastic = 0;
    for (const auto& g: net.groups())
        if (g.plan->learns)
            plastic += g.w.size();
    continuous_result r;
    r.presentations_per_s = per_s;
    r.cuda_presentations_per_s = cuda_per_s;
    r.synapse_updates_per_s = per_s * learning.steps * double(plastic);
    // Forward products on every call; plasticity products while learning.
    r.gflops = per_s *
               (settling.calls * double(net.forward_flops()) + learning.calls * double(net.step_flops())) * 1e-9;
    // Memory traffic, a lower-bound model in passes over what is stepped:
    // odeint's explicit_generic_rk forms stage s as one fused sum of s + 1
    // vectors into a (s + 2)th (euler 3 passes, rk4 3 + 4 + 5 + 6 = 18). While
    // plasticity is off only the rates are stepped and each derivative call
    // reads the weights once (the forward products); while learning the
    // whole state is stepped and each call also writes -c S into dS/dt (2
    // passes) and adds the update to it (2): 5 passes over the weights.
    const double stage_passes = p.integrator.method == "euler" ? 3 : p.integrator.method == "rk4" ? 18 : 0;
    const double rates = double(net.rate_state_size()), weights = double(net.state_size()) - rates;
    if (stage_passes > 0)
        r.bytes_per_s = per_s * sizeof(float) *
                        (settling.steps * stage_passes * rates + settling.calls * weights +
                         learning.steps * stage_passes * (rates + weights) + learning.calls * 5 * weights);
    r.trials = p.trials;
    r.method = p.integrator.method;
    return r;
}

// K instances of a small continuous SAL circuit (different tau_W and seeds):
// K single runs one after another, each with the engine's threads, against
// one ensemble spreading the instances over the cores. Instance-presentations
// per second for both.
struct ensemble_result {
    int instances = 0;
    double single_per_s = 0, ensemble_per_s = 0;
};

ensemble_result ensemble_case(const std::string& file, const bench_options& opt, const library& lib) {
    const int K = opt.ensemble;
    const int trials = 8, presentations = 4;
    std::vector<ensemble::instance> instances;
    for (int k = 0; k < K; ++k) {
        const auto doc = load_run(file,
                                  {"circuit.sizes=[784, 100, 10]", "protocol.trials=8",
                                   "protocol.record.populations=[e]",
                                   "circuit.synapses.W{l}.rule.tau=" + format_number(100.0 * (1 + k % 8))},
                                  lib);
        instances.push_back({doc.circuit, std::uint64_t(1 + k / 8)});
    }
    const auto doc = load_run(file, {}, lib);
    const auto& p = doc.protocol;
    rng data_rng(12345);
    matrix x(784, trials);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = data_rng.uniform() < 0.2 ? float(data_rng.uniform()) : 0.0f;
    std::vector<std::int32_t> labels(trials);
    for (auto& y: labels) y = std::int32_t(data_rng.below(10));

    const auto t0 = clock_type::now();
    for (const auto& in: instances) {
        network net(in.circuit, lib, in.seed, trials, sim_mode::continuous);
        Eigen::VectorXf s(net.state_size());
        net.write_state(s.data());
        integrator integ(net, p.integrator);
        net.input() = x;
        for (int k = 0; k < presentations; ++k) {
            integ.advance(s, 0, p.learn_after_ms, labels.data(), false);
            integ.advance(s, p.learn_after_ms, p.present_ms, labels.data(), true);
        }
    }
    const double single = since(t0);
    const auto t1 = clock_type::now();
    ensemble e(instances, lib, trials, p.integrator);
    e.set_input(x);
    for (int k = 0; k < presentations; ++k) e.present(p.present_ms, p.learn_after_ms, labels.data());
    const double together = since(t1);
    ensemble_result r;
    r.instances = K;
    r.single_per_s = double(K * presentations) / single;
    r.ensemble_per_s = double(K * presentations) / together;
    return r;
}

// One JSON line from the peer; returns its samples_per_s or 0 with a note.
double run_peer(const bench_options& opt, const std::string& circuit, double ratio, std::string& note) {
    const char* py = std::getenv("COUNTERSTREAM_PYTHON");
    std::ostringstream cmd;
    cmd << (py ? py : "/usr/bin/python3") << " '" << opt.peer_script << "' --circuit " << circuit << " --ratio "
        << ratio << " --batch " << opt.batch << " --seconds " << opt.seconds;
    FILE* p = popen(cmd.str().c_str(), "r");
    if (!p) {
        note = "could not start the peer";
        return 0;
    }
    std::string text;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p))
        text += buf;
    const int rc = pclose(p);
    const auto key = text.find("\"samples_per_s\":");
    if (rc != 0 || key == std::string::npos) {
        note = "peer failed (exit " + std::to_string(WEXITSTATUS(rc)) + ")";
        return 0;
    }
    return std::strtod(text.c_str() + key + 16, nullptr);
}

} // namespace

double eigen_sgemm_gflops(int n, double seconds) {
    rng r(7);
    matrix a(n, n), b(n, n), c(n, n);
    fill_uniform(a, r);
    fill_uniform(b, r);
    const double per_second = steps_per_second([&] { c.noalias() = a * b; }, seconds);
    return per_second * 2.0 * double(n) * n * n * 1e-9;
}

double openblas_sgemm_gflops(int n, double seconds) {
    // cblas_sgemm(order, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    using sgemm_fn =
        void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
    void* lib = nullptr;
    for (const char* name: {"libopenblas.so.0", "libopenblas.so"})
        if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
            break;
    if (!lib)
        return 0;
    auto sgemm = reinterpret_cast<sgemm_fn>(dlsym(lib, "cblas_sgemm"));
    if (!sgemm)
        return 0;
    if (auto set_threads = reinterpret_cast<void (*)(int)>(dlsym(lib, "openblas_set_num_threads")))
        set_threads(Eigen::nbThreads());
    rng r(7);
    matrix a(n, n), b(n, n), c(n, n);
    fill_uniform(a, r);
    fill_uniform(b, r);
    constexpr int col_major = 102, no_trans = 111;
    const double per_second = steps_per_second(
        [&] { sgemm(col_major, no_trans, no_trans, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n); },
        seconds);
    return per_second * 2.0 * double(n) * n * n * 1e-9;
}

int bench(const bench_options& opt, const library& lib, std::ostream& out) {
    namespace fs = std::filesystem;
    for (const char* f: {"sal.yaml", "sgd.yaml", "sal_continuous.yaml"})
        if (!fs::exists(fs::path(opt.circuits_dir) / f))
            throw input_error("bench: " + (fs::path(opt.circuits_dir) / f).string() +
                              " not found (give --circuits DIR, the repository's models/circuits)");
    const bool cuda = opt.backend == "cuda";
    if (std::string why; cuda && !backend_usable("cuda", &why)) throw input_error("bench --backend cuda: " + why);
    if (opt.peer && !fs::exists(opt.peer_script))
        throw input_error("bench: peer script " + opt.peer_script + " not found (give --peer-script)");

    out << "counterstream bench: " << std::thread::hardware_concurrency() << " cores, Eigen on " << Eigen::nbThreads()
        << " threads, batch " << opt.batch << ", " << opt.seconds << " s per case\n";
    if (cuda) out << "CUDA device: " << backend_description("cuda") << '\n';
    out << std::flush;
    const fs::path dir(opt.circuits_dir);
    struct spec {
        std::string name, circuit;
        double ratio;
    };
    const std::vector<spec> cases = {{"sal  ratio 1", "sal", 1}, {"sal  ratio 5", "sal", 5}, {"sgd", "sgd", 1}};
    std::vector<case_result> rows;
    for (const auto& c: cases) {
        rows.push_back(discrete_case(c.name, (dir / (c.circuit + ".yaml")).string(), c.ratio, opt, lib));
        if (opt.peer)
            rows.back().peer_samples_per_s = run_peer(opt, c.circuit, c.ratio, rows.back().note);
        if (cuda)
            rows.back().cuda_samples_per_s =
                discrete_case(c.name, (dir / (c.circuit + ".yaml")).string(), c.ratio, opt, lib, true).samples_per_s;
    }
    cuda_ensemble_result ce;
    if (cuda && opt.ensemble > 0) ce = cuda_ensemble_case((dir / "sal.yaml").string(), opt, lib);
    // Recording from the device: a snapshot every 50 steps (a run's default is one per epoch, 235 steps at batch 256).
    constexpr int record_every = 50;
    const double recorded_sps =
        cuda ? discrete_case("sal", (dir / "sal.yaml").string(), 1, opt, lib, true, record_every).samples_per_s : 0;
    const auto c = continuous_case((dir / "sal_continuous.yaml").string(), opt, lib);
    ensemble_result e;
    if (opt.ensemble > 0)
        e = ensemble_case((dir / "sal_continuous.yaml").string(), opt, lib);
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    // The same steps beside a busy process, alternated with the quiet ones.
    struct contention_row {
        std::string name, file;
        std::vector<std::string> sets;
        double quiet = 0, busy = 0, quiet_one = 0, busy_one = 0; // default threads; --threads 1 (small circuits)
        int threads = 0;
        bool small = false;
    };
    std::vector<contention_row> contention;
    if (opt.contention) {
        const std::vector<std::string> teacher = {"protocol.dataset.name=teacher", "circuit.sizes=[20, 64, 64, 64, 4]"};
        std::vector<std::string> teacher_continuous = teacher;
        teacher_continuous.push_back("protocol.trials=8");
        contention = {{"sal ratio 1 (paper's MLP)", (dir / "sal.yaml").string(), {"protocol.batch_size=" + std::to_string(opt.batch)}},
                      {"sgd (paper's MLP)", (dir / "sgd.yaml").string(), {"protocol.batch_size=" + std::to_string(opt.batch)}},
                      {"sal 20-64-64-64-4 discrete", (dir / "sal.yaml").string(), teacher},
                      {"sal 20-64-64-64-4 continuous", (dir / "sal_continuous.yaml").string(), teacher_continuous}};
        for (auto& c: contention)
            c.small = c.name.find("20-64") != std::string::npos;
        for (int round = 0; round < 2; ++round)
            for (int busy = 0; busy < 2; ++busy) {
                std::unique_ptr<busy_process> spinner;
                if (busy)
                    spinner = std::make_unique<busy_process>();
                for (auto& c: contention) {
                    const auto d = circuit_rate(c.file, c.sets, 0, opt.seconds / 2, lib);
                    c.threads = d.threads;
                    (busy ? c.busy : c.quiet) += d.per_s / 2;
                    if (c.small)
                        (busy ? c.busy_one : c.quiet_one) += circuit_rate(c.file, c.sets, 1, opt.seconds / 2, lib).per_s / 2;
                }
            }
    }
    // The peak last: a threaded OpenBLAS call leaves its workers spinning for
    // a while, which would slow whatever runs next on these two cores.
    const double eigen_peak = eigen_sgemm_gflops(opt.gemm_size, opt.seconds);
    const double blas_peak = openblas_sgemm_gflops(opt.gemm_size, opt.seconds);
    const double peak = std::max(eigen_peak, blas_peak);
    // The triad's arrays (384 MiB) would dwarf the engine's own peak RSS.
    const double rss_mb = peak_rss_mb();
    const double triad = triad_bytes_per_second(opt.seconds, cores);
    out << std::fixed << std::setprecision(1) << "SGEMM " << opt.gemm_size << "^3 on " << Eigen::nbThreads()
        << " threads: Eigen " << eigen_peak << " GFLOP/s, OpenBLAS ";
    if (blas_peak > 0)
        out << blas_peak << " GFLOP/s";
    else
        out << "not installed";
    out << "; peak " << peak << " GFLOP/s\n\n";

    out << std::left << std::setw(14) << "step" << std::right << std::setw(12) << "samples/s" << std::setw(10)
        << "GFLOP/s" << std::setw(8) << "%peak";
    if (opt.peer)
        out << std::setw(14) << "torch samp/s" << std::setw(8) << "ratio";
    if (cuda)
        out << std::setw(14) << "cuda samp/s" << std::setw(10) << "cuda/cpu";
    out << '\n';
    for (const auto& r: rows) {
        out << std::left << std::setw(14) << r.name << std::right << std::setprecision(0) << std::setw(12)
            << r.samples_per_s << std::setprecision(1) << std::setw(10) << r.gflops << std::setw(7)
            << 100 * r.gflops / peak << '%';
        if (opt.peer) {
            if (r.peer_samples_per_s > 0)
                out << std::setprecision(0) << std::setw(14) << r.peer_samples_per_s << std::setprecision(2)
                    << std::setw(7) << r.samples_per_s / r.peer_samples_per_s << 'x';
            else
                out << std::setw(14) << "-" << std::setw(8) << "-";
        }
        if (cuda)
            out << std::setprecision(0) << std::setw(14) << r.cuda_samples_per_s << std::setprecision(2)
                << std::setw(9) << r.cuda_samples_per_s / r.samples_per_s << 'x';
        if (!r.note.empty())
            out << "  (" << r.note << ")";
        out << '\n';
    }
    out << "\ncontinuous  sal_continuous.yaml (" << c.method << ", " << c.trials << " trials): " << std::setprecision(1)
        << c.presentations_per_s << " presentations/s, " << std::setprecision(2) << c.synapse_updates_per_s * 1e-9
        << " G synapse updates/s, " << std::setprecision(1) << c.gflops << " GFLOP/s, " << 100 * c.gflops / peak
        << "% of peak";
    if (c.bytes_per_s > 0)
        out << ", " << std::setprecision(1) << c.bytes_per_s * 1e-9 << " GB/s moved (" << std::setprecision(0)
            << 100 * c.bytes_per_s / triad << "% of the triad)";
    out << '\n';
    out << "memory      STREAM triad a = b + s c, 3 x 128 MiB on " << cores << " threads: " << std::setprecision(1)
        << triad * 1e-9 << " GB/s\n";
    if (opt.ensemble > 0)
        out << "ensemble    " << e.instances << " x sal_continuous.yaml at 784-100-10, 8 trials: " << e.instances
            << " single runs " << std::setprecision(1) << e.single_per_s << " presentations/s, one ensemble "
            << e.ensemble_per_s << " presentations/s: " << std::setprecision(2)
            << e.ensemble_per_s / e.single_per_s << "x\n";
    if (cuda && opt.ensemble > 0) {
        // An MNIST epoch is 60000 / batch steps; the CPU runs the K runs one after another on all its cores.
        const double steps = std::ceil(60000.0 / opt.batch);
        const double ensemble_s = steps / ce.ensemble_steps_per_s, singles_s = steps / ce.singles_steps_per_s;
        const double cpu_s = ce.instances * 60000.0 / rows.front().samples_per_s;
        out << "cuda ensemble  " << ce.instances << " x sal.yaml (paper's MLP, batch " << opt.batch
            << "), one MNIST epoch each (" << steps << " steps): one ensemble " << std::setprecision(2) << ensemble_s
            << " s, " << ce.instances << " single GPU runs " << singles_s << " s (" << singles_s / ensemble_s
            << "x), " << ce.instances << " CPU runs " << std::setprecision(1) << cpu_s << " s (" << std::setprecision(1)
            << cpu_s / ensemble_s << "x)\n";
    }
    if (cuda) {
        out << "cuda recording sal ratio 1 with a weight snapshot every " << record_every
            << " steps (async copy, written to HDF5): " << std::setprecision(0) << recorded_sps
            << " samples/s against " << rows.front().cuda_samples_per_s << " without: " << std::setprecision(1)
            << 100 * (1 - recorded_sps / rows.front().cuda_samples_per_s) << "% of throughput\n";
        out << "cuda continuous sal_continuous.yaml (" << c.method << ", " << c.trials << " trials): "
            << std::setprecision(1) << c.cuda_presentations_per_s << " presentations/s against "
            << c.presentations_per_s << " on the CPU: " << std::setprecision(2)
            << c.cuda_presentations_per_s / c.presentations_per_s << "x\n";
    }
    if (!contention.empty()) {
        out << "\ncontention: the same steps with a process spinning on one of the " << cores
            << " cores, alternated with quiet runs (twice each; samples/s, continuous presentations/s)\n";
        out << std::left << std::setw(30) << "case" << std::right << std::setw(9) << "threads" << std::setw(12)
            << "quiet" << std::setw(12) << "busy" << std::setw(12) << "busy/quiet" << std::setw(24)
            << "default / --threads 1" << '\n';
        for (const auto& r: contention) {
            out << std::left << std::setw(30) << r.name << std::right << std::setw(9) << r.threads
                << std::setprecision(r.quiet < 100 ? 1 : 0) << std::setw(12) << r.quiet << std::setw(12) << r.busy
                << std::setprecision(0) << std::setw(11) << 100 * r.busy / r.quiet << '%';
            if (r.small)
                out << std::setprecision(2) << "   quiet " << r.quiet / r.quiet_one << "x, busy " << r.busy / r.busy_one
                    << 'x';
            out << '\n';
        }
    }
    out << "\npeak RSS " << std::setprecision(1) << rss_mb << " MB (before the triad's arrays)\n" << std::defaultfloat;
    return 0;
}

} // namespace counterstream
