// The CUDA runner (sim/runner.hpp): every instance on the device in
// lockstep, the hosts receiving weights and rates when they are read there;
// and the plugin's entry point (plugin.hpp).
#include "sim/runner.hpp"
#include "sim/backends/cuda/device_engine.hpp"
#include "sim/backends/cuda/plugin.hpp"

namespace counterstream::cuda {

namespace {

class device_runner final : public runner {
public:
    device_runner(std::vector<network*> hosts, const integrator_spec* method)
        : runner(std::move(hosts)), gpu_(hosts_), method_(method ? *method : integrator_spec{}) {
        gpu_.share_input(true);
    }

    std::vector<loss_result> forward(const std::int32_t* labels) override { return gpu_.forward(all(labels)); }
    void learn() override { gpu_.learn(); }
    void mirror(const std::vector<rng*>& noise, int batch, double sigma) override { gpu_.mirror(noise, batch, sigma); }
    std::vector<loss_result> infer(const std::int32_t* labels) override { return gpu_.infer(all(labels)); }

    // The frames read rates copied from the device.
    std::vector<loss_result> present(const std::vector<segment>& segments, double present_ms,
                                     const std::int32_t* labels, const std::vector<char>& running,
                                     const std::function<void(int)>& frame) override {
        // Within the presentation where an instance blows up, it can still
        // spoil the others' shared dopri5 step.
        for (int k = 0; k < size(); ++k)
            if (!running[std::size_t(k)])
                gpu_.zero_instance(k);
        gpu_.set_input(all(labels));
        std::vector<loss_result> r;
        const auto frames = [&] {
            for (int k = 0; k < size(); ++k)
                frame(k);
        };
        walk_segments(
            segments, present_ms,
            [&](const segment& s) {
                gpu_.advance(method_, s.t0, s.t1, s.learning, s.samples, [&](double) { frames(); });
            },
            [&](bool sample) {
                r = gpu_.settle();
                if (!sample)
                    return;
                gpu_.download();
                frames();
            });
        return r;
    }
    void for_each(const std::function<void(int)>& f) override {
        for (int k = 0; k < size(); ++k)
            f(k);
    }

    void norms(int k, std::vector<double>& weights, std::vector<double>& rates) override {
        gpu_.norms(weights, rates, k);
    }
    void to_host() override { gpu_.download(); }
    void from_host() override { gpu_.upload(); }
    void begin_snapshot() override { gpu_.begin_snapshot(); }
    const float* snapshot_of(int group, int k) override { return gpu_.snapshot_of(group, k); }

private:
    std::vector<const std::int32_t*> all(const std::int32_t* labels) const {
        return std::vector<const std::int32_t*>(hosts_.size(), labels);
    }

    device_engine gpu_;
    integrator_spec method_; // continuous mode
};

} // namespace

std::unique_ptr<runner> make_runner(std::vector<network*> hosts, const integrator_spec* continuous) {
    return std::make_unique<device_runner>(std::move(hosts), continuous);
}

} // namespace counterstream::cuda

extern "C" const counterstream::cuda::plugin_api* counterstream_cuda_plugin() {
    static const counterstream::cuda::plugin_api api{&counterstream::cuda::usable,
                                                     &counterstream::cuda::device_description,
                                                     &counterstream::cuda::make_runner};
    return &api;
}
