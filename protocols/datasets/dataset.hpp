// Labelled datasets as column-per-sample float matrices.
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace counterstream::datasets {

struct split {
    Eigen::MatrixXf x;          // [features x samples], one column per sample
    std::vector<std::int32_t> y; // class labels, 0 .. n_classes-1
    std::int64_t size() const { return x.cols(); }
};

struct dataset {
    std::string name;
    split train, test;
    int n_classes = 0;
    int n_features() const { return int(train.x.rows()); }
};

// protocol.dataset in the run YAML.
struct dataset_spec {
    std::string name = "mnist";     // mnist | fashion-mnist | idx | cifar10 | teacher
    std::filesystem::path path;     // folder with the files; empty: the default search
    std::string normalize = "unit"; // unit (x/255) | standardize | none
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
