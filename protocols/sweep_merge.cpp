// Writing a sweep's output: root attributes, the tables as groups of 1-D
// datasets, and each point's recording copied in whole
// (protocols/sweep_merge.hpp).
#include "protocols/sweep_merge.hpp"

#include "sim/error.hpp"
#include "sim/hdf5_handle.hpp"
#include "sim/recorder.hpp"

#include <hdf5.h>
#include <hdf5_hl.h>

#include <charconv>
#include <cstdint>
#include <limits>
#include <variant>

#ifndef COUNTERSTREAM_VERSION
#define COUNTERSTREAM_VERSION "unknown"
#endif

namespace counterstream {

namespace {

[[noreturn]] void fail(const std::string& what) {
    const std::string desc = hdf5_innermost_error();
    throw internal_error("sweep output: HDF5 " + what + " failed (" + (desc.empty() ? "unknown error" : desc) + ")");
}

void check(herr_t status, const std::string& what) {
    if (status < 0)
        fail(what);
}

// `id` owned, or the failure of `what` that returned it.
h5_handle checked(hid_t id, h5_handle::close_fn close, const std::string& what) {
    if (id < 0)
        fail(what);
    return h5_handle(id, close);
}

h5_handle string_type() {
    h5_handle t = checked(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
    check(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
    check(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
    return t;
}

h5_handle ordered_group(hid_t parent, const std::string& name) {
    const h5_handle gcpl = checked(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "H5Pcreate");
    // Readers that follow creation order see the table's columns in order.
    check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
          "H5Pset_link_creation_order");
    return checked(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose,
                   "H5Gcreate2 '" + name + "'");
}

void string_attribute(hid_t object, const std::string& name, const std::string& value) {
    const h5_handle type = string_type();
    const h5_handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    if (H5Aexists(object, name.c_str()) > 0)
        check(H5Adelete(object, name.c_str()), "H5Adelete");
    const h5_handle a = checked(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                H5Aclose, "H5Acreate2 '" + name + "'");
    const char* text = value.c_str();
    check(H5Awrite(a.get(), type.get(), &text), "H5Awrite '" + name + "'");
}

void strings_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values) {
    const h5_handle type = string_type();
    const hsize_t n = values.size();
    const h5_handle space = checked(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
    const h5_handle a = checked(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                H5Aclose, "H5Acreate2 '" + name + "'");
    std::vector<const char*> texts;
    for (const auto& v: values)
        texts.push_back(v.c_str());
    check(H5Awrite(a.get(), type.get(), texts.data()), "H5Awrite '" + name + "'");
}

template <class T>
void scalar_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t mem_type, T value) {
    const h5_handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    const h5_handle a = checked(H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                                H5Aclose, "H5Acreate2 '" + name + "'");
    check(H5Awrite(a.get(), mem_type, &value), "H5Awrite '" + name + "'");
}

void string_dataset(hid_t parent, const std::string& name, const std::string& value) {
    const h5_handle type = string_type();
    const h5_handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
    const h5_handle d =
        checked(H5Dcreate2(parent, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Dclose, "H5Dcreate2 '" + name + "'");
    const char* text = value.c_str();
    check(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text), "H5Dwrite '" + name + "'");
}

// A 1-D dataset of n elements; `data` is in memory type `mem_type`.
void column(hid_t parent, const std::string& name, hid_t file_type, hid_t mem_type, hsize_t n, const void* data) {
    const h5_handle space = checked(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
    const h5_handle dcpl = checked(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
    // No modification times: the table's objects are the same bytes every time.
    check(H5Pset_obj_track_times(dcpl.get(), false), "H5Pset_obj_track_times");
    const h5_handle d =
        checked(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                H5Dclose, "H5Dcreate2 '" + name + "'");
    check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "H5Dwrite '" + name + "'");
}

// H5Ocopy leaves the references of dimension scales (DIMENSION_LIST, a vlen
// of references, and REFERENCE_LIST) dangling (HDF5 issue #6200), so they are
// dropped from the copy under `copy` and the scales attached again as in `src`.
void reattach_dimension_scales(hid_t src, hid_t copy) {
    std::vector<std::string> objects;
    const auto collect = [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
        if (info->type == H5L_TYPE_HARD)
            static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
    };
    check(H5Lvisit(src, H5_INDEX_NAME, H5_ITER_INC, collect, &objects), "H5Lvisit");
    struct attachment {
        std::string dataset, scale;
        unsigned dim;
    };
    std::vector<attachment> attachments;
    for (const auto& name: objects) {
        if (H5Aexists_by_name(src, name.c_str(), "DIMENSION_LIST", H5P_DEFAULT) <= 0)
            continue;
        const h5_handle d = checked(H5Dopen2(src, name.c_str(), H5P_DEFAULT), H5Dclose, "H5Dopen2 '" + name + "'");
        const h5_handle space = checked(H5Dget_space(d.get()), H5Sclose, "H5Dget_space");
        const int rank = H5Sget_simple_extent_ndims(space.get());
        for (int dim = 0; dim < rank; ++dim) {
            std::vector<std::string> scales;
            const auto scale_name = [](hid_t, unsigned, hid_t scale, void* data) -> herr_t {
                const ssize_t n = H5Iget_name(scale, nullptr, 0);
                if (n <= 0)
                    return -1;
                std::string path(std::size_t(n) + 1, '\0');
                H5Iget_name(scale, path.data(), path.size());
                path.resize(std::size_t(n));
                static_cast<std::vector<std::string>*>(data)->push_back(path.substr(1)); // relative to the root
                return 0;
            };
            if (H5DSget_num_scales(d.get(), unsigned(dim)) <= 0)
                continue;
            check(H5DSiterate_scales(d.get(), unsigned(dim), nullptr, scale_name, &scales),
                  "H5DSiterate_scales '" + name + "'");
            for (const auto& s: scales)
                attachments.push_back({name, s, unsigned(dim)});
        }
    }
    for (const auto& name: objects)
        for (const char* attr: {"DIMENSION_LIST", "REFERENCE_LIST"})
            if (H5Aexists_by_name(copy, name.c_str(), attr, H5P_DEFAULT) > 0)
                check(H5Adelete_by_name(copy, name.c_str(), attr, H5P_DEFAULT), "H5Adelete_by_name");
    for (const auto& a: attachments) {
        const h5_handle d =
            checked(H5Dopen2(copy, a.dataset.c_str(), H5P_DEFAULT), H5Dclose, "H5Dopen2 '" + a.dataset + "'");
        const h5_handle s =
            checked(H5Dopen2(copy, a.scale.c_str(), H5P_DEFAULT), H5Dclose, "H5Dopen2 '" + a.scale + "'");
        check(H5DSattach_scale(d.get(), s.get(), a.dim), "H5DSattach_scale '" + a.dataset + "'");
    }
}

// A group of 1-D datasets, one per column, listed in order by its attribute `columns`.
h5_handle write_table(hid_t parent, const std::string& name, const std::vector<table_column>& columns) {
    h5_handle table = ordered_group(parent, name);
    std::vector<std::string> names;
    for (const auto& c: columns) {
        if (const auto* v = std::get_if<std::vector<double>>(&c.values)) {
            column(table.get(), c.name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v->size(), v->data());
        } else if (const auto* v = std::get_if<std::vector<std::int64_t>>(&c.values)) {
            column(table.get(), c.name, H5T_STD_I64LE, H5T_NATIVE_INT64, v->size(), v->data());
        } else if (const auto* v = std::get_if<std::vector<std::uint8_t>>(&c.values)) {
            column(table.get(), c.name, H5T_STD_U8LE, H5T_NATIVE_UINT8, v->size(), v->data());
        } else {
            const h5_handle type = string_type();
            std::vector<const char*> texts;
            for (const auto& t: std::get<std::vector<std::string>>(c.values))
                texts.push_back(t.c_str());
            column(table.get(), c.name, type.get(), type.get(), texts.size(), texts.data());
        }
        names.push_back(c.name);
    }
    strings_attribute(table.get(), "columns", names);
    return table;
}

// The swept values, then the final metrics of every point.
std::vector<table_column> points_table(const sweep_document& doc, const std::vector<point_result>& results) {
    std::vector<table_column> table;
    for (std::size_t c = 0; c < doc.columns.size(); ++c) {
        if (doc.numeric[c]) {
            std::vector<double> v;
            for (const auto& p: doc.points) {
                double x = std::numeric_limits<double>::quiet_NaN();
                std::from_chars(p.values[c].data(), p.values[c].data() + p.values[c].size(), x);
                v.push_back(x);
            }
            table.push_back({doc.columns[c], v});
        } else {
            std::vector<std::string> v;
            for (const auto& p: doc.points)
                v.push_back(p.values[c]);
            table.push_back({doc.columns[c], v});
        }
    }
    std::vector<std::int64_t> index, steps;
    std::vector<double> test_acc, test_loss, validation_acc, validation_loss, train_loss, train_acc;
    std::vector<std::uint8_t> diverged;
    for (const auto& r: results) {
        index.push_back(r.index);
        test_acc.push_back(r.test_accuracy);
        test_loss.push_back(r.test_loss);
        validation_acc.push_back(r.validation_accuracy);
        validation_loss.push_back(r.validation_loss);
        train_loss.push_back(r.train_loss);
        train_acc.push_back(r.train_accuracy);
        diverged.push_back(r.status == point_status::diverged ? 1 : 0);
        steps.push_back(r.steps);
    }
    table.push_back({"point", index});
    table.push_back({"final_test_accuracy", test_acc});
    table.push_back({"final_test_loss", test_loss});
    if (holds_validation(doc)) {
        table.push_back({"final_validation_accuracy", validation_acc});
        table.push_back({"final_validation_loss", validation_loss});
    }
    table.push_back({"final_train_loss", train_loss});
    table.push_back({"final_train_accuracy", train_acc});
    table.push_back({"diverged", diverged});
    table.push_back({"steps", steps});
    return table;
}

} // namespace

void write_sweep_file(const std::filesystem::path& path, const std::filesystem::path& points_dir,
                      const sweep_document& doc, const std::vector<point_result>& results, const merge_info& info,
                      const sweep_command& command, const std::vector<table_column>& summary) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const h5_handle fapl = checked(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "H5Pcreate");
    check(H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG), "H5Pset_fclose_degree");
    const h5_handle file = checked(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose,
                                   "H5Fcreate '" + path.string() + "'");
    const hid_t root = file.get();
    const auto n = hsize_t(results.size());
    string_attribute(root, "format", command.format);
    scalar_attribute(root, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, 1);
    string_attribute(root, "software_version", COUNTERSTREAM_VERSION);
    string_attribute(root, "created", utc_now_iso8601());
    string_attribute(root, "command_line", info.command_line);
    scalar_attribute(root, "points", H5T_STD_I64LE, H5T_NATIVE_INT64, std::int64_t(n));
    scalar_attribute(root, "ranks", H5T_STD_I32LE, H5T_NATIVE_INT, info.ranks);
    scalar_attribute(root, "threads", H5T_STD_I32LE, H5T_NATIVE_INT, info.threads);

    const h5_handle sweep = checked(H5Gcreate2(root, command.group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                    H5Gclose, "H5Gcreate2 '" + command.group + "'");
    string_dataset(sweep.get(), "config", doc.text);
    if (!doc.base.empty())
        string_dataset(sweep.get(), "base", file_text(doc.base));
    if (!summary.empty())
        write_table(sweep.get(), "table", summary);
    const h5_handle table = write_table(sweep.get(), command.points_table, points_table(doc, results));
    strings_attribute(table.get(), "parameters", doc.columns);

    std::vector<double> seconds;
    for (const auto& r: results)
        seconds.push_back(r.seconds);
    {
        const h5_handle space = checked(H5Screate_simple(1, &n, nullptr), H5Sclose, "H5Screate_simple");
        const h5_handle d = checked(
            H5Dcreate2(sweep.get(), "seconds", H5T_IEEE_F64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
            H5Dclose, "H5Dcreate2 'seconds'");
        check(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, seconds.data()), "H5Dwrite");
        string_attribute(d.get(), "units", "s");
    }

    // Each point's recording, whole: copying its root group copies its root
    // attributes and keeps the dimension-scale references inside it valid.
    const h5_handle points = ordered_group(root, "points");
    for (const auto& r: results) {
        const auto src_path = point_file(points_dir, r.index);
        const h5_handle src = checked(H5Fopen(src_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
                                      "H5Fopen '" + src_path.string() + "'");
        const std::string name = std::to_string(r.index);
        check(H5Ocopy(src.get(), "/", points.get(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
              "H5Ocopy '" + src_path.string() + "'");
        const h5_handle g =
            checked(H5Gopen2(points.get(), name.c_str(), H5P_DEFAULT), H5Gclose, "H5Gopen2 '" + name + "'");
        reattach_dimension_scales(src.get(), g.get());
        scalar_attribute(g.get(), "point", H5T_STD_I64LE, H5T_NATIVE_INT64, r.index);
        // Attributes live in the object header; keep the log well under its 64 KiB.
        constexpr std::size_t max_log = 32768;
        string_attribute(g.get(), "log", r.log.size() <= max_log ? r.log : r.log.substr(r.log.size() - max_log));
    }
    check(H5Fflush(root, H5F_SCOPE_GLOBAL), "H5Fflush");
}

} // namespace counterstream
