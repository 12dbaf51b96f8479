// What a sweep keeps to be resumed, and how a resume finds where each point
// stands (protocols/sweep_resume.hpp).
#include "protocols/sweep_resume.hpp"

#include "protocols/benchmark.hpp"
#include "protocols/run_support.hpp"
#include "protocols/sweep_print.hpp"
#include "sim/error.hpp"
#include "sim/hdf5_handle.hpp"
#include "sim/hdf5_lock.hpp"
#include "sim/join.hpp"
#include "sim/recorder.hpp"

#include <hdf5.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <fstream>
#include <system_error>

namespace counterstream {

namespace {

constexpr const char* record_name = "resume.yaml";

// Where point `index` keeps its result once finished: point-NNNNN.result.
std::filesystem::path result_file(const std::filesystem::path& dir, std::int64_t index) {
    auto path = point_file(dir, index);
    return path.replace_extension(".result");
}

// Writes `bytes` to `path` whole or not at all: a temporary file renamed over it.
bool write_atomically(const std::filesystem::path& path, const std::string& bytes) {
    auto temporary = path;
    temporary += ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << bytes;
        out.flush();
        if (!out)
            return false;
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    return !ec;
}

// What resume.yaml holds.
struct resume_record {
    std::string command, file, document, command_line;
    std::vector<std::string> sets;
    int threads = 0, ensemble = 0;
    bool overwrite = false;
};

resume_record read_resume_record(const std::filesystem::path& dir) {
    const std::string path = (dir / record_name).string();
    resume_record r;
    try {
        const YAML::Node root = YAML::LoadFile(path);
        r.command = root["command"].as<std::string>();
        r.file = root["file"].as<std::string>();
        r.document = root["document"].as<std::string>();
        r.command_line = root["command_line"].as<std::string>();
        r.sets = root["sets"].as<std::vector<std::string>>();
        r.threads = root["threads"].as<int>();
        r.ensemble = root["ensemble"].as<int>();
        r.overwrite = root["overwrite"].as<bool>();
    } catch (const YAML::Exception& e) {
        throw input_error(path + ": damaged resume record (" + e.msg + ")");
    }
    return r;
}

// Whether the recording `file` holds a complete checkpoint (the one its
// recorder would resume from).
bool holds_checkpoint(const std::filesystem::path& file) {
    const hdf5_guard lock(hdf5_mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const h5_handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (f.get() < 0 || H5Lexists(f.get(), "checkpoint", H5P_DEFAULT) <= 0)
        return false;
    const h5_handle g(H5Gopen2(f.get(), "checkpoint", H5P_DEFAULT), H5Gclose);
    if (g.get() < 0 || H5Aexists(g.get(), "slot") <= 0)
        return false;
    const h5_handle a(H5Aopen(g.get(), "slot", H5P_DEFAULT), H5Aclose);
    int slot = -1;
    if (a.get() < 0 || H5Aread(a.get(), H5T_NATIVE_INT, &slot) < 0)
        return false;
    return slot == 0 || slot == 1;
}

// The result saved for point `index` in `dir`, when there is a whole one of a
// finished point.
std::optional<point_result> saved_result(const std::filesystem::path& dir, std::int64_t index, std::size_t points) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(result_file(dir, index), ec))
        return std::nullopt;
    try {
        point_result r = decode_results({file_text(result_file(dir, index))}, points).at(std::size_t(index));
        if (r.index == index && (r.status == point_status::done || r.status == point_status::diverged))
            return r;
    } catch (const std::exception&) {
        // Unreadable: the point's recording decides.
    }
    return std::nullopt;
}

} // namespace

std::filesystem::path points_folder(const std::filesystem::path& output) { return output.string() + ".points"; }

std::optional<std::filesystem::path> interrupted_sweep(const std::filesystem::path& path) {
    std::error_code ec;
    std::string s = path.string();
    while (s.size() > 1 && s.back() == '/')
        s.pop_back();
    const std::string suffix = ".points";
    if (s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        std::filesystem::is_regular_file(std::filesystem::path(s) / record_name, ec))
        return s.substr(0, s.size() - suffix.size());
    if (std::filesystem::is_regular_file(points_folder(s) / record_name, ec))
        return std::filesystem::path(s);
    return std::nullopt;
}

std::string hdf5_format(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec))
        return {};
    const hdf5_guard lock(hdf5_mutex());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    if (H5Fis_hdf5(file.c_str()) <= 0)
        return {};
    const h5_handle f(H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    return f.get() < 0 ? std::string() : string_attribute(f.get(), "format");
}

void write_resume_record(const std::filesystem::path& dir, const std::string& command, const sweep_options& opt) {
    std::error_code ec;
    const auto file = std::filesystem::absolute(opt.file, ec).lexically_normal();
    YAML::Emitter e;
    e << YAML::Comment("what `counterstream resume` needs to continue this " + command + "; written when it began");
    e << YAML::BeginMap;
    e << YAML::Key << "command" << YAML::Value << command;
    e << YAML::Key << "file" << YAML::Value << file.string();
    e << YAML::Key << "document" << YAML::Value << YAML::DoubleQuoted << file_text(opt.file);
    e << YAML::Key << "sets" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& s: opt.sets)
        e << YAML::DoubleQuoted << s;
    e << YAML::EndSeq;
    e << YAML::Key << "threads" << YAML::Value << opt.threads;
    e << YAML::Key << "ensemble" << YAML::Value << opt.ensemble;
    e << YAML::Key << "overwrite" << YAML::Value << opt.overwrite;
    e << YAML::Key << "command_line" << YAML::Value << YAML::DoubleQuoted << opt.command_line;
    e << YAML::EndMap;
    if (!write_atomically(dir / record_name, std::string(e.c_str()) + "\n"))
        throw input_error((dir / record_name).string() + ": cannot write the resume record");
}

void clear_resume_state(const std::filesystem::path& dir, std::size_t points) {
    std::error_code ec;
    std::filesystem::remove(dir / record_name, ec);
    for (std::size_t i = 0; i < points; ++i) {
        auto result = result_file(dir, std::int64_t(i));
        std::filesystem::remove(result, ec);
        std::filesystem::remove(result += ".tmp", ec);
    }
}

void save_point_result(const std::filesystem::path& dir, const point_result& r) {
    // Best effort: without its result, a resume continues the point's
    // complete recording, which starts it over to the same bytes.
    write_atomically(result_file(dir, r.index), encode_results({r}));
}

point_survey survey_points(const sweep_document& doc, const std::filesystem::path& dir) {
    const std::size_t n = doc.points.size();
    point_survey survey;
    survey.starts.assign(n, point_start::fresh);
    survey.finished.assign(n, point_result{});
    survey.damaged.assign(n, std::string());
    std::vector<std::string> problems;
    std::error_code ec;
    for (const auto& p: doc.points) {
        const auto i = std::size_t(p.index);
        survey.finished[i].index = p.index;
        const auto file = point_file(dir, p.index);
        if (!std::filesystem::exists(file, ec))
            continue; // never began
        try {
            // Read whether finished or not: the merge copies it whole.
            const stored_config stored = recorder::read_config(file);
            if (auto r = saved_result(dir, p.index, n)) {
                survey.finished[i] = std::move(*r);
                survey.starts[i] = point_start::skip;
                continue;
            }
            if (!holds_checkpoint(file))
                continue; // killed before its first checkpoint: nothing to keep
            const run_info now = recording_info(p.run, "");
            if (stored.circuit_yaml != now.circuit_yaml || stored.protocol_yaml != now.protocol_yaml)
                problems.push_back(file.string() + ": recorded from another circuit or protocol than point " +
                                   std::to_string(p.index) + " (" + point_label(doc, p) +
                                   ") gives now (did a document it reads change?); move it away to run the point "
                                   "again");
            else
                survey.starts[i] = point_start::resume;
        } catch (const input_error& e) {
            survey.damaged[i] = join(e.lines(), "; ");
        }
    }
    if (!problems.empty())
        throw input_error(problems);
    return survey;
}

std::filesystem::path keep_aside(const std::filesystem::path& file) {
    std::error_code ec;
    auto aside = file;
    aside += ".damaged";
    for (int k = 2; std::filesystem::exists(aside, ec); ++k) {
        aside = file;
        aside += ".damaged-" + std::to_string(k);
    }
    std::filesystem::rename(file, aside, ec);
    if (ec)
        throw input_error(file.string() + ": cannot keep the damaged recording aside (" + ec.message() + ")");
    return aside;
}

std::string keep_damaged_aside(const sweep_document& doc, const std::filesystem::path& dir,
                               const point_survey& survey) {
    std::string lines;
    for (const auto& p: doc.points) {
        const std::string& why = survey.damaged[std::size_t(p.index)];
        if (why.empty())
            continue;
        const auto aside = keep_aside(point_file(dir, p.index));
        lines += "point " + std::to_string(p.index) + " starts over: " + why + " (kept as " + aside.string() + ")\n";
    }
    return lines;
}

int resume_sweep(const std::filesystem::path& output, int threads, const library& lib, std::ostream& out) {
    const auto dir = points_folder(output);
    const resume_record r = read_resume_record(dir);
    const std::string record = (dir / record_name).string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(r.file, ec))
        throw input_error(r.file + ": cannot read the " + r.command + " document that " + record + " resumes");
    if (file_text(r.file) != r.document)
        throw input_error(r.file + ": changed since the " + r.command + " began (" + record +
                          " keeps the text it began with); put it back to resume, or start over with --overwrite");
    sweep_options opt;
    opt.file = r.file;
    opt.output = output;
    opt.sets = r.sets;
    opt.threads = threads > 0 ? threads : r.threads;
    opt.ensemble = r.ensemble;
    opt.overwrite = r.overwrite;
    opt.command_line = r.command_line;
    opt.resume = true;
    if (r.command == "sweep")
        return sweep(opt, lib, out);
    if (r.command == "benchmark")
        return benchmark(opt, lib, out);
    throw input_error(record + ": damaged resume record (command '" + r.command + "': expected sweep or benchmark)");
}

} // namespace counterstream
