// The worker threads of run_parts() (workers.hpp).
#include "sim/backends/cpu/workers.hpp"

#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace counterstream::cpu {

namespace {

// Pauses a waiter spins before it sleeps (a pause is 10-140 cycles: at most
// about 1 ms), longer than the gaps between the passes of a step and between
// steps (4,000 left the workers asleep at every continuous pass: 6% slower
// on a quiet machine), shorter than a scheduler's time slice.
constexpr int spins = 20000;

// Waits until `value` differs from `old`; returns the new value.
template <class T> T await_change(const std::atomic<T>& value, T old) {
    T now;
    for (int s = 0; s < spins; ++s) {
        if ((now = value.load(std::memory_order_acquire)) != old)
            return now;
        _mm_pause();
    }
    while ((now = value.load(std::memory_order_acquire)) == old)
        value.wait(old, std::memory_order_acquire);
    return now;
}

class pool {
public:
    static pool& get() {
        static pool p;
        return p;
    }
    ~pool() {
        stop_ = true;
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        for (auto& t: threads_)
            t.join();
    }

    void run(int parts, const std::function<void(int)>& fn) {
        std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
        const auto start = clock::now();
        if (!lock || start < solo_until_) { // solo_until_ is read only under the lock
            for (int i = 0; i < parts; ++i)
                fn(i);
            return;
        }
        while (int(threads_.size()) < parts - 1) {
            const int index = int(threads_.size()) + 1;
            const std::uint64_t now = generation_.load(std::memory_order_relaxed);
            threads_.emplace_back([this, index, now] { work(index, now); });
        }
        fn_ = &fn;
        parts_ = parts;
        errors_.assign(std::size_t(parts), nullptr);
        remaining_.store(parts - 1, std::memory_order_relaxed);
        generation_.fetch_add(1, std::memory_order_release);
        generation_.notify_all();
        call(0);
        const auto own = clock::now();
        for (int left = parts - 1; left != 0;)
            left = await_change(remaining_, left);
        note_lag(own - start, clock::now() - own);
        fn_ = nullptr;
        for (const auto& e: errors_)
            if (e)
                std::rethrow_exception(e);
    }

private:
    using clock = std::chrono::steady_clock;

    // Contention: when the workers keep finishing their parts well after the
    // caller's, another process holds their cores, and waiting for them costs
    // more than doing their parts. The caller then runs every part itself for
    // a while (the same parts: the results do not change), and tries the
    // workers again after that.
    void note_lag(clock::duration own, clock::duration waited) {
        constexpr int lagging_calls = 3;
        constexpr auto solo_time = std::chrono::milliseconds(50);
        lagging_ = 2 * waited > own ? lagging_ + 1 : 0;
        if (lagging_ >= lagging_calls) {
            lagging_ = 0;
            solo_until_ = clock::now() + solo_time;
        }
    }

    void call(int part) {
        try {
            (*fn_)(part);
        } catch (...) {
            errors_[std::size_t(part)] = std::current_exception();
        }
    }

    // Worker `index`, started when the calls numbered `seen` were made.
    void work(int index, std::uint64_t seen) {
        for (;;) {
            seen = await_change(generation_, seen);
            if (stop_)
                return;
            if (index >= parts_)
                continue; // not needed this time
            call(index);
            remaining_.fetch_sub(1, std::memory_order_acq_rel);
            remaining_.notify_all();
        }
    }

    std::mutex busy_; // held by the caller whose parts the workers run
    std::vector<std::thread> threads_;
    std::atomic<std::uint64_t> generation_{0}; // a new call
    std::atomic<int> remaining_{0};            // workers' parts not done
    const std::function<void(int)>* fn_ = nullptr;
    int parts_ = 0;
    std::vector<std::exception_ptr> errors_;
    int lagging_ = 0;              // calls in a row whose workers lagged
    clock::time_point solo_until_; // until then, the caller runs every part
    std::atomic<bool> stop_{false};
};

} // namespace

void run_parts(int parts, const std::function<void(int)>& fn) {
    if (parts <= 1) {
        fn(0);
        return;
    }
    pool::get().run(parts, fn);
}

} // namespace counterstream::cpu
