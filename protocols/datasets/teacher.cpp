// The synthetic teacher-student task. Bitwise reproducibility is the point
// of this file: no std:: distributions (their algorithms differ between
// standard libraries), no libm transcendental functions (not correctly
// rounded, so they differ between libms), and every multiply-add written as
// std::fma, because compilers are free to fuse a*b+c on some targets and not
// on others (GCC does for C++ even in ISO mode). sqrt, division and fma are
// correctly rounded by IEEE 754, so they give the same bits everywhere.
#include "protocols/datasets/teacher.hpp"

#include "sim/error.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace counterstream::datasets {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna), seeded through splitmix64 so that
// nearby seeds and stream numbers give unrelated sequences.
class xoshiro256ss {
public:
    xoshiro256ss(std::uint64_t seed, std::uint64_t stream) {
        std::uint64_t sm = seed ^ (0x632be59bd9b4e019ull * (stream + 1));
        for (auto& w: s_) w = splitmix64(sm);
    }

    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }

    // Uniform on [0, 1) with 53 random bits; the scaling is exact.
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

// Natural log for x > 0 from frexp (exact) and the atanh series, instead of
// std::log, whose last bit depends on the libm.
double portable_log(double x) {
    int e = 0;
    double m = std::frexp(x, &e); // x = m 2^e, m in [0.5, 1)
    if (m < 0.70710678118654752440) {
        m *= 2; // exact
        --e;
    }
    // log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| < 0.172, so 13
    // terms reach double precision.
    const double s = (m - 1) / (m + 1);
    const double s2 = s * s;
    double p = 1.0 / 25;
    for (int k = 11; k >= 0; --k) p = std::fma(p, s2, 1.0 / (2 * k + 1));
    const double ln2 = 0.693147180559945309417232121458;
    return std::fma(double(e), ln2, 2 * s * p);
}

// Standard normal deviates by Marsaglia's polar form of Box-Muller, which
// needs only sqrt and log.
class gaussian {
public:
    gaussian(std::uint64_t seed, std::uint64_t stream) : rng_(seed, stream) {}

    double operator()() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u, v, s;
        do {
            u = std::fma(2.0, rng_.uniform(), -1.0);
            v = std::fma(2.0, rng_.uniform(), -1.0);
            s = std::fma(u, u, v * v);
        } while (s >= 1.0 || s == 0.0);
        const double f = std::sqrt(-2.0 * portable_log(s) / s);
        spare_ = v * f;
        has_spare_ = true;
        return u * f;
    }

private:
    xoshiro256ss rng_;
    double spare_ = 0;
    bool has_spare_ = false;
};

// Independent streams per purpose, so that sizes of one part never shift
// the random numbers of another.
enum stream : std::uint64_t { weights_stream, calibration_stream, train_stream, test_stream };

struct teacher_net {
    int inputs, hidden, classes;
    std::vector<double> w1; // [hidden][inputs]
    std::vector<double> w2; // [classes][hidden]
    std::vector<double> b2; // [classes]

    // Logits without b2, in a fixed summation order.
    void raw_logits(const float* x, std::vector<double>& h, double* z) const {
        for (int j = 0; j < hidden; ++j) {
            const double* w = &w1[std::size_t(j) * inputs];
            double acc = 0;
            for (int i = 0; i < inputs; ++i) acc = std::fma(w[i], double(x[i]), acc);
            h[j] = acc > 0 ? acc : 0;
        }
        for (int c = 0; c < classes; ++c) {
            const double* w = &w2[std::size_t(c) * hidden];
            double acc = 0;
            for (int j = 0; j < hidden; ++j) acc = std::fma(w[j], h[j], acc);
            z[c] = acc;
        }
    }

    // Ties go to the lower class, deterministically.
    int argmax(const double* z) const {
        int best = 0;
        for (int c = 1; c < classes; ++c)
            if (z[c] + b2[c] > z[best] + b2[best]) best = c;
        return best;
    }
};

teacher_net make_net(const teacher_params& p) {
    teacher_net net{p.inputs, p.hidden, p.classes, {}, {}, std::vector<double>(p.classes, 0.0)};
    gaussian g(p.seed, weights_stream);
    const double s1 = 1.0 / std::sqrt(double(p.inputs));
    const double s2 = 1.0 / std::sqrt(double(p.hidden));
    net.w1.resize(std::size_t(p.hidden) * p.inputs);
    for (auto& w: net.w1) w = g() * s1;
    net.w2.resize(std::size_t(p.classes) * p.hidden);
    for (auto& w: net.w2) w = g() * s2;

    // Random output weights favour some classes (the hidden layer is
    // nonnegative, so row sums of W2 shift whole logits); tune b2 on a
    // calibration sample until each class wins about 1/classes of it, so that
    // every class is present and accuracy is not dominated by one class.
    const int n_cal = 8192;
    gaussian gc(p.seed, calibration_stream);
    std::vector<float> x(p.inputs);
    std::vector<double> h(p.hidden);
    std::vector<double> z(std::size_t(n_cal) * p.classes);
    for (int n = 0; n < n_cal; ++n) {
        for (auto& xi: x) xi = float(gc());
        net.raw_logits(x.data(), h, &z[std::size_t(n) * p.classes]);
    }
    double sum_sq = 0;
    for (int c = 0; c < p.classes; ++c) {
        double sum = 0;
        for (int n = 0; n < n_cal; ++n) sum += z[std::size_t(n) * p.classes + c];
        const double mean = sum / n_cal;
        net.b2[c] = -mean;
        for (int n = 0; n < n_cal; ++n) {
            const double d = z[std::size_t(n) * p.classes + c] - mean;
            sum_sq = std::fma(d, d, sum_sq);
        }
    }
    const double sigma = std::sqrt(sum_sq / (double(n_cal) * p.classes));
    const double target = 1.0 / p.classes;
    std::vector<int> count(p.classes);
    for (int t = 0; t < 200; ++t) {
        std::fill(count.begin(), count.end(), 0);
        for (int n = 0; n < n_cal; ++n) ++count[net.argmax(&z[std::size_t(n) * p.classes])];
        // A decaying step settles instead of oscillating between classes.
        const double eta = sigma / (1.0 + double(t) / 20.0);
        for (int c = 0; c < p.classes; ++c)
            net.b2[c] = std::fma(eta, target - double(count[c]) / n_cal, net.b2[c]);
    }
    return net;
}

split make_split(const teacher_net& net, int n, std::uint64_t seed, stream which) {
    Eigen::MatrixXf x(net.inputs, n);
    std::vector<std::int32_t> y(static_cast<std::size_t>(n));
    gaussian g(seed, which);
    std::vector<double> h(net.hidden), z(net.classes);
    for (int j = 0; j < n; ++j) {
        float* col = x.col(j).data();
        for (int i = 0; i < net.inputs; ++i) col[i] = float(g());
        // Labels come from the float inputs the student will see.
        net.raw_logits(col, h, z.data());
        y[std::size_t(j)] = net.argmax(z.data());
    }
    return split::from_floats(std::move(x), std::move(y));
}

} // namespace

dataset make_teacher(const teacher_params& p) {
    if (p.inputs < 1 || p.hidden < 1 || p.classes < 2 || p.n_train < 1 || p.n_test < 0)
        throw internal_error("make_teacher: bad parameters (inputs " + std::to_string(p.inputs) +
                             ", hidden " + std::to_string(p.hidden) + ", classes " +
                             std::to_string(p.classes) + ", n_train " +
                             std::to_string(p.n_train) + ", n_test " +
                             std::to_string(p.n_test) + ")");
    const teacher_net net = make_net(p);
    dataset d;
    d.name = "teacher";
    d.n_classes = p.classes;
    d.train = make_split(net, p.n_train, p.seed, train_stream);
    d.test = make_split(net, p.n_test, p.seed, test_stream);
    return d;
}

} // namespace counterstream::datasets
