#include "sim/weights_file.hpp"

#include "sim/error.hpp"
#include "sim/hdf5_lock.hpp"

#include <hdf5.h>

#include <vector>

namespace counterstream {

Eigen::MatrixXf read_last_matrix(const std::string& file, const std::string& dataset) {
    auto fail = [&](const std::string& why) { return input_error(file + ": " + dataset + ": " + why); };
    hdf5_guard lock(hdf5_mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_file_locking(fapl, false, true); // a recording may be open in a running writer
    const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (f < 0) throw input_error(file + ": cannot open as HDF5");
    const hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
    if (d < 0) {
        H5Fclose(f);
        throw fail("no such dataset");
    }
    const hid_t space = H5Dget_space(d);
    const int rank = H5Sget_simple_extent_ndims(space);
    hsize_t dims[3] = {0, 0, 0};
    H5Sget_simple_extent_dims(space, dims, nullptr);
    auto close = [&] {
        H5Sclose(space);
        H5Dclose(d);
        H5Fclose(f);
    };
    if (rank != 2 && rank != 3) {
        close();
        throw fail("expected a 2-D matrix or 3-D snapshots, got rank " + std::to_string(rank));
    }
    const hsize_t rows = dims[rank - 2], cols = dims[rank - 1];
    if (rank == 3 && dims[0] == 0) {
        close();
        throw fail("has no snapshots");
    }
    std::vector<float> buf(rows * cols);
    hsize_t start[3] = {rank == 3 ? dims[0] - 1 : 0, 0, 0};
    hsize_t count[3] = {1, rows, cols};
    if (rank == 3) H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hsize_t mdims[2] = {rows, cols};
    const hid_t mem = H5Screate_simple(2, mdims, nullptr);
    const herr_t rc = H5Dread(d, H5T_NATIVE_FLOAT, mem, space, H5P_DEFAULT, buf.data());
    H5Sclose(mem);
    close();
    if (rc < 0) throw fail("cannot read as float");
    // HDF5 rows are contiguous: map row-major, copy into column-major.
    return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        buf.data(), Eigen::Index(rows), Eigen::Index(cols));
}

} // namespace counterstream
