// CIFAR-10 binary batch reader. The format has no header, so the length and
// the label bytes are the only checks available against corrupt files.
#include "protocols/datasets/cifar10.hpp"

#include "sim/error.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace counterstream::datasets {

std::vector<std::string> cifar10_train_files() {
    std::vector<std::string> names;
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
    return names;
}

std::string cifar10_test_file() { return "test_batch.bin"; }

void read_cifar10_batch(const std::filesystem::path& file, cifar10_batch& out) {
    const std::string name = file.string();
    auto fail = [&](const std::string& what) -> void { throw input_error(name + ": " + what); };

    std::error_code ec;
    std::uintmax_t size = std::filesystem::file_size(file, ec);
    if (ec) fail("cannot open: " + ec.message());
    if (size == 0) fail("empty file, expected 3073-byte CIFAR-10 records");
    if (size % cifar10_record != 0)
        fail("truncated or not a CIFAR-10 binary batch: " + std::to_string(size) +
             " bytes is not a whole number of 3073-byte records (1 label byte + 3072 pixel "
             "bytes)");

    std::ifstream in(file, std::ios::binary);
    if (!in) fail(std::string("cannot open: ") + std::strerror(errno));
    std::vector<std::uint8_t> raw(size);
    in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(size));
    if (std::uintmax_t(in.gcount()) != size)
        fail("truncated while reading: got " + std::to_string(in.gcount()) + " of " +
             std::to_string(size) + " bytes");

    std::size_t n = size / cifar10_record;
    out.pixels.reserve(out.pixels.size() + n * cifar10_pixels);
    out.labels.reserve(out.labels.size() + n);
    for (std::size_t r = 0; r < n; ++r) {
        const std::uint8_t* rec = raw.data() + r * cifar10_record;
        // CIFAR-100 records (2 label bytes, labels up to 99) usually fail here.
        if (rec[0] >= cifar10_classes)
            fail("corrupt: record " + std::to_string(r) + " has label " +
                 std::to_string(rec[0]) + ", outside 0..9 (not a CIFAR-10 batch?)");
        out.labels.push_back(rec[0]);
        out.pixels.insert(out.pixels.end(), rec + 1, rec + cifar10_record);
    }
}

} // namespace counterstream::datasets
