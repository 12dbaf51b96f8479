// The CPU runner (the host networks are the instances) and the factory
// (runner.hpp); the CUDA runner is sim/backends/cuda/runner.cpp, in the
// plugin this file loads when it is first asked for.
#include "sim/runner.hpp"

#include "sim/backends/cuda/plugin.hpp"
#include "sim/ensemble.hpp"
#include "sim/error.hpp"

#include <dlfcn.h>

#include <filesystem>

namespace counterstream {

void walk_segments(const std::vector<segment>& segments, double present_ms,
                   const std::function<void(const segment&)>& advance, const std::function<void(bool)>& settle) {
    for (const auto& s: segments) {
        advance(s);
        if (s.sample_at_end || s.t1 >= present_ms)
            settle(s.sample_at_end);
    }
}

namespace {

// Discrete: one network (a discrete ensemble is refused); continuous: the
// ensemble's instances, each presented on its own thread.
class cpu_runner final : public runner {
public:
    cpu_runner(std::vector<network*> hosts, ensemble* instances)
        : runner(std::move(hosts)), ens_(instances), snapshot_(hosts_.size()) {
        if (!ens_ && hosts_.size() > 1)
            throw internal_error("discrete ensembles run on the CUDA backend");
        for (network* net: hosts_)
            settle_.emplace_back(ens_ ? net->state_size() : 0);
    }

    std::vector<loss_result> forward(const std::int32_t* labels) override { return {hosts_[0]->forward(labels)}; }
    void learn() override { hosts_[0]->learn(); }
    void mirror(const std::vector<rng*>& noise, int batch, double sigma) override {
        hosts_[0]->mirror(*noise[0], batch, sigma);
    }
    std::vector<loss_result> infer(const std::int32_t* labels) override {
        std::vector<loss_result> r(hosts_.size());
        for_each([&](int k) {
            if (k > 0)
                host(k).input() = host(0).input();
            r[std::size_t(k)] = host(k).infer(labels);
        });
        return r;
    }

    std::vector<loss_result> present(const std::vector<segment>& segments, double present_ms,
                                     const std::int32_t* labels, const std::vector<char>& running,
                                     const std::function<void(int)>& frame) override {
        std::vector<loss_result> r(hosts_.size());
        for_each([&](int k) {
            if (!running[std::size_t(k)])
                return;
            if (k > 0)
                host(k).input() = host(0).input();
            r[std::size_t(k)] = present(k, segments, present_ms, labels, [&] { frame(k); });
        });
        return r;
    }
    void for_each(const std::function<void(int)>& f) override {
        if (ens_)
            return ens_->for_each(f);
        for (int k = 0; k < size(); ++k)
            f(k);
    }

    void norms(int k, std::vector<double>& weights, std::vector<double>& rates) override {
        weights.clear();
        rates.clear();
        for (const auto& g: host(k).groups())
            weights.push_back(double(g.w.norm()));
        for (const auto& p: host(k).populations())
            rates.push_back(double(p.rate.norm()));
    }
    void to_host() override {}
    void from_host() override {}
    // A copy, since the next steps change the host's weights.
    void begin_snapshot() override {
        for (int k = 0; k < size(); ++k) {
            snapshot_[std::size_t(k)].clear();
            for (const auto& g: host(k).groups())
                snapshot_[std::size_t(k)].emplace_back(g.w);
        }
    }
    const float* snapshot_of(int group, int k) override {
        const matrix& w = snapshot_[std::size_t(k)][std::size_t(group)];
        return w.size() > 0 ? w.data() : nullptr;
    }

private:
    // Instance k's presentation, x from t = 0 to present_ms with a frame at
    // every sample time: the rates with the instantaneous populations
    // settled at the state there (interpolated between steps, so the frames
    // leave the trajectory alone).
    loss_result present(int k, const std::vector<segment>& segments, double present_ms, const std::int32_t* labels,
                        const std::function<void()>& frame) {
        network& net = host(k);
        integrator& integ = ens_->integ(k);
        Eigen::VectorXf& x = ens_->state(k);
        Eigen::VectorXf& settle = settle_[std::size_t(k)];
        loss_result r;
        // The integrator binds the network's views back to x before it goes on.
        const integrator::observer frame_at = [&](double, const Eigen::VectorXf& state) {
            net.derivative(state.data(), settle.data(), labels, false);
            frame();
        };
        walk_segments(
            segments, present_ms,
            [&](const segment& s) { integ.advance(x, s.t0, s.t1, labels, s.learning, s.samples, frame_at); },
            [&](bool sample) {
                // Rates of instantaneous populations at this exact state.
                r = net.derivative(x.data(), settle.data(), labels, false);
                net.bind_state(x.data());
                if (sample)
                    frame();
            });
        return r;
    }

    ensemble* ens_;                             // continuous mode
    std::vector<Eigen::VectorXf> settle_;       // scratch of each state's size
    std::vector<std::vector<matrix>> snapshot_; // [instance][group]
};

// The CUDA plugin (libcounterstream_cuda.so), looked for beside the
// executable, in the folder above it (the tests'), and where the build put
// it: its table, or why there is none.
struct cuda_plugin {
    const cuda::plugin_api* api = nullptr;
    std::string why;
};

const cuda_plugin& load_cuda_plugin() {
    static const cuda_plugin loaded = [] {
        cuda_plugin p;
#ifndef COUNTERSTREAM_CUDA_PLUGIN
        p.why = "this build has no CUDA backend (the CUDA toolkit was not found at configure time; configure with "
                "-DCOUNTERSTREAM_CUDA=ON and nvcc on the PATH)";
#else
        namespace fs = std::filesystem;
        const fs::path built(COUNTERSTREAM_CUDA_PLUGIN);
        std::error_code ec;
        const fs::path exe = fs::read_symlink("/proc/self/exe", ec).parent_path();
        std::string first_error;
        for (const fs::path& file: {exe / built.filename(), exe.parent_path() / built.filename(), built}) {
            void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!handle) {
                if (first_error.empty())
                    first_error = dlerror();
                continue;
            }
            using entry = const cuda::plugin_api* (*)();
            if (const auto get = reinterpret_cast<entry>(dlsym(handle, "counterstream_cuda_plugin"))) {
                p.api = get();
                return p;
            }
        }
        p.why = "the CUDA backend could not be loaded (" + first_error + ")";
#endif
        return p;
    }();
    return loaded;
}

// The plugin's table; input_error with its line where it has none.
const cuda::plugin_api& cuda_api() {
    const cuda_plugin& p = load_cuda_plugin();
    if (!p.api)
        throw input_error("--backend cuda: " + p.why);
    return *p.api;
}

} // namespace

bool backend_usable(const std::string& backend, std::string* why) {
    if (backend != "cuda")
        return true;
    const cuda_plugin& p = load_cuda_plugin();
    if (!p.api && why)
        *why = p.why;
    return p.api && p.api->usable(why);
}

std::string backend_description(const std::string& backend) {
    if (backend != "cuda")
        return "CPU";
    std::string why;
    return backend_usable(backend, &why) ? cuda_api().description() : why;
}

bool runs_discrete_ensembles(const std::string& backend) { return backend == "cuda"; }

std::unique_ptr<runner> make_runner(const std::string& backend, std::vector<network*> hosts) {
    if (backend == "cuda")
        return cuda_api().make_runner(std::move(hosts), nullptr);
    return std::make_unique<cpu_runner>(std::move(hosts), nullptr);
}

std::unique_ptr<runner> make_runner(const std::string& backend, ensemble& instances) {
    std::vector<network*> hosts;
    for (int k = 0; k < instances.size(); ++k)
        hosts.push_back(&instances.net(k));
    if (backend == "cuda")
        return cuda_api().make_runner(std::move(hosts), &instances.method());
    return std::make_unique<cpu_runner>(std::move(hosts), &instances);
}

} // namespace counterstream
