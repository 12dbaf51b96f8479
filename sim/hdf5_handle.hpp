// An owning HDF5 identifier and the innermost message of HDF5's error stack,
// shared by the writers of HDF5 files (the recorder, SONATA reports, sweep
// outputs), and the string attribute their readers check. Each writer words
// its own failure messages around the error.
#pragma once

#include <hdf5.h>

#include <string>
#include <utility>

namespace counterstream {

// Owns one HDF5 identifier; closing through the matching H5?close keeps the
// file from staying open behind a leaked id.
class h5_handle {
public:
    using close_fn = herr_t (*)(hid_t);

    h5_handle() = default;
    h5_handle(hid_t id, close_fn close) : id_(id), close_(close) {}
    h5_handle(h5_handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
    h5_handle& operator=(h5_handle&& other) noexcept {
        if (this != &other) {
            reset();
            id_ = std::exchange(other.id_, H5I_INVALID_HID);
            close_ = other.close_;
        }
        return *this;
    }
    h5_handle(const h5_handle&) = delete;
    h5_handle& operator=(const h5_handle&) = delete;
    ~h5_handle() { reset(); }

    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }
    void reset() {
        if (id_ >= 0 && close_ != nullptr)
            close_(id_);
        id_ = H5I_INVALID_HID;
    }

private:
    hid_t id_ = H5I_INVALID_HID;
    close_fn close_ = nullptr;
};

// The most specific description on HDF5's error stack ("" when it holds
// none); the stack is cleared, so the next failure reports only itself.
inline std::string hdf5_innermost_error() {
    std::string desc;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* err, void* out) -> herr_t {
            if (n == 0 && err->desc != nullptr)
                *static_cast<std::string*>(out) = err->desc;
            return 0;
        },
        &desc);
    H5Eclear2(H5E_DEFAULT);
    return desc;
}

// A scalar string attribute of `object` (fixed or variable length), or ""
// when it is absent or not one.
std::string string_attribute(hid_t object, const std::string& name);

} // namespace counterstream
