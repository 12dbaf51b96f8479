// Reads CIFAR-10's binary batches (data_batch_1.bin .. data_batch_5.bin,
// test_batch.bin from cifar-10-binary.tar.gz).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace counterstream::datasets {

inline constexpr int cifar10_pixels = 3072; // 3 x 32 x 32: the R, G, B planes, row-major
inline constexpr int cifar10_classes = 10;
inline constexpr int cifar10_record = 1 + cifar10_pixels; // label byte, then pixels

// Images as consecutive runs of cifar10_pixels bytes, one label per image.
struct cifar10_batch {
    std::vector<std::uint8_t> pixels;
    std::vector<std::int32_t> labels;
    std::int64_t size() const { return std::int64_t(labels.size()); }
};

// The file names inside cifar-10-batches-bin/.
std::vector<std::string> cifar10_train_files(); // data_batch_1.bin .. data_batch_5.bin
std::string cifar10_test_file();                // test_batch.bin

// Appends the records of `file` to `out`. Throws counterstream::input_error,
// one line starting with the file name, when the file cannot be read, is not
// a whole number of records, is empty, or has a label outside 0..9.
void read_cifar10_batch(const std::filesystem::path& file, cifar10_batch& out);

} // namespace counterstream::datasets
