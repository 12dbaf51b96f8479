// Labelled datasets, read one column per sample.
#pragma once

#include <Eigen/Core>

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace counterstream::datasets {

// One split's inputs [features x samples] and labels. Image datasets keep
// their raw bytes (one byte per feature and sample, column-major) plus a
// 256-entry table that maps a byte to its normalized float, a quarter of the
// memory of a float matrix; float-native data (teacher) keep a float matrix.
// Either way the values read back are the floats the normalization gives.
class split {
public:
    std::vector<std::int32_t> y; // class labels, 0 .. n_classes-1

    split() = default;
    // Float-native storage.
    static split from_floats(Eigen::MatrixXf x, std::vector<std::int32_t> y);
    // Byte storage: sample j is bytes[j * features .. (j + 1) * features).
    static split from_bytes(std::vector<std::uint8_t> bytes, int features,
                            const std::array<float, 256>& table, std::vector<std::int32_t> y);

    std::int64_t size() const { return samples_; }
    int features() const { return features_; }
    bool holds_bytes() const { return bytes_mode_; }

    // out.col(j) = sample indices[j], j < n; out is [features x n].
    void gather(const std::int64_t* indices, int n, Eigen::Ref<Eigen::MatrixXf> out) const;
    // out.col(j) = sample first + j, j < n; out is [features x n].
    void copy(std::int64_t first, int n, Eigen::Ref<Eigen::MatrixXf> out) const;
    // out = sample `index`; out has features() entries.
    void read(std::int64_t index, Eigen::Ref<Eigen::VectorXf> out) const;
    // One value; checks its arguments (for tests, not for loops).
    float at(Eigen::Index feature, std::int64_t sample) const;
    // All inputs as a float matrix [features x samples] (tests, analysis).
    Eigen::MatrixXf dense() const;
    // The float matrix of float-native storage; nullptr for bytes.
    const Eigen::MatrixXf* floats() const { return bytes_mode_ ? nullptr : &x_; }

private:
    void read_into(std::int64_t index, float* out) const;
    void check_out(Eigen::Index rows, Eigen::Index cols, int n, const char* what) const;

    bool bytes_mode_ = false;
    int features_ = 0;
    std::int64_t samples_ = 0;
    Eigen::MatrixXf x_;                // float-native
    std::vector<std::uint8_t> bytes_;  // bytes
    std::array<float, 256> table_{};   // bytes: value of each byte
};

struct dataset {
    std::string name;
    split train, test;
    split validation; // held out of the training file (protocol.dataset.validation); empty when none
    int n_classes = 0;
    int n_features() const { return train.features(); }
};

// protocol.dataset in the run YAML.
struct dataset_spec {
    std::string name = "mnist";     // mnist | fashion-mnist | idx | cifar10 | teacher
    std::filesystem::path path;     // folder with the files; empty: the default search
    std::string normalize = "unit"; // unit (x/255) | standardize | none
    // The last `validation` samples of the training file, held out of
    // training and scored each epoch; 0: none. Standardization's mean and
    // std come from the samples that remain.
    std::int64_t validation = 0;
    std::string where = "protocol.dataset"; // "file:line:col: key path" prefix for errors
    // idx: labels must lie in 0 .. idx_classes-1; 0 takes 1 + the largest label.
    int idx_classes = 0;
    // teacher: a fixed random ReLU network labels Gaussian inputs.
    int teacher_inputs = 20;
    int teacher_hidden = 32;
    int teacher_classes = 4;
    int teacher_train = 4096;
    int teacher_test = 1024;
    std::uint64_t teacher_seed = 7;
};

// Loads and normalizes; throws counterstream::input_error (one line naming
// the file and what is wrong) for missing, truncated or corrupt files.
// Folders searched when spec.path is empty: $COUNTERSTREAM_DATA/<name>, then
// ./data/<name>, and for fashion-mnist /usr/share/datasets/fashion-mnist
// (Debian's dataset-fashion-mnist).
dataset load(const dataset_spec& spec);

// The known dataset names, for messages and command-line help.
const std::vector<std::string>& known_datasets();

} // namespace counterstream::datasets
