#include "analysis/h5.hpp"

#include "sim/error.hpp"

#include <string_view>

namespace counterstream::analysis::h5 {

std::string error_text() {
    const std::string desc = hdf5_innermost_error();
    if (desc.find("unable to lock file") != std::string::npos)
        return "it is locked, probably open in another program";
    const std::string_view marker = "error message = '";
    if (auto at = desc.find(marker); at != std::string::npos) {
        at += marker.size();
        if (auto end = desc.find('\'', at); end != std::string::npos)
            return desc.substr(at, end - at);
    }
    return desc.empty() ? "unknown HDF5 error" : desc;
}

void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

bool exists(hid_t file, const std::string& path) {
    std::string prefix;
    std::size_t at = 1;
    while (at <= path.size()) {
        const std::size_t end = std::min(path.find('/', at), path.size());
        prefix = path.substr(0, end);
        if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
            H5Eclear2(H5E_DEFAULT);
            return false;
        }
        at = end + 1;
    }
    return true;
}

std::string string_dataset(hid_t file, const std::string& path, const std::string& file_name) {
    auto fail = [&](const std::string& why) -> internal_error {
        return internal_error(file_name + ": " + path + ": " + why + " (" + error_text() + ")");
    };
    id d(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid())
        throw fail("cannot open");
    id type(H5Dget_type(d.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING)
        throw internal_error(file_name + ": " + path + ": not a string");
    if (H5Tis_variable_str(type.get()) > 0) {
        id mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem.get(), H5T_VARIABLE);
        H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
        char* text = nullptr;
        if (H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0 || text == nullptr)
            throw fail("cannot read");
        std::string out(text);
        H5free_memory(text);
        return out;
    }
    std::string out(H5Tget_size(type.get()), '\0');
    if (H5Dread(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
        throw fail("cannot read");
    return out.substr(0, out.find('\0'));
}

std::vector<hsize_t> dims(hid_t file, const std::string& path) {
    if (!exists(file, path))
        return {};
    id d(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid()) {
        H5Eclear2(H5E_DEFAULT);
        return {};
    }
    id space(H5Dget_space(d.get()), H5Sclose);
    std::vector<hsize_t> out(std::max(0, H5Sget_simple_extent_ndims(space.get())));
    H5Sget_simple_extent_dims(space.get(), out.data(), nullptr);
    return out;
}

writer::writer(hid_t group, std::string file_name) : group_(group), file_name_(std::move(file_name)) {
    link_props_ = id(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
    if (!link_props_.valid() || H5Pset_create_intermediate_group(link_props_.get(), 1) < 0)
        fail("H5Pcreate");
}

void writer::fail(const std::string& what) const {
    throw internal_error(file_name_ + ": HDF5 " + what + " failed (" + error_text() + ")");
}

id writer::write(const std::string& path, hid_t file_type, hid_t mem_type, const void* data,
                 const std::vector<hsize_t>& dims, const std::string& description) {
    id space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
    if (!space.valid())
        fail("H5Screate_simple");
    id d(H5Dcreate2(group_, path.c_str(), file_type, space.get(), link_props_.get(), H5P_DEFAULT, H5P_DEFAULT),
         H5Dclose);
    if (!d.valid())
        fail("H5Dcreate2 '" + path + "'");
    std::size_t n = 1;
    for (auto x: dims)
        n *= x;
    if (n > 0 && H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        fail("H5Dwrite '" + path + "'");
    attribute(d.get(), "description", description);
    return d;
}

id writer::doubles(const std::string& path, const std::vector<double>& values, const std::string& description) {
    return write(path, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, values.data(), {values.size()}, description);
}

id writer::bytes(const std::string& path, const std::vector<std::uint8_t>& values, const std::string& description) {
    return write(path, H5T_STD_U8LE, H5T_NATIVE_UINT8, values.data(), {values.size()}, description);
}

id writer::integers(const std::string& path, const std::vector<std::int64_t>& values, const std::string& description) {
    return write(path, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), {values.size()}, description);
}

id writer::table(const std::string& path, const std::vector<double>& row_major, hsize_t rows, hsize_t cols,
                 bool as_float32, const std::string& description) {
    if (row_major.size() != rows * cols)
        throw internal_error("h5::writer::table: " + path + ": size does not match " + std::to_string(rows) + " x " +
                             std::to_string(cols));
    // The conversion to float32 happens in HDF5 (double in memory, float on disk).
    return write(path, as_float32 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, row_major.data(), {rows, cols},
                 description);
}

id writer::group(const std::string& path) {
    if (H5Lexists(group_, path.c_str(), H5P_DEFAULT) > 0) {
        id g(H5Gopen2(group_, path.c_str(), H5P_DEFAULT), H5Gclose);
        if (!g.valid())
            fail("H5Gopen2 '" + path + "'");
        return g;
    }
    H5Eclear2(H5E_DEFAULT);
    id g(H5Gcreate2(group_, path.c_str(), link_props_.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.valid())
        fail("H5Gcreate2 '" + path + "'");
    return g;
}

void writer::attribute(hid_t object, const std::string& name, const std::string& value) {
    if (H5Aexists(object, name.c_str()) > 0)
        H5Adelete(object, name.c_str());
    id type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    id space(H5Screate(H5S_SCALAR), H5Sclose);
    id attr(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid())
        fail("H5Acreate2 '" + name + "'");
    const char* text = value.c_str();
    if (H5Awrite(attr.get(), type.get(), &text) < 0)
        fail("H5Awrite '" + name + "'");
}

void writer::attribute(hid_t object, const std::string& name, std::int64_t value) {
    if (H5Aexists(object, name.c_str()) > 0)
        H5Adelete(object, name.c_str());
    id space(H5Screate(H5S_SCALAR), H5Sclose);
    id attr(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    if (!attr.valid())
        fail("H5Acreate2 '" + name + "'");
    if (H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
        fail("H5Awrite '" + name + "'");
}

} // namespace counterstream::analysis::h5
