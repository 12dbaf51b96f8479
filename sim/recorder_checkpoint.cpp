// Checkpoints inside a recording: two slots under /checkpoint written in
// turn, the current one named by its `slot` attribute only once complete;
// and, on resume, the checkpoint read back and the recording's metrics and
// snapshots cut back to where it was written.
#include "sim/recorder_impl.hpp"

#include "sim/error.hpp"
#include "sim/hdf5_lock.hpp"

#include <array>
#include <cstdint>
#include <utility>

namespace counterstream {

void recorder::impl::write_array(hid_t parent, const std::string& name, hid_t file_type, hid_t mem_type,
                                 const std::vector<hsize_t>& dims, const void* data) {
    if (exists(parent, name)) {
        h5_handle d = open_dataset(parent, name);
        if (dims_of(d.get()) == dims) {
            check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite '", name, "'");
            return;
        }
        d.reset();
        check(H5Ldelete(parent, name.c_str(), H5P_DEFAULT), "H5Ldelete '", name, "'");
    }
    h5_handle space = checked(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose, "H5Screate_simple");
    h5_handle d =
        checked(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Dclose, "H5Dcreate2 '" + name + "'");
    check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite '", name, "'");
}

void recorder::impl::write_matrices(hid_t parent, const std::map<std::string, Eigen::MatrixXf>& matrices) {
    std::vector<float> row_major;
    for (const auto& [name, m]: matrices) {
        row_major.resize(std::size_t(m.size()));
        Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(row_major.data(), m.rows(),
                                                                                          m.cols()) = m;
        write_array(parent, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {hsize_t(m.rows()), hsize_t(m.cols())},
                    row_major.data());
    }
}

h5_handle recorder::impl::open_or_create_group(hid_t parent, const std::string& name) const {
    return exists(parent, name) ? open_group(parent, name) : create_group(parent, name);
}

void recorder::impl::write_checkpoint(const checkpoint& cp) {
    h5_handle root = open_or_create_group(file.get(), "checkpoint");
    if (H5Aexists(root.get(), "slot") <= 0) {
        write_scalar_attribute(root.get(), "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, checkpoint_format);
        write_scalar_attribute(root.get(), "slot", H5T_STD_I32LE, H5T_NATIVE_INT, -1);
    }
    const int slot = checkpoint_slot == 0 ? 1 : 0;
    h5_handle g = open_or_create_group(root.get(), std::to_string(slot));
    h5_handle ints = open_or_create_group(g.get(), "integers");
    h5_handle reals = open_or_create_group(g.get(), "reals");
    h5_handle mats = open_or_create_group(g.get(), "matrices");
    for (const auto& [name, v]: cp.integers)
        write_array(ints.get(), name, H5T_STD_I64LE, H5T_NATIVE_INT64, {hsize_t(v.size())}, v.data());
    for (const auto& [name, v]: cp.reals)
        write_array(reals.get(), name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {hsize_t(v.size())}, v.data());
    write_matrices(mats.get(), cp.matrices);
    // Discrete runs have no rates and no reports, and get no group for them.
    if (!cp.rates.empty()) {
        h5_handle rates = open_or_create_group(g.get(), "rates");
        write_matrices(rates.get(), cp.rates);
    }
    if (!cp.optimizer.empty()) {
        h5_handle moments = open_or_create_group(g.get(), "optimizer");
        write_matrices(moments.get(), cp.optimizer);
    }
    // Where the recording stood, so a resume drops what came after.
    h5_handle rec = open_or_create_group(g.get(), "recording");
    const std::int64_t rows = std::int64_t(n_rows);
    write_array(rec.get(), "metric_rows", H5T_STD_I64LE, H5T_NATIVE_INT64, {1}, &rows);
    h5_handle snaps = open_or_create_group(rec.get(), "snapshots");
    for (const auto& [name, w]: weights) {
        const std::int64_t n = std::int64_t(w.n_snapshots);
        write_array(snaps.get(), name, H5T_STD_I64LE, H5T_NATIVE_INT64, {1}, &n);
    }
    if (!cp.report_frames.empty()) {
        h5_handle reports = open_or_create_group(rec.get(), "reports");
        for (const auto& [name, n]: cp.report_frames)
            write_array(reports.get(), name, H5T_STD_I64LE, H5T_NATIVE_INT64, {1}, &n);
    }
    flush();
    // Only a complete slot becomes the current one.
    h5_handle attr = checked(H5Aopen(root.get(), "slot", H5P_DEFAULT), H5Aclose, "H5Aopen 'slot'");
    check(H5Awrite(attr.get(), H5T_NATIVE_INT, &slot), "H5Awrite 'slot'");
    attr.reset();
    checkpoint_slot = slot;
    flush();
}

std::map<std::string, Eigen::MatrixXf> recorder::impl::read_matrices(hid_t parent) const {
    std::map<std::string, Eigen::MatrixXf> out;
    for (const auto& name: members(parent)) {
        h5_handle d = open_dataset(parent, name);
        const auto dims = dims_of(d.get());
        if (dims.size() != 2)
            throw input_error(path + ": damaged checkpoint matrix '" + name + "'");
        const auto values = read_vector<float>(parent, name, H5T_NATIVE_FLOAT);
        out[name] = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
            values.data(), Eigen::Index(dims[0]), Eigen::Index(dims[1]));
    }
    return out;
}

hsize_t recorder::impl::read_checkpoint() {
    if (!exists(file.get(), "checkpoint"))
        throw input_error(path + ": no checkpoint to resume from (the run was recorded before checkpoints "
                                 "existed, or was killed before its first one)");
    h5_handle root = open_group(file.get(), "checkpoint");
    const int format = read_scalar_attribute<int>(root.get(), "format_version", H5T_NATIVE_INT);
    if (format != checkpoint_format)
        throw input_error(path + ": its checkpoint has format version " + std::to_string(format) +
                          "; this counterstream reads version " + std::to_string(checkpoint_format));
    checkpoint_slot = read_scalar_attribute<int>(root.get(), "slot", H5T_NATIVE_INT);
    if (checkpoint_slot != 0 && checkpoint_slot != 1)
        throw input_error(path + ": no complete checkpoint to resume from (killed while writing the first)");
    h5_handle g = open_group(root.get(), std::to_string(checkpoint_slot));
    h5_handle ints = open_group(g.get(), "integers");
    for (const auto& name: members(ints.get()))
        resumed.integers[name] = read_vector<std::int64_t>(ints.get(), name, H5T_NATIVE_INT64);
    h5_handle reals = open_group(g.get(), "reals");
    for (const auto& name: members(reals.get()))
        resumed.reals[name] = read_vector<double>(reals.get(), name, H5T_NATIVE_DOUBLE);
    h5_handle mats = open_group(g.get(), "matrices");
    resumed.matrices = read_matrices(mats.get());
    if (exists(g.get(), "rates")) {
        h5_handle rates = open_group(g.get(), "rates");
        resumed.rates = read_matrices(rates.get());
    }
    if (exists(g.get(), "optimizer")) {
        h5_handle moments = open_group(g.get(), "optimizer");
        resumed.optimizer = read_matrices(moments.get());
    }
    h5_handle rec = open_group(g.get(), "recording");
    const auto rows = read_vector<std::int64_t>(rec.get(), "metric_rows", H5T_NATIVE_INT64);
    h5_handle snaps = open_group(rec.get(), "snapshots");
    for (const auto& name: members(snaps.get()))
        snapshots_at_checkpoint[name] = hsize_t(read_vector<std::int64_t>(snaps.get(), name, H5T_NATIVE_INT64).at(0));
    if (exists(rec.get(), "reports")) {
        h5_handle reports = open_group(rec.get(), "reports");
        for (const auto& name: members(reports.get()))
            resumed.report_frames[name] = read_vector<std::int64_t>(reports.get(), name, H5T_NATIVE_INT64).at(0);
    }
    return hsize_t(rows.at(0));
}

void recorder::impl::reopen_metric(const std::string& name, hsize_t rows) {
    h5_handle d = open_dataset(metrics_group.get(), name);
    check(H5Dset_extent(d.get(), &rows), "H5Dset_extent '/metrics/", name, "'");
    h5_handle space = checked(H5Dget_space(d.get()), H5Sclose, "H5Dget_space");
    metric& m = metrics.emplace(name, metric{std::move(d), std::move(space)}).first->second;
    if (name == "step")
        step_metric = &m;
    n_rows = rows;
}

void recorder::impl::reopen_weight_group(const std::string& name) {
    weight_group g;
    g.group = open_group(weights_group.get(), name);
    g.data = open_dataset(g.group.get(), "data");
    g.step = open_dataset(g.group.get(), "step");
    if (exists(g.group.get(), "time_ms"))
        g.time = open_dataset(g.group.get(), "time_ms");
    const auto dims = dims_of(g.data.get());
    if (dims.size() != 3)
        throw input_error(path + ": damaged recording: '/weights/" + name + "/data'");
    g.rows = Eigen::Index(dims[1]);
    g.cols = Eigen::Index(dims[2]);
    const auto at = snapshots_at_checkpoint.find(name);
    g.n_snapshots = at == snapshots_at_checkpoint.end() ? 0 : at->second;
    const std::array<hsize_t, 3> kept = {g.n_snapshots, dims[1], dims[2]};
    check(H5Dset_extent(g.data.get(), kept.data()), "H5Dset_extent '/weights/", name, "/data'");
    check(H5Dset_extent(g.step.get(), &g.n_snapshots), "H5Dset_extent '/weights/", name, "/step'");
    if (g.time.get() >= 0) {
        check(H5Dset_extent(g.time.get(), &g.n_snapshots), "H5Dset_extent '/weights/", name, "/time_ms'");
        g.time_space = checked(H5Dget_space(g.time.get()), H5Sclose, "H5Dget_space");
    }
    g.data_space = checked(H5Dget_space(g.data.get()), H5Sclose, "H5Dget_space");
    g.step_space = checked(H5Dget_space(g.step.get()), H5Sclose, "H5Dget_space");
    const std::array<hsize_t, 3> chunk = {1, dims[1], dims[2]};
    g.data_mem_space = checked(H5Screate_simple(3, chunk.data(), nullptr), H5Sclose, "H5Screate_simple");
    weights.emplace(name, std::move(g));
}

const checkpoint& recorder::resumed_from() const { return impl_->resumed; }

const std::vector<std::int64_t>& checkpoint::integers_of(const std::string& name, std::size_t n,
                                                         const std::string& file) const {
    const auto it = integers.find(name);
    if (it == integers.end() || (n > 0 && it->second.size() != n))
        throw input_error(file + ": damaged checkpoint (integers/" + name + ")");
    return it->second;
}

const std::vector<double>& checkpoint::reals_of(const std::string& name, std::size_t n, const std::string& file) const {
    const auto it = reals.find(name);
    if (it == reals.end() || (n > 0 && it->second.size() != n))
        throw input_error(file + ": damaged checkpoint (reals/" + name + ")");
    return it->second;
}

const Eigen::MatrixXf& checkpoint::optimizer_of(const std::string& name, Eigen::Index rows, Eigen::Index cols,
                                                const std::string& file) const {
    const auto it = optimizer.find(name);
    if (it == optimizer.end() || it->second.rows() != rows || it->second.cols() != cols)
        throw input_error(file + ": damaged checkpoint (optimizer/" + name + ")");
    return it->second;
}

void recorder::write_checkpoint(const checkpoint& cp) {
    hdf5_guard lock(hdf5_mutex());
    impl_->write_checkpoint(cp);
}

} // namespace counterstream
