// Test helpers: reading the tables of sweep and benchmark files (a group of
// 1-D datasets listed by its attribute `columns`) and small datasets and
// attributes, through the HDF5 C API.
#pragma once

#include <doctest/doctest.h>
#include <hdf5.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace counterstream::testing {

struct column {
    hid_t type_class = -1;
    std::size_t element_size = 0;
    std::vector<unsigned char> bytes; // raw in the file's type; strings as their texts, each ended by '\0'
};

// Every dataset of the table `group`, in the order of its `columns` attribute.
inline std::vector<std::pair<std::string, column>> read_table(const std::string& file,
                                                              const std::string& group = "/sweep/table") {
    std::vector<std::pair<std::string, column>> out;
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    const hid_t a = H5Aopen_by_name(f, group.c_str(), "columns", H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(a >= 0);
    const hid_t space = H5Aget_space(a);
    std::vector<char*> names(std::size_t(H5Sget_simple_extent_npoints(space)));
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    H5Tset_cset(str, H5T_CSET_UTF8);
    REQUIRE(H5Aread(a, str, names.data()) >= 0);
    for (char* name: names) {
        column c;
        const hid_t d = H5Dopen2(f, (group + "/" + name).c_str(), H5P_DEFAULT);
        REQUIRE(d >= 0);
        const hid_t t = H5Dget_type(d);
        c.type_class = H5Tget_class(t);
        c.element_size = H5Tget_size(t);
        const hid_t s = H5Dget_space(d);
        const auto n = std::size_t(H5Sget_simple_extent_npoints(s));
        if (c.type_class == H5T_STRING) {
            std::vector<char*> texts(n);
            REQUIRE(H5Dread(d, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data()) >= 0);
            for (char* text: texts) {
                c.bytes.insert(c.bytes.end(), text, text + std::strlen(text) + 1);
                H5free_memory(text);
            }
        } else {
            c.bytes.resize(n * c.element_size);
            REQUIRE(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, c.bytes.data()) >= 0);
        }
        H5Sclose(s);
        H5Tclose(t);
        H5Dclose(d);
        out.emplace_back(name, c);
        H5free_memory(name);
    }
    H5Tclose(str);
    H5Sclose(space);
    H5Aclose(a);
    H5Fclose(f);
    return out;
}

template <class T> std::vector<T> values(const column& c) {
    REQUIRE(c.type_class != H5T_STRING);
    REQUIRE(c.element_size == sizeof(T));
    std::vector<T> out(c.bytes.size() / sizeof(T));
    std::memcpy(out.data(), c.bytes.data(), c.bytes.size());
    return out;
}

inline std::vector<std::string> texts(const column& c) {
    REQUIRE(c.type_class == H5T_STRING);
    std::vector<std::string> out;
    for (std::size_t at = 0; at < c.bytes.size(); at += out.back().size() + 1)
        out.emplace_back(reinterpret_cast<const char*>(c.bytes.data() + at));
    return out;
}

// The column `name` of a table read by read_table.
inline const column& named(const std::vector<std::pair<std::string, column>>& table, const std::string& name) {
    for (const auto& [n, c]: table)
        if (n == name)
            return c;
    FAIL("no column " << name);
    return table.front().second;
}

inline std::vector<double> read_doubles(hid_t file, const std::string& path) {
    const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
    if (d < 0)
        return {};
    const hid_t s = H5Dget_space(d);
    std::vector<double> out(std::size_t(H5Sget_simple_extent_npoints(s)));
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    H5Sclose(s);
    H5Dclose(d);
    return out;
}

inline std::string string_attribute(const std::string& file, const std::string& object, const std::string& name) {
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    REQUIRE(f >= 0);
    const hid_t a = H5Aopen_by_name(f, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(a >= 0);
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    H5Tset_cset(str, H5T_CSET_UTF8);
    char* text = nullptr;
    REQUIRE(H5Aread(a, str, &text) >= 0);
    std::string out = text;
    H5free_memory(text);
    H5Tclose(str);
    H5Aclose(a);
    H5Fclose(f);
    return out;
}

// Two tables have the same columns, byte for byte.
inline void check_same_table(const std::vector<std::pair<std::string, column>>& a,
                             const std::vector<std::pair<std::string, column>>& b) {
    REQUIRE(b.size() == a.size());
    for (std::size_t c = 0; c < a.size(); ++c) {
        CAPTURE(a[c].first);
        CHECK(b[c].first == a[c].first);
        CHECK(b[c].second.bytes == a[c].second.bytes);
    }
}

} // namespace counterstream::testing
