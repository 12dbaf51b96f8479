// emit_circuit: the expanded circuit as YAML, the explicit form that every
// recording stores and parse_circuit reads back.
#include "sim/circuit.hpp"

#include <yaml-cpp/yaml.h>

namespace counterstream {

namespace {

void emit_factors(YAML::Emitter& out, const std::vector<factor>& fs) {
    if (fs.size() == 1) {
        out << fs[0].str();
        return;
    }
    out << YAML::Flow << YAML::BeginSeq;
    for (const auto& f: fs)
        out << f.str();
    out << YAML::EndSeq;
}

} // namespace

std::string emit_circuit(const circuit_spec& c) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "eta_scale" << YAML::Value << format_number(c.eta_scale);
    out << YAML::Key << "populations" << YAML::Value << YAML::BeginMap;
    for (const auto& p: c.populations) {
        out << YAML::Key << p.name << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "size" << YAML::Value << p.size;
        if (p.role != population_role::none)
            out << YAML::Key << "role" << YAML::Value << to_string(p.role);
        if (p.role == population_role::error) {
            out << YAML::Key << "loss" << YAML::Value << p.loss;
            out << YAML::Key << "of" << YAML::Value << p.of;
        }
        if (p.role == population_role::none) {
            out << YAML::Key << "activation" << YAML::Value << p.activation;
            out << YAML::Key << "gate" << YAML::Value << p.gate;
            if (p.apical_gain != 0)
                out << YAML::Key << "apical_gain" << YAML::Value << format_number(p.apical_gain);
            if (p.conductance) {
                out << YAML::Key << "dynamics" << YAML::Value << YAML::BeginMap;
                out << YAML::Key << "kind" << YAML::Value << "conductance";
                out << YAML::Key << "g_leak" << YAML::Value << format_number(p.conductance->leak);
                out << YAML::Key << "g_basal" << YAML::Value << format_number(p.conductance->basal);
                out << YAML::Key << "g_apical" << YAML::Value << format_number(p.conductance->apical);
                out << YAML::Key << "g_soma" << YAML::Value << format_number(p.conductance->soma);
                out << YAML::EndMap;
            }
        }
        if (p.tau != 0)
            out << YAML::Key << "tau" << YAML::Value << format_number(p.tau);
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    out << YAML::Key << "synapses" << YAML::Value << YAML::BeginMap;
    for (const auto& s: c.synapses) {
        out << YAML::Key << s.name << YAML::Value << YAML::Flow << YAML::BeginMap;
        out << YAML::Key << "from" << YAML::Value << s.from;
        out << YAML::Key << "to" << YAML::Value << s.to;
        out << YAML::Key << "target" << YAML::Value << to_string(s.target);
        if (s.tie) {
            out << YAML::Key << "tie" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "to" << YAML::Value << s.tie->to;
            out << YAML::Key << "transpose" << YAML::Value << s.tie->transpose;
            out << YAML::EndMap;
            out << YAML::EndMap;
            continue;
        }
        out << YAML::Key << "init" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "kind" << YAML::Value << s.init.kind;
        out << YAML::Key << "gain" << YAML::Value << format_number(s.init.params.gain);
        if (s.init.seed)
            out << YAML::Key << "seed" << YAML::Value << *s.init.seed;
        if (!s.init.params.path.empty())
            out << YAML::Key << "path" << YAML::Value << s.init.params.path;
        if (!s.init.params.dataset.empty())
            out << YAML::Key << "dataset" << YAML::Value << s.init.params.dataset;
        out << YAML::EndMap;
        out << YAML::Key << "plastic" << YAML::Value << s.plastic;
        if (s.rule) {
            const auto& r = *s.rule;
            out << YAML::Key << "rule" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "post" << YAML::Value;
            emit_factors(out, r.post);
            out << YAML::Key << "pre" << YAML::Value;
            emit_factors(out, r.pre);
            if (r.eta)
                out << YAML::Key << "eta" << YAML::Value << format_number(*r.eta);
            if (r.tau)
                out << YAML::Key << "tau" << YAML::Value << format_number(*r.tau);
            out << YAML::Key << "decay" << YAML::Value << r.decay;
            out << YAML::Key << "gamma" << YAML::Value << format_number(r.gamma);
            if (r.saturation > 0)
                out << YAML::Key << "saturation" << YAML::Value << format_number(r.saturation);
            out << YAML::EndMap;
        }
        if (s.mirror) {
            out << YAML::Key << "mirror" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "of" << YAML::Value << s.mirror->of;
            out << YAML::Key << "eta" << YAML::Value << format_number(s.mirror->eta);
            out << YAML::Key << "gamma" << YAML::Value << format_number(s.mirror->gamma);
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

} // namespace counterstream
