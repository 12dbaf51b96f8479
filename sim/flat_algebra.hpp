// An odeint state and algebra over flat float buffers whose memory and
// elementwise work belong to a Context: the CUDA backend's context keeps
// them on the device (no thrust: its headers in Boost 1.74 do not compile
// with CUDA 13), host_context below keeps them in host memory, as the
// reference the tests hold the algebra to.
//
// A Context provides
//   float* allocate(std::int64_t n);   void release(float* p, std::int64_t n);
//   void copy(const float* from, float* to, std::int64_t n);
//   // out = sum_i a[i] in[i] (out may be one of the inputs)
//   void combine(float* out, std::int64_t n, int count, const float* const* in, const float* a);
//   // err = |err| / (eps_abs + eps_rel (a_x |x| + a_dxdt |dxdt|))
//   void relative_error(float* err, const float* x, const float* dxdt, std::int64_t n,
//                       float eps_abs, float eps_rel, float a_x, float a_dxdt);
//   float max_abs(const float* x, std::int64_t n);
//
// The steppers' operations are odeint's default_operations: every
// scale_sumN (t1 = a1 t2 + ... + aN tN+1) becomes one combine() call, its
// coefficients read by calling the operation on placeholder arguments;
// rel_error (dopri5's error check) becomes relative_error().
#pragma once

#include "sim/error.hpp"

#include <boost/numeric/odeint/algebra/default_operations.hpp>
#include <boost/numeric/odeint/util/copy.hpp>
#include <boost/numeric/odeint/util/is_resizeable.hpp>
#include <boost/numeric/odeint/util/resize.hpp>
#include <boost/numeric/odeint/util/same_size.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace counterstream {

// n floats of a Context's memory; copies are deep.
template <class Context>
class flat_vector {
public:
    flat_vector() = default;
    flat_vector(Context& context, std::int64_t n) : context_(&context) { resize(n); }
    flat_vector(const flat_vector& o) : context_(o.context_) {
        resize(o.size_);
        if (size_ > 0) context_->copy(o.data_, data_, size_);
    }
    flat_vector& operator=(const flat_vector& o) {
        if (this == &o) return *this;
        if (!context_) context_ = o.context_;
        resize(o.size_);
        if (size_ > 0) context_->copy(o.data_, data_, size_);
        return *this;
    }
    ~flat_vector() {
        if (data_) context_->release(data_, size_);
    }

    // Room for n values (the old contents are lost when n changes).
    void resize(std::int64_t n) {
        if (n == size_) return;
        if (data_) context_->release(data_, size_);
        data_ = nullptr;
        size_ = 0;
        if (n > 0) data_ = context_->allocate(n);
        size_ = n;
    }
    void bind(Context& context) { context_ = &context; }
    Context* context() const { return context_; }
    float* data() { return data_; }
    const float* data() const { return data_; }
    std::int64_t size() const { return size_; }

private:
    Context* context_ = nullptr;
    float* data_ = nullptr;
    std::int64_t size_ = 0;
};

namespace detail {

// Placeholders that record the coefficients of a scale_sum operation: the
// operation computes t1 = a1 * (argument 1) + a2 * (argument 2) + ... on
// them, and the result holds a_i at index i.
struct argument {
    int index;
};
struct linear_form {
    std::array<float, 16> a{};
};
template <class Scalar, class = std::enable_if_t<std::is_arithmetic_v<Scalar>>>
linear_form operator*(Scalar s, const argument& x) {
    linear_form f;
    f.a[std::size_t(x.index)] = float(s);
    return f;
}
inline linear_form operator+(linear_form f, const linear_form& g) {
    for (std::size_t i = 0; i < f.a.size(); ++i) f.a[i] += g.a[i];
    return f;
}

template <class Op>
struct is_rel_error : std::false_type {};
template <class F>
struct is_rel_error<boost::numeric::odeint::default_operations::rel_error<F>> : std::true_type {};

} // namespace detail

template <class Context>
struct flat_algebra {
    // for_eachN(s1, ..., sN, op): s1 = op(s2, ..., sN), elementwise.
    template <class Op, class Out, class... In>
    static void apply(Op op, Out& out, In&... in) {
        Context& c = *out.context();
        if constexpr (detail::is_rel_error<Op>::value) {
            static_assert(sizeof...(In) == 2, "rel_error takes the error, the state and its derivative");
            const std::array<const flat_vector<Context>*, 2> s{&in...};
            c.relative_error(out.data(), s[0]->data(), s[1]->data(), out.size(), op.m_eps_abs, op.m_eps_rel,
                             op.m_a_x, op.m_a_dxdt);
        } else {
            detail::linear_form f;
            [&]<std::size_t... I>(std::index_sequence<I...>) {
                op(f, detail::argument{int(I)}...);
            }(std::index_sequence_for<In...>{});
            const std::array<const float*, sizeof...(In)> inputs{in.data()...};
            std::array<const float*, sizeof...(In)> used{};
            std::array<float, sizeof...(In)> a{};
            int count = 0;
            for (std::size_t i = 0; i < inputs.size(); ++i)
                if (f.a[i] != 0.0f) used[std::size_t(count)] = inputs[i], a[std::size_t(count++)] = f.a[i];
            c.combine(out.data(), out.size(), count, used.data(), a.data());
        }
    }

    template <class S1, class S2, class Op>
    static void for_each2(S1& s1, S2& s2, Op op) { apply(op, s1, s2); }
    template <class S1, class S2, class S3, class Op>
    static void for_each3(S1& s1, S2& s2, S3& s3, Op op) { apply(op, s1, s2, s3); }
    template <class S1, class S2, class S3, class S4, class Op>
    static void for_each4(S1& s1, S2& s2, S3& s3, S4& s4, Op op) { apply(op, s1, s2, s3, s4); }
    template <class S1, class S2, class S3, class S4, class S5, class Op>
    static void for_each5(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, Op op) { apply(op, s1, s2, s3, s4, s5); }
    template <class S1, class S2, class S3, class S4, class S5, class S6, class Op>
    static void for_each6(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, S6& s6, Op op) {
        apply(op, s1, s2, s3, s4, s5, s6);
    }
    template <class S1, class S2, class S3, class S4, class S5, class S6, class S7, class Op>
    static void for_each7(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, S6& s6, S7& s7, Op op) {
        apply(op, s1, s2, s3, s4, s5, s6, s7);
    }
    template <class S1, class S2, class S3, class S4, class S5, class S6, class S7, class S8, class Op>
    static void for_each8(S1& s1, S2& s2, S3& s3, S4& s4, S5& s5, S6& s6, S7& s7, S8& s8, Op op) {
        apply(op, s1, s2, s3, s4, s5, s6, s7, s8);
    }

    template <class S>
    static float norm_inf(const S& s) {
        return s.context()->max_abs(s.data(), s.size());
    }
};

// The host reference context: plain loops over heap memory.
struct host_context {
    float* allocate(std::int64_t n) { return new float[std::size_t(n)](); }
    void release(float* p, std::int64_t) { delete[] p; }
    void copy(const float* from, float* to, std::int64_t n) { std::copy(from, from + n, to); }
    void combine(float* out, std::int64_t n, int count, const float* const* in, const float* a) {
        for (std::int64_t i = 0; i < n; ++i) {
            float sum = 0.0f;
            for (int k = 0; k < count; ++k) sum += a[k] * in[k][i];
            out[i] = sum;
        }
    }
    void relative_error(float* err, const float* x, const float* dxdt, std::int64_t n, float eps_abs, float eps_rel,
                        float a_x, float a_dxdt) {
        for (std::int64_t i = 0; i < n; ++i)
            err[i] = std::abs(err[i]) / (eps_abs + eps_rel * (a_x * std::abs(x[i]) + a_dxdt * std::abs(dxdt[i])));
    }
    float max_abs(const float* x, std::int64_t n) {
        float m = 0.0f;
        for (std::int64_t i = 0; i < n; ++i) m = std::max(m, std::abs(x[i]));
        return m;
    }
};

} // namespace counterstream

namespace boost::numeric::odeint {

template <class Context>
struct is_resizeable<counterstream::flat_vector<Context>> : boost::true_type {};

template <class Context>
struct same_size_impl<counterstream::flat_vector<Context>, counterstream::flat_vector<Context>> {
    static bool same_size(const counterstream::flat_vector<Context>& a, const counterstream::flat_vector<Context>& b) {
        return a.size() == b.size();
    }
};

template <class Context>
struct resize_impl<counterstream::flat_vector<Context>, counterstream::flat_vector<Context>> {
    static void resize(counterstream::flat_vector<Context>& out, const counterstream::flat_vector<Context>& in) {
        if (!out.context()) out.bind(*in.context());
        out.resize(in.size());
    }
};

} // namespace boost::numeric::odeint
