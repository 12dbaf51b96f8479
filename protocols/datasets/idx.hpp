// Reads and writes IDX files, the format of MNIST and Fashion-MNIST, plain or
// gzipped; corrupt or truncated files are reported as input_error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace counterstream::datasets {

// Unsigned-byte IDX data: dims as in the header ({60000, 28, 28} for the
// MNIST training images), bytes in row-major order, product(dims) of them.
struct idx_array {
    std::vector<std::uint32_t> dims;
    std::vector<std::uint8_t> bytes;
};

// The magic numbers of unsigned-byte labels (rank 1) and images (rank 3).
inline constexpr std::uint32_t idx_labels_magic = 0x00000801;
inline constexpr std::uint32_t idx_images_magic = 0x00000803;

// Reads `file`, gzipped or not (recognised by content, not by name). rank 1
// demands labels (magic 0x00000801), rank 3 images (0x00000803), rank 0 any
// unsigned-byte IDX. Throws counterstream::input_error, one line starting
// with the file name, when the file cannot be read, has a wrong magic, or
// holds more or fewer bytes than its header announces.
idx_array read_idx(const std::filesystem::path& file, int rank = 0);

// Writes an unsigned-byte IDX file with the given dims; bytes.size() must be
// product(dims). Gzipped when the name ends in ".gz", plain otherwise.
// Throws input_error if the file cannot be written.
void write_idx(const std::filesystem::path& file, const std::vector<std::uint32_t>& dims,
               const std::vector<std::uint8_t>& bytes);

} // namespace counterstream::datasets
