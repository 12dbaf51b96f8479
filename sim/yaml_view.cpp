#include "sim/yaml_view.hpp"

#include "sim/error.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace counterstream {

std::string location::str() const {
    // Values given on the command line (--set) are named by their option.
    if (line <= 0 || file.rfind("--set", 0) == 0)
        return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

location locate(const YAML::Node& node, const std::string& file) {
    location at{file, 0, 0};
    if (node.IsDefined()) {
        const auto m = node.Mark();
        if (m.line >= 0) {
            at.line = m.line + 1;
            at.col = m.column + 1;
        }
    }
    return at;
}

void diagnostics::error(const location& at, const std::string& key_path, const std::string& message) {
    std::string line = at.str();
    if (!line.empty())
        line += ": ";
    if (!key_path.empty())
        line += key_path + ": ";
    line += message;
    if (std::find(lines_.begin(), lines_.end(), line) == lines_.end())
        lines_.push_back(line);
}

void diagnostics::raise() const {
    if (!lines_.empty())
        throw input_error(lines_);
}

namespace {

// Follows the parser's events with a stack of open maps and sequences.
class duplicate_key_finder : public YAML::EventHandler {
public:
    duplicate_key_finder(const std::string& file, diagnostics& diag) : file_(file), diag_(diag) {}

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override { node_done(nullptr, {}); }
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override { node_done(nullptr, {}); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string& value) override {
        node_done(&value, mark);
    }
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        open(false);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
        open(true);
    }
    void OnMapEnd() override { close(); }

private:
    struct container {
        bool is_map = false;
        std::string path;
        std::map<std::string, YAML::Mark> keys; // a map's plain keys, where each was first given
        bool expect_key = true;                 // a map's next node is a key
        std::string key;                        // a map's key of the value being read
        std::size_t index = 0;                  // a sequence's next element
    };

    std::string child_path() const {
        if (stack_.empty())
            return "";
        const auto& c = stack_.back();
        if (!c.is_map)
            return c.path + "[" + std::to_string(c.index) + "]";
        if (c.expect_key)
            return c.path; // inside a key that is itself a list or a map
        return c.path.empty() ? c.key : c.path + "." + c.key;
    }

    void open(bool is_map) {
        container c;
        c.is_map = is_map;
        c.path = child_path();
        stack_.push_back(std::move(c));
    }

    void close() {
        stack_.pop_back();
        node_done(nullptr, {});
    }

    // A node ended: a scalar (its text), or a null, an alias, a list or a map.
    void node_done(const std::string* scalar, const YAML::Mark& mark) {
        if (stack_.empty())
            return;
        auto& c = stack_.back();
        if (!c.is_map) {
            ++c.index;
            return;
        }
        if (!c.expect_key) {
            c.expect_key = true;
            return;
        }
        c.expect_key = false;
        c.key = scalar ? *scalar : "";
        if (!scalar)
            return;
        const auto [first, inserted] = c.keys.emplace(*scalar, mark);
        if (inserted)
            return;
        diag_.error(location{file_, mark.line + 1, mark.column + 1}, c.path.empty() ? c.key : c.path + "." + c.key,
                    "duplicate key '" + c.key + "' (first given at " + std::to_string(first->second.line + 1) + ":" +
                        std::to_string(first->second.column + 1) + ")");
    }

    const std::string& file_;
    diagnostics& diag_;
    std::vector<container> stack_;
};

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

} // namespace

void check_duplicate_keys(const std::string& text, const std::string& file, diagnostics& diag) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    duplicate_key_finder finder(file, diag);
    parser.HandleNextDocument(finder);
}

std::string closest_name(const std::string& name, const std::vector<std::string>& known) {
    std::string best;
    std::size_t best_d = std::max<std::size_t>(2, name.size() / 3) + 1;
    for (const auto& k: known) {
        const auto d = edit_distance(name, k);
        if (d < best_d) {
            best_d = d;
            best = k;
        }
    }
    return best;
}

std::string unknown_name_message(const std::string& what, const std::string& name,
                                 const std::vector<std::string>& known) {
    const std::string best = closest_name(name, known);
    std::string msg = "unknown " + what + " '" + name + "'";
    if (!best.empty())
        msg += " (did you mean '" + best + "'?)";
    std::string list;
    for (const auto& k: known)
        list += (list.empty() ? "" : ", ") + k;
    msg += " (known: " + list + ")";
    return msg;
}

view::view(YAML::Node node, std::string file, std::string path) : path_(std::move(path)) {
    if (node.IsDefined() && !node.IsNull())
        layers_.push_back({node, std::move(file), path_});
}

view view::with(YAML::Node node, const std::string& file, std::optional<std::string> path) const {
    view v = *this;
    if (!node.IsDefined())
        return v;
    if (node.IsNull()) {
        v.layers_.clear();
        return v;
    }
    // A non-map override replaces the value; a map merges key by key, unless
    // it is tagged !replace.
    if (!node.IsMap() || node.Tag() == "!replace")
        v.layers_.clear();
    else
        std::erase_if(v.layers_, [](const layer& l) { return !l.node.IsMap(); });
    v.layers_.push_back({node, file, std::move(path)});
    return v;
}

view view::operator[](const std::string& key) const {
    view sub;
    sub.path_ = path_.empty() ? key : path_ + "." + key;
    for (const auto& l: layers_) {
        if (!l.node.IsMap())
            continue;
        const YAML::Node child = l.node[key];
        if (!child.IsDefined())
            continue;
        sub = sub.with(child, l.file,
                       l.path ? std::optional<std::string>(l.path->empty() ? key : *l.path + "." + key) : std::nullopt);
    }
    return sub;
}

location view::where() const {
    if (layers_.empty())
        return {};
    return locate(layers_.back().node, layers_.back().file);
}

std::vector<std::string> view::keys() const {
    std::vector<std::string> out;
    for (const auto& l: layers_) {
        if (!l.node.IsMap())
            continue;
        for (const auto& kv: l.node) {
            if (!kv.first.IsScalar())
                continue; // check_keys reports it
            const auto k = kv.first.Scalar();
            if (std::find(out.begin(), out.end(), k) == out.end())
                out.push_back(k);
        }
    }
    // Keys erased by a null in a higher layer are gone.
    std::erase_if(out, [&](const std::string& k) { return !(*this)[k].defined(); });
    return out;
}

std::vector<view> view::elements() const {
    std::vector<view> out;
    if (!is_sequence())
        return out;
    const auto& l = layers_.back();
    for (std::size_t i = 0; i < l.node.size(); ++i)
        out.emplace_back(l.node[i], l.file, path_ + "[" + std::to_string(i) + "]");
    return out;
}

std::string reader::substitute(const view& v, const std::string& text) {
    if (text.find('{') == std::string::npos)
        return text;
    std::string out;
    std::size_t i = 0;
    while (i < text.size()) {
        const auto open = text.find('{', i);
        if (open == std::string::npos) {
            out += text.substr(i);
            break;
        }
        const auto close = text.find('}', open);
        if (close == std::string::npos) {
            error(v, "unclosed placeholder in '" + text + "'");
            return text;
        }
        out += text.substr(i, open - i);
        const std::string name = text.substr(open + 1, close - open - 1);
        const auto it = vars_ ? vars_->find(name) : decltype(vars_->end()){};
        if (!vars_ || it == vars_->end()) {
            std::vector<std::string> known;
            if (vars_)
                for (const auto& kv: *vars_)
                    known.push_back(kv.first);
            error(v, vars_ ? unknown_name_message("placeholder", "{" + name + "}", known)
                           : "placeholder '{" + name + "}' outside a motif");
            return text;
        }
        out += it->second;
        i = close + 1;
    }
    return out;
}

std::optional<std::string> reader::text(const view& v) {
    if (!v.defined())
        return std::nullopt;
    if (!v.is_scalar()) {
        error(v, "expected a single value");
        return std::nullopt;
    }
    return substitute(v, v.top().Scalar());
}

std::optional<std::string> reader::choice(const view& v, const std::vector<std::string>& known) {
    auto t = text(v);
    if (!t)
        return std::nullopt;
    if (std::find(known.begin(), known.end(), *t) == known.end()) {
        error(v, unknown_name_message("value", *t, known));
        return std::nullopt;
    }
    return t;
}

std::optional<double> reader::number(const view& v, double min, double max) {
    auto t = text(v);
    if (!t)
        return std::nullopt;
    double value = 0;
    const char* b = t->data();
    const char* e = b + t->size();
    const auto [ptr, ec] = std::from_chars(b, e, value);
    if (ec != std::errc{} || ptr != e || !std::isfinite(value)) {
        error(v, "expected a number, got '" + *t + "'");
        return std::nullopt;
    }
    if (value < min || value > max) {
        error(v, *t + " is out of range [" + format_number(min) + ", " + format_number(max) + "]");
        return std::nullopt;
    }
    return value;
}

std::optional<std::int64_t> reader::integer(const view& v, std::int64_t min, std::int64_t max) {
    auto t = text(v);
    if (!t)
        return std::nullopt;
    std::int64_t value = 0;
    const char* b = t->data();
    const char* e = b + t->size();
    const auto [ptr, ec] = std::from_chars(b, e, value);
    if (ec != std::errc{} || ptr != e) {
        error(v, "expected an integer, got '" + *t + "'");
        return std::nullopt;
    }
    if (value < min || value > max) {
        error(v, *t + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
        return std::nullopt;
    }
    return value;
}

std::optional<bool> reader::boolean(const view& v) {
    auto t = text(v);
    if (!t)
        return std::nullopt;
    if (*t == "true" || *t == "True" || *t == "yes" || *t == "on")
        return true;
    if (*t == "false" || *t == "False" || *t == "no" || *t == "off")
        return false;
    error(v, "expected true or false, got '" + *t + "'");
    return std::nullopt;
}

void reader::check_keys(const view& v, const std::vector<std::string>& known) {
    for (const auto& l: v.layers()) {
        if (!l.node.IsMap())
            continue;
        for (const auto& kv: l.node) {
            if (!kv.first.IsScalar()) {
                diag_.error(locate(kv.first, l.file), v.path(), "a key must be a plain name, not a list or a map");
                continue;
            }
            const auto k = kv.first.Scalar();
            if (std::find(known.begin(), known.end(), k) != known.end())
                continue;
            const std::string& base = l.path ? *l.path : v.path();
            const std::string path = base.empty() ? k : base + "." + k;
            diag_.error(locate(kv.first, l.file), path, unknown_name_message("key", k, known));
        }
    }
}

bool reader::expect_map(const view& v) {
    if (!v.defined())
        return false;
    if (!v.is_map()) {
        error(v, "expected a map of keys");
        return false;
    }
    return true;
}

void set_dotted(YAML::Node root, const std::string& dotted, const YAML::Node& value) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto dot = dotted.find('.', start);
        parts.push_back(dotted.substr(start, dot - start));
        if (dot == std::string::npos)
            break;
        start = dot + 1;
    }
    // yaml-cpp nodes are references: walking with operator[] on a copy edits root.
    std::vector<YAML::Node> chain{root};
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        YAML::Node next = chain.back()[parts[i]];
        if (!next.IsMap()) {
            chain.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
            next = chain.back()[parts[i]];
        }
        chain.push_back(next);
    }
    chain.back()[parts.back()] = value;
}

std::string format_number(double v) {
    char buf[64];
    for (int precision = 6; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v)
            break;
    }
    return buf;
}

} // namespace counterstream
