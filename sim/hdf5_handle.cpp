// string_attribute() (hdf5_handle.hpp).
#include "sim/hdf5_handle.hpp"

namespace counterstream {

std::string string_attribute(hid_t object, const std::string& name) {
    if (H5Aexists(object, name.c_str()) <= 0)
        return {};
    const h5_handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose);
    if (!attr.valid())
        return {};
    const h5_handle type(H5Aget_type(attr.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING)
        return {};
    const h5_handle space(H5Aget_space(attr.get()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
        return {};
    if (H5Tis_variable_str(type.get()) > 0) {
        const h5_handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(mem.get(), H5T_VARIABLE);
        H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
        char* text = nullptr;
        if (H5Aread(attr.get(), mem.get(), &text) < 0 || text == nullptr)
            return {};
        std::string out(text);
        H5free_memory(text);
        return out;
    }
    const std::size_t size = H5Tget_size(type.get());
    std::string out(size, '\0');
    if (H5Aread(attr.get(), type.get(), out.data()) < 0)
        return {};
    return out.substr(0, out.find('\0'));
}

} // namespace counterstream
