#include "analysis/recording.hpp"

#include "sim/error.hpp"

#include <algorithm>

namespace counterstream::analysis {

namespace {

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
    static_cast<std::vector<std::string>*>(out)->push_back(name);
    return 0;
}

std::vector<std::int64_t> read_steps(hid_t file, const std::string& path, hsize_t n) {
    std::vector<std::int64_t> out(n);
    if (n == 0)
        return out;
    h5::id d(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
    if (!d.valid() || H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
        return {};
    return out;
}

} // namespace

recording::recording(const std::string& file, bool writable, const std::string& root)
    : name_(root.empty() ? file : file + ":" + root), root_(root) {
    h5::quiet();
    h5::id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    // Reading a recording a running writer holds needs locking off; writing
    // keeps it on, so that a file in use is reported instead of corrupted.
    if (!writable)
        H5Pset_file_locking(fapl.get(), false, true);
    const hid_t f = H5Fopen(file.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get());
    if (f < 0)
        throw input_error(file + ": cannot open as HDF5 (" + h5::error_text() + ")");
    file_ = h5::id(f, H5Fclose);

    if (!root.empty() && !h5::exists(f, root))
        throw input_error(name_ + ": no such group");
    const h5::id top(H5Oopen(f, root.empty() ? "/" : root.c_str(), H5P_DEFAULT), H5Oclose);
    const std::string format = h5::string_attribute(top.get(), "format");
    if (format != "counterstream-run" || !h5::exists(f, root + "/config/circuit"))
        throw input_error(name_ + ": not a counterstream recording (" +
                          (format.empty() ? std::string("no format attribute")
                                          : "format is '" + format + "', expected 'counterstream-run'") +
                          (format == "counterstream-run" ? ", no /config/circuit" : "") + ")");
    circuit_ = h5::string_dataset(f, root + "/config/circuit", name_);
    if (h5::exists(f, root + "/config/protocol"))
        protocol_ = h5::string_dataset(f, root + "/config/protocol", name_);

    std::vector<std::string> names;
    if (h5::exists(f, root + "/weights")) {
        h5::id w(H5Gopen2(f, (root + "/weights").c_str(), H5P_DEFAULT), H5Gclose);
        if (w.valid())
            H5Literate(w.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &names);
    }
    hsize_t n = 0;
    bool first = true;
    std::map<std::string, std::vector<std::int64_t>> steps;
    for (const auto& g: names) {
        const std::string data = root + "/weights/" + g + "/data", step = root + "/weights/" + g + "/step";
        const auto dd = h5::dims(f, data), ds = h5::dims(f, step);
        if (dd.size() != 3 || ds.size() != 1)
            continue;
        const hsize_t k = std::min(dd[0], ds[0]);
        n = first ? k : std::min(n, k);
        first = false;
        steps[g] = read_steps(f, step, ds[0]);
        stored s;
        s.data = h5::id(H5Dopen2(f, data.c_str(), H5P_DEFAULT), H5Dclose);
        s.rows = dd[1];
        s.cols = dd[2];
        data_.emplace(g, std::move(s));
        groups_.push_back(g);
    }
    if (groups_.empty() || n == 0)
        throw input_error(name_ + ": no weight snapshots (" +
                          (groups_.empty() ? std::string("nothing under /weights") : "/weights/*/data are empty") +
                          ")");
    steps_.assign(steps[groups_[0]].begin(), steps[groups_[0]].begin() + std::ptrdiff_t(n));
    for (const auto& g: groups_) {
        const auto& s = steps[g];
        if (s.size() < n || !std::equal(steps_.begin(), steps_.end(), s.begin()))
            throw input_error(name_ + ": /weights/" + g + "/step differs from /weights/" + groups_[0] +
                              "/step (groups snapshotted at different steps)");
    }
}

Eigen::MatrixXf recording::snapshot(const std::string& group, std::size_t k) const {
    const auto it = data_.find(group);
    if (it == data_.end() || k >= steps_.size())
        throw internal_error("recording::snapshot: no snapshot " + std::to_string(k) + " of '" + group + "'");
    const auto& s = it->second;
    h5::id space(H5Dget_space(s.data.get()), H5Sclose);
    const hsize_t start[3] = {hsize_t(k), 0, 0}, count[3] = {1, s.rows, s.cols};
    const hsize_t mem_dims[2] = {s.rows, s.cols};
    h5::id mem(H5Screate_simple(2, mem_dims, nullptr), H5Sclose);
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> buf(s.rows, s.cols);
    if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
        H5Dread(s.data.get(), H5T_NATIVE_FLOAT, mem.get(), space.get(), H5P_DEFAULT, buf.data()) < 0)
        throw input_error(name_ + ": /weights/" + group + "/data: cannot read snapshot " + std::to_string(k) + " (" +
                          h5::error_text() + ")");
    return buf;
}

void recording::close() {
    data_.clear();
    file_.reset();
}

} // namespace counterstream::analysis
