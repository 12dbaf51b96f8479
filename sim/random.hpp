// A small, platform-stable random generator (xoshiro256**, seeded by
// splitmix64) with its own normal law, so a seed gives bitwise the same
// numbers with any standard library.
#pragma once

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace counterstream {

inline std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// FNV-1a: a stable hash for deriving per-group seeds from names.
inline std::uint64_t stable_hash(std::string_view s) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c: s) {
        h ^= c;
        h *= 0x100000001b3ULL;
    }
    return h;
}

class rng {
public:
    explicit rng(std::uint64_t seed = 0) {
        for (auto& s: s_) s = splitmix64(seed);
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

    // Uniform in [0, 1).
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }

    // Uniform integer in [0, n).
    std::uint64_t below(std::uint64_t n) { return std::uint64_t(uniform() * double(n)); }

    // Standard normal by Box-Muller (both values used).
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u1 = uniform();
        while (u1 <= 0.0) u1 = uniform();
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double a = 6.283185307179586476925 * u2;
        spare_ = r * std::sin(a);
        has_spare_ = true;
        return r * std::cos(a);
    }

    // The whole generator state as six words (checkpoints), and back.
    std::array<std::uint64_t, 6> state() const {
        return {s_[0], s_[1], s_[2], s_[3], std::bit_cast<std::uint64_t>(spare_), has_spare_ ? 1ULL : 0ULL};
    }
    void set_state(const std::array<std::uint64_t, 6>& w) {
        for (int i = 0; i < 4; ++i) s_[i] = w[std::size_t(i)];
        spare_ = std::bit_cast<double>(w[4]);
        has_spare_ = w[5] != 0;
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
    double spare_ = 0;
    bool has_spare_ = false;
};

} // namespace counterstream
