// Reading user YAML with exact error locations: a map seen through override
// layers (motif template, circuit override, --set), placeholder substitution
// ({l}, {l+1}, {eta_W}) at read time, and diagnostics collected per file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace counterstream {

struct location {
    std::string file;
    int line = 0; // 1-based; 0 when unknown
    int col = 0;
    std::string str() const;
};

location locate(const YAML::Node& node, const std::string& file);

// Collects every error of a document; raise() throws them together.
class diagnostics {
public:
    void error(const location& at, const std::string& key_path, const std::string& message);
    bool empty() const { return lines_.empty(); }
    const std::vector<std::string>& lines() const { return lines_; }
    void raise() const; // throws input_error when there are errors

private:
    std::vector<std::string> lines_;
};

// Reports every key given twice in one map of the YAML `text` (yaml-cpp keeps
// one of them silently), located in `file`. Reads the first document only.
void check_duplicate_keys(const std::string& text, const std::string& file, diagnostics& diag);

// The name in `known` within a few edits of `name` ("" if none).
std::string closest_name(const std::string& name, const std::vector<std::string>& known);

// "unknown key 'lerning_rate' (did you mean 'learning_rate'?; known: a, b)"
std::string unknown_name_message(const std::string& what, const std::string& name,
                                 const std::vector<std::string>& known);

// A YAML node seen through layers; for a key, the last layer that has it
// wins, and a null value in a layer erases what the layers below said. Maps
// merge key by key, recursively; a map tagged !replace replaces instead.
class view {
public:
    struct layer {
        YAML::Node node;
        std::string file;
        std::optional<std::string> path; // the key path in its own document, where known
    };

    view() = default;
    view(YAML::Node node, std::string file, std::string path);

    // Adds a top layer; `path` is its key path in its own document (for
    // messages about its keys), when that differs from this view's.
    view with(YAML::Node node, const std::string& file, std::optional<std::string> path = std::nullopt) const;
    view operator[](const std::string& key) const;

    bool defined() const { return !layers_.empty(); }
    bool is_map() const { return defined() && top().IsMap(); }
    bool is_sequence() const { return defined() && top().IsSequence(); }
    bool is_scalar() const { return defined() && top().IsScalar(); }
    const YAML::Node& top() const { return layers_.back().node; }
    const std::string& path() const { return path_; }
    location where() const;
    std::vector<std::string> keys() const; // union over layers, first appearance order
    std::vector<view> elements() const;    // of a sequence (top layer only)
    const std::vector<layer>& layers() const { return layers_; }

private:
    std::vector<layer> layers_;
    std::string path_;
};

using placeholder_values = std::map<std::string, std::string>;

// Typed reads that report problems into diagnostics and substitute
// placeholders; a failed read returns nullopt and the caller keeps its default.
class reader {
public:
    explicit reader(diagnostics& d, const placeholder_values* vars = nullptr) : diag_(d), vars_(vars) {}

    diagnostics& diag() { return diag_; }
    void error(const view& v, const std::string& message) { diag_.error(v.where(), v.path(), message); }

    std::string substitute(const view& v, const std::string& text);
    std::optional<std::string> text(const view& v);
    std::optional<std::string> choice(const view& v, const std::vector<std::string>& known);
    std::optional<double> number(const view& v, double min, double max);
    std::optional<std::int64_t> integer(const view& v, std::int64_t min, std::int64_t max);
    std::optional<bool> boolean(const view& v);
    // Reports keys of every layer that are not in `known`.
    void check_keys(const view& v, const std::vector<std::string>& known);
    bool expect_map(const view& v);

private:
    diagnostics& diag_;
    const placeholder_values* vars_;
};

// Splits "a.b.c" and sets root[a][b][c] = value (parsed as YAML), creating maps.
void set_dotted(YAML::Node root, const std::string& dotted, const YAML::Node& value);

std::string format_number(double v); // shortest text that reads back to the same double

} // namespace counterstream
