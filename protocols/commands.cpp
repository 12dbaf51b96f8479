#include "protocols/commands.hpp"

#include "protocols/run_document.hpp"
#include "protocols/sweep.hpp"
#include "protocols/sweep_resume.hpp"
#include "sim/circuit.hpp"
#include "sim/error.hpp"
#include "sim/recorder.hpp"
#include "sim/stack.hpp"

#include <csignal>
#include <filesystem>
#include <ostream>

namespace counterstream {

int exit_code(const train_result& result) {
    if (result.diverged)
        return 3;
    if (result.interrupted)
        return 128 + (result.stop_signal > 0 ? result.stop_signal : SIGINT);
    return 0;
}

void check_not_input(const std::string& output, const std::string& input) {
    std::error_code ec;
    if (!output.empty() && std::filesystem::equivalent(output, input, ec))
        throw input_error(output + ": is the input file itself; write the output to another file");
}

namespace {

run_outcome train_into(const run_document& doc, const library& lib, const std::string& output,
                       const std::string& command_line, int threads, bool resume, bool progress,
                       const std::function<void(const progress_update&)>& on_progress, std::ostream& out) {
    train_options opt;
    opt.output = output;
    opt.command_line = command_line;
    opt.progress = progress;
    opt.threads = threads;
    opt.resume = resume;
    opt.on_progress = on_progress;
    run_outcome o;
    o.output = output;
    o.result = train(doc, lib, opt, out);
    o.exit_code = exit_code(o.result);
    return o;
}

} // namespace

run_outcome run_command(const run_request& req, const library& lib, std::ostream& out) {
    const auto doc = req.root ? load_run(req.file, *req.root, req.sets, lib) : load_run(req.file, req.sets, lib);
    std::string output = req.output;
    if (output.empty())
        output = "runs/" + std::filesystem::path(req.file).stem().string() + ".h5";
    if (!req.root)
        check_not_input(output, req.file);
    std::error_code ec;
    if (!req.overwrite && std::filesystem::exists(output, ec) && !std::filesystem::is_directory(output, ec))
        throw input_error(output + ": exists (pass --overwrite to replace it)");
    out << "run " << req.file << " -> " << output << '\n';
    if (!doc.note.empty())
        out << "note: " << doc.note << '\n';
    out << std::flush;
    return train_into(doc, lib, output, req.command_line, req.threads, false, req.progress, req.on_progress, out);
}

run_outcome resume_command(const std::string& file, const std::string& command_line, int threads, const library& lib,
                           std::ostream& out, const std::function<void(const progress_update&)>& on_progress) {
    run_outcome o;
    if (const auto output = interrupted_sweep(file)) {
        o.output = output->string();
        o.exit_code = resume_sweep(*output, threads, lib, out);
        return o;
    }
    const std::string format = hdf5_format(file);
    if (format == "counterstream-sweep" || format == "counterstream-benchmark") {
        out << file << ": a merged " << format.substr(format.find('-') + 1)
            << ": every point finished, nothing to resume\n";
        o.output = file;
        return o;
    }
    std::error_code ec;
    if (!std::filesystem::exists(file, ec))
        throw input_error(file + ": cannot open: no such recording, and no " + file +
                          ".points folder of an interrupted sweep or benchmark");
    const auto config = recorder::read_config(file);
    YAML::Node root;
    root["circuit"] = YAML::Load(config.circuit_yaml);
    root["protocol"] = YAML::Load(config.protocol_yaml);
    // Files written before emit_protocol left batch_size out of continuous
    // protocols hold one, which a continuous-mode document may not.
    if (root["protocol"].IsMap() && root["protocol"]["mode"].as<std::string>("") == "continuous")
        root["protocol"].remove("batch_size");
    const auto doc = load_run(file + ":/config", root, {}, lib);
    out << "resume " << file << '\n' << std::flush;
    return train_into(doc, lib, file, command_line, threads, true, true, on_progress, out);
}

// A run document (circuit: and protocol:) is checked as `run` checks it, by
// its protocol's mode, and its circuit printed as written (without the
// discrete conversion of continuous-mode keys, which the run's /config
// records). A circuit file (or circuit: alone) has no mode: it is checked by
// the rules both modes share and continuous mode's loop rule, the more
// permissive one (a loop through a population with tau > 0 passes; a
// discrete run refuses it).
std::string expand_command(const std::string& file, const std::optional<YAML::Node>& given,
                           const std::vector<std::string>& sets, const library& lib) {
    const YAML::Node root = given ? *given : load_yaml_file(file);
    const view doc = document_view(file, root, parse_sets(sets));
    if (doc["circuit"].defined() && doc["protocol"].defined())
        return emit_circuit(check_run(file, root, sets, lib).circuit);
    diagnostics diag;
    reader rd(diag);
    const bool run_document = doc["circuit"].defined();
    const auto spec = parse_circuit(run_document ? doc["circuit"] : doc, rd, lib);
    if (run_document)
        rd.check_keys(doc, {"circuit", "protocol"});
    if (diag.empty())
        check_circuit(spec, diag, false, run_document ? "circuit." : "");
    diag.raise();
    return emit_circuit(spec);
}

} // namespace counterstream
