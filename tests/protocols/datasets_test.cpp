// Tests of the dataset layer: IDX and CIFAR-10 readers on small files made
// here, their error messages for broken files, load()'s normalizations, and
// the reproducibility of the synthetic teacher task.
#include "protocols/datasets/cifar10.hpp"
#include "protocols/datasets/dataset.hpp"
#include "protocols/datasets/idx.hpp"
#include "protocols/datasets/teacher.hpp"
#include "sim/error.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace fs = std::filesystem;
using namespace counterstream;
using namespace counterstream::datasets;

namespace {

// A fresh folder under the system temp directory, removed with its contents.
struct temp_folder {
    fs::path path;
    temp_folder() {
        static int counter = 0;
        auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path = fs::temp_directory_path() /
               ("counterstream-datasets-test-" + std::to_string(stamp) + "-" +
                std::to_string(counter++));
        fs::create_directories(path);
    }
    ~temp_folder() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    temp_folder(const temp_folder&) = delete;
    temp_folder& operator=(const temp_folder&) = delete;
};

// The message of the input_error that f throws; fails the test if none.
std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const input_error& e) {
        std::string msg = e.what();
        CHECK_MESSAGE(msg.find('\n') == std::string::npos, "not one line: " << msg);
        return msg;
    }
    FAIL("no input_error thrown");
    return {};
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed) {
    std::vector<std::uint8_t> v(n);
    std::uint32_t s = seed * 2654435761u + 1;
    for (auto& b: v) {
        s = s * 1664525u + 1013904223u;
        b = std::uint8_t(s >> 24);
    }
    return v;
}

std::vector<std::uint8_t> read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<std::uint8_t>& b) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// A small IDX dataset: n_train and n_test images of 3 x 4 pixels, labels
// 0..2. gz picks which files are gzipped, to cover mixed folders.
struct small_idx {
    std::vector<std::uint8_t> train_x, train_y, test_x, test_y;
    static constexpr std::uint32_t rows = 3, cols = 4;

    small_idx(const fs::path& folder, std::uint32_t n_train = 6, std::uint32_t n_test = 4,
              bool gz = true) {
        train_x = pattern(n_train * rows * cols, 1);
        test_x = pattern(n_test * rows * cols, 2);
        for (std::uint32_t i = 0; i < n_train; ++i) train_y.push_back(std::uint8_t(i % 3));
        for (std::uint32_t i = 0; i < n_test; ++i) test_y.push_back(std::uint8_t((i + 1) % 3));
        std::string z = gz ? ".gz" : "";
        write_idx(folder / ("train-images-idx3-ubyte" + z), {n_train, rows, cols}, train_x);
        write_idx(folder / "train-labels-idx1-ubyte", {n_train}, train_y);
        write_idx(folder / "t10k-images-idx3-ubyte", {n_test, rows, cols}, test_x);
        write_idx(folder / ("t10k-labels-idx1-ubyte" + z), {n_test}, test_y);
    }
};

dataset_spec idx_spec(const fs::path& folder, const std::string& normalize = "unit") {
    dataset_spec spec;
    spec.name = "idx";
    spec.path = folder;
    spec.normalize = normalize;
    return spec;
}

// Sets an environment variable for one scope and restores it afterwards.
struct scoped_env {
    std::string name;
    std::optional<std::string> old;
    scoped_env(std::string n, const std::string& value) : name(std::move(n)) {
        if (const char* v = std::getenv(name.c_str())) old = v;
        setenv(name.c_str(), value.c_str(), 1);
    }
    ~scoped_env() {
        if (old)
            setenv(name.c_str(), old->c_str(), 1);
        else
            unsetenv(name.c_str());
    }
};

// Population mean and std over all entries, in double with plain loops.
std::pair<double, double> mean_sd(const Eigen::MatrixXf& x) {
    const double n = double(x.size());
    double sum = 0, sq = 0;
    for (Eigen::Index k = 0; k < x.size(); ++k) sum += x.data()[k];
    const double mean = sum / n;
    for (Eigen::Index k = 0; k < x.size(); ++k) sq += (x.data()[k] - mean) * (x.data()[k] - mean);
    return {mean, std::sqrt(sq / n)};
}

std::uint64_t fingerprint(const dataset& d) {
    // FNV-1a over the bits of x and the labels of both splits.
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](const void* p, std::size_t n) {
        auto* b = static_cast<const unsigned char*>(p);
        for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    };
    for (const split* s: {&d.train, &d.test}) {
        const Eigen::MatrixXf x = s->dense();
        mix(x.data(), std::size_t(x.size()) * sizeof(float));
        mix(s->y.data(), s->y.size() * sizeof(std::int32_t));
    }
    return h;
}

} // namespace

TEST_CASE("idx: plain and gzipped files read back bit-exact") {
    temp_folder tmp;
    const auto images = pattern(7 * 5 * 2, 3);
    const auto labels = pattern(7, 4);
    for (std::string ext: {"", ".gz"}) {
        CAPTURE(ext);
        write_idx(tmp.path / ("images" + ext), {7, 5, 2}, images);
        write_idx(tmp.path / ("labels" + ext), {7}, labels);

        idx_array a = read_idx(tmp.path / ("images" + ext), 3);
        CHECK(a.dims == std::vector<std::uint32_t>{7, 5, 2});
        CHECK(a.bytes == images);
        idx_array b = read_idx(tmp.path / ("labels" + ext), 1);
        CHECK(b.dims == std::vector<std::uint32_t>{7});
        CHECK(b.bytes == labels);
        CHECK(read_idx(tmp.path / ("images" + ext)).bytes == images); // rank 0: any
    }
    // The .gz file really is gzip, the plain one starts with the IDX magic.
    auto gz = read_bytes(tmp.path / "images.gz");
    REQUIRE(gz.size() > 2);
    CHECK((gz[0] == 0x1f && gz[1] == 0x8b));
    auto plain = read_bytes(tmp.path / "images");
    CHECK(plain.size() == 16 + images.size());
    CHECK(plain[3] == 0x03);
    CHECK(plain[2] == 0x08);
}

TEST_CASE("idx: truncated files name the file and say truncated") {
    temp_folder tmp;
    const auto images = pattern(10 * 4 * 4, 5);
    const fs::path plain = tmp.path / "train-images-idx3-ubyte";
    write_idx(plain, {10, 4, 4}, images);
    fs::resize_file(plain, 16 + 100);
    std::string msg = error_of([&] { read_idx(plain, 3); });
    CHECK(contains(msg, plain.string() + ": truncated"));
    CHECK(contains(msg, "header says 10 x 4 x 4 bytes, file has 100"));

    fs::resize_file(plain, 10); // inside the header
    msg = error_of([&] { read_idx(plain, 3); });
    CHECK(contains(msg, plain.string() + ": truncated"));

    // A gzip stream cut short.
    const fs::path gz = tmp.path / "t10k-images-idx3-ubyte.gz";
    write_idx(gz, {10, 4, 4}, pattern(10 * 4 * 4, 6));
    fs::resize_file(gz, fs::file_size(gz) - 12);
    msg = error_of([&] { read_idx(gz, 3); });
    CHECK(contains(msg, gz.string() + ": truncated"));

    // Extra bytes are corruption too: the length must match exactly.
    const fs::path longer = tmp.path / "longer";
    write_idx(longer, {10, 4, 4}, images);
    auto whole = read_bytes(longer);
    whole.push_back(0);
    write_bytes(longer, whole);
    msg = error_of([&] { read_idx(longer, 3); });
    CHECK(contains(msg, longer.string() + ": corrupt"));
    CHECK(contains(msg, "1 more than expected"));
}

TEST_CASE("idx: load() reports truncation of one of the four files") {
    temp_folder tmp;
    small_idx set(tmp.path);
    const fs::path f = tmp.path / "t10k-images-idx3-ubyte";
    fs::resize_file(f, fs::file_size(f) - 5);
    std::string msg = error_of([&] { load(idx_spec(tmp.path)); });
    CHECK(contains(msg, f.string() + ": truncated"));
}

TEST_CASE("idx: bad magic and wrong rank are rejected") {
    temp_folder tmp;
    const fs::path f = tmp.path / "images";
    write_bytes(f, {0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 0});
    std::string msg = error_of([&] { read_idx(f, 3); });
    CHECK(contains(msg, f.string() + ": not an IDX file"));
    CHECK(contains(msg, "0x12345678"));

    write_bytes(f, {0, 0, 0x0d, 0x01, 0, 0, 0, 1, 0, 0, 0, 0}); // float elements
    msg = error_of([&] { read_idx(f, 1); });
    CHECK(contains(msg, f.string() + ": unsupported IDX element type 0x0d"));

    write_idx(f, {3}, {0, 1, 2}); // labels where images are expected
    msg = error_of([&] { read_idx(f, 3); });
    CHECK(contains(msg, f.string() + ": wrong IDX magic 0x00000801"));
    CHECK(contains(msg, "0x00000803"));

    CHECK(contains(error_of([&] { read_idx(tmp.path / "absent", 1); }),
                   (tmp.path / "absent").string() + ": cannot open"));
}

TEST_CASE("idx: label and image counts must agree") {
    temp_folder tmp;
    small_idx set(tmp.path, 6, 4, false);
    write_idx(tmp.path / "train-labels-idx1-ubyte", {5}, {0, 1, 2, 0, 1});
    std::string msg = error_of([&] { load(idx_spec(tmp.path)); });
    CHECK(contains(msg, (tmp.path / "train-labels-idx1-ubyte").string() + ": 5 labels"));
    CHECK(contains(msg, "has 6 images"));
}

TEST_CASE("idx: labels out of range and mismatched image shapes") {
    temp_folder tmp;
    small_idx set(tmp.path, 6, 4, false);
    auto spec = idx_spec(tmp.path);
    spec.idx_classes = 2; // the files hold labels 0..2
    CHECK(contains(error_of([&] { load(spec); }), "label 2 at index 2 is outside 0..1"));

    write_idx(tmp.path / "t10k-images-idx3-ubyte", {4, 4, 3}, pattern(48, 9));
    CHECK(contains(error_of([&] { load(idx_spec(tmp.path)); }),
                   "images are 4 x 3, but the training images are 3 x 4"));
}

TEST_CASE("idx: load() converts and normalizes") {
    temp_folder tmp;
    small_idx set(tmp.path);

    SUBCASE("unit") {
        dataset d = load(idx_spec(tmp.path));
        CHECK(d.name == "idx");
        CHECK(d.n_classes == 3);
        CHECK(d.n_features() == 12);
        REQUIRE(d.train.size() == 6);
        REQUIRE(d.test.size() == 4);
        for (int j = 0; j < 6; ++j)
            for (int i = 0; i < 12; ++i)
                CHECK(d.train.at(i, j) == float(set.train_x[j * 12 + i]) / 255.0f);
        for (int j = 0; j < 4; ++j)
            for (int i = 0; i < 12; ++i)
                CHECK(d.test.at(i, j) == float(set.test_x[j * 12 + i]) / 255.0f);
        CHECK(d.train.y == std::vector<std::int32_t>(set.train_y.begin(), set.train_y.end()));
        CHECK(d.test.y == std::vector<std::int32_t>(set.test_y.begin(), set.test_y.end()));
    }
    SUBCASE("none") {
        dataset d = load(idx_spec(tmp.path, "none"));
        CHECK(d.train.at(5, 1) == float(set.train_x[12 + 5]));
        CHECK(d.test.at(11, 3) == float(set.test_x[3 * 12 + 11]));
    }
    SUBCASE("standardize uses the training statistics for both splits") {
        dataset d = load(idx_spec(tmp.path, "standardize"));
        const auto [mean, sd] = mean_sd(d.train.dense());
        CHECK(std::abs(mean) < 1e-6);
        CHECK(sd == doctest::Approx(1.0).epsilon(1e-6));

        double m = 0, s = 0;
        for (auto b: set.train_x) m += b;
        m /= double(set.train_x.size());
        for (auto b: set.train_x) s += (b - m) * (b - m);
        s = std::sqrt(s / double(set.train_x.size()));
        CHECK(d.test.at(7, 2) == float((set.test_x[2 * 12 + 7] - m) / s));
    }
}

TEST_CASE("validation: the training file's last samples are held out, and standardization ignores them") {
    temp_folder tmp;
    small_idx set(tmp.path, 10, 4, false);
    for (std::string norm: {"unit", "standardize"}) {
        CAPTURE(norm);
        auto spec = idx_spec(tmp.path, norm);
        const dataset whole = load(spec);
        spec.validation = 3;
        const dataset d = load(spec);
        REQUIRE(d.train.size() == 7);
        REQUIRE(d.validation.size() == 3);
        CHECK(d.test.size() == 4);
        CHECK(d.train.y == std::vector<std::int32_t>(set.train_y.begin(), set.train_y.begin() + 7));
        CHECK(d.validation.y == std::vector<std::int32_t>(set.train_y.begin() + 7, set.train_y.end()));
        if (norm == "unit") {
            CHECK(d.train.dense() == whole.train.dense().leftCols(7));
            CHECK(d.validation.dense() == whole.train.dense().rightCols(3));
            CHECK(d.test.dense() == whole.test.dense());
            continue;
        }
        // The mean and std of the 7 samples that remain, not of all 10.
        double m = 0, sd = 0;
        const std::size_t kept = 7 * 12;
        for (std::size_t k = 0; k < kept; ++k) m += set.train_x[k];
        m /= double(kept);
        for (std::size_t k = 0; k < kept; ++k) sd += (set.train_x[k] - m) * (set.train_x[k] - m);
        sd = std::sqrt(sd / double(kept));
        const auto [mean, spread] = mean_sd(d.train.dense());
        CHECK(std::abs(mean) < 1e-6);
        CHECK(spread == doctest::Approx(1.0).epsilon(1e-6));
        CHECK(d.validation.at(5, 1) == float((set.train_x[8 * 12 + 5] - m) / sd));
        CHECK(d.test.at(7, 2) == float((set.test_x[2 * 12 + 7] - m) / sd));
        CHECK(d.validation.at(5, 1) != whole.train.at(5, 8)); // the whole file's statistics differ
    }

    SUBCASE("teacher: the held-out samples are the last of the set") {
        dataset_spec spec;
        spec.name = "teacher";
        spec.teacher_train = 300;
        const dataset whole = load(spec);
        spec.validation = 100;
        const dataset d = load(spec);
        CHECK(d.train.dense() == whole.train.dense().leftCols(200));
        CHECK(d.validation.dense() == whole.train.dense().rightCols(100));
        CHECK(d.validation.y == std::vector<std::int32_t>(whole.train.y.begin() + 200, whole.train.y.end()));
        CHECK(d.test.dense() == whole.test.dense());
    }
    SUBCASE("none to hold out, or all of it, is an error naming the key") {
        auto spec = idx_spec(tmp.path);
        spec.where = "run.yaml:12:3: protocol.dataset";
        spec.validation = 10;
        CHECK(error_of([&] { load(spec); }) ==
              "run.yaml:12:3: protocol.dataset.validation: 10 samples held out of a training set of 10; it must "
              "be 0 (none) to 9");
        spec.validation = 0;
        CHECK(load(spec).validation.size() == 0);
    }
}

TEST_CASE("idx: the bytes and their table read back bitwise the normalization's floats") {
    temp_folder tmp;
    small_idx set(tmp.path, 40, 9);
    const int f = 12;
    auto bits_equal = [](const Eigen::MatrixXf& a, const Eigen::MatrixXf& b) {
        return a.rows() == b.rows() && a.cols() == b.cols() &&
               std::memcmp(a.data(), b.data(), std::size_t(a.size()) * sizeof(float)) == 0;
    };
    // The training statistics as load() defines them: exact mean of the
    // bytes, population sd summed per byte value, both in double.
    double mean = 0, sd = 0;
    {
        std::vector<std::uint64_t> count(256);
        for (auto b: set.train_x) ++count[b];
        const double n = double(set.train_x.size());
        double sum = 0, sq = 0;
        for (int v = 0; v < 256; ++v) sum += double(v) * double(count[v]);
        mean = sum / n;
        for (int v = 0; v < 256; ++v) sq += (v - mean) * (v - mean) * double(count[v]);
        sd = std::sqrt(sq / n);
    }
    for (std::string norm: {"unit", "none", "standardize"}) {
        CAPTURE(norm);
        // The straightforward conversion, one float per byte.
        auto expected = [&](const std::vector<std::uint8_t>& bytes, int samples) {
            Eigen::MatrixXf x(f, samples);
            for (int j = 0; j < samples; ++j)
                for (int i = 0; i < f; ++i) {
                    const std::uint8_t v = bytes[std::size_t(j * f + i)];
                    x(i, j) = norm == "unit"   ? float(v) / 255.0f
                              : norm == "none" ? float(v)
                                               : float((v - mean) / sd);
                }
            return x;
        };
        const Eigen::MatrixXf train = expected(set.train_x, 40), test = expected(set.test_x, 9);
        const dataset d = load(idx_spec(tmp.path, norm));
        REQUIRE(d.train.holds_bytes());
        REQUIRE(d.test.holds_bytes());
        CHECK(d.train.floats() == nullptr);
        CHECK(d.train.features() == f);
        CHECK(d.train.size() == 40);
        CHECK(d.test.size() == 9);

        CHECK(bits_equal(d.train.dense(), train));
        CHECK(bits_equal(d.test.dense(), test));
        auto at_matches = [&](const split& s, const Eigen::MatrixXf& x) {
            for (Eigen::Index j = 0; j < x.cols(); ++j)
                for (Eigen::Index i = 0; i < x.rows(); ++i) {
                    const float a = s.at(i, j);
                    if (std::memcmp(&a, &x(i, j), sizeof(float)) != 0) return false;
                }
            return true;
        };
        CHECK(at_matches(d.train, train));
        CHECK(at_matches(d.test, test));

        // gather: shuffled, repeated, into a view like network::input().
        const std::vector<std::int64_t> order = {39, 0, 7, 7, 22, 1, 38, 13};
        std::vector<float> storage(std::size_t(f) * order.size(), -1.0f);
        Eigen::Map<Eigen::MatrixXf> out(storage.data(), f, Eigen::Index(order.size()));
        d.train.gather(order.data(), int(order.size()), out);
        Eigen::MatrixXf want(f, Eigen::Index(order.size()));
        for (std::size_t j = 0; j < order.size(); ++j) want.col(Eigen::Index(j)) = train.col(order[j]);
        CHECK(bits_equal(out, want));

        // read: one sample into one column.
        out.setConstant(-1.0f);
        for (std::size_t j = 0; j < order.size(); ++j) d.train.read(order[j], out.col(Eigen::Index(j)));
        CHECK(bits_equal(out, want));

        // copy: consecutive samples, as evaluation reads them.
        Eigen::MatrixXf block(f, 5);
        d.test.copy(4, 5, block);
        CHECK(bits_equal(block, test.middleCols(4, 5)));
        d.train.copy(35, 5, block);
        CHECK(bits_equal(block, train.rightCols(5)));
    }

    // Wrong shapes and indices are bugs in the caller.
    const dataset d = load(idx_spec(tmp.path));
    Eigen::MatrixXf wrong(f + 1, 2), right(f, 2);
    const std::int64_t two[] = {0, 1}, outside[] = {0, 40};
    CHECK_THROWS_AS(d.train.gather(two, 2, wrong), internal_error);
    CHECK_THROWS_AS(d.train.gather(two, 1, right), internal_error);
    CHECK_THROWS_AS(d.train.gather(outside, 2, right), internal_error);
    CHECK_THROWS_AS(d.test.copy(8, 2, right), internal_error);
    CHECK_THROWS_AS(d.test.at(f, 0), internal_error);
    CHECK_THROWS_AS(d.test.at(0, 9), internal_error);

    // Float-native data (teacher) keep their matrix and read it the same way.
    teacher_params p;
    p.n_train = 50;
    p.n_test = 5;
    const dataset t = make_teacher(p);
    REQUIRE(!t.train.holds_bytes());
    REQUIRE(t.train.floats() != nullptr);
    const std::int64_t pick[] = {49, 3, 3};
    Eigen::MatrixXf g(20, 3);
    t.train.gather(pick, 3, g);
    CHECK(g.col(0) == t.train.floats()->col(49));
    CHECK(g.col(2) == t.train.floats()->col(3));
    t.train.copy(10, 3, g);
    CHECK(g == t.train.floats()->middleCols(10, 3));
    CHECK(t.train.at(4, 7) == (*t.train.floats())(4, 7));
}

TEST_CASE("load: configuration mistakes are one-line errors") {
    dataset_spec spec;
    spec.name = "imagenet";
    CHECK(error_of([&] { load(spec); }) ==
          "protocol.dataset.name: unknown dataset 'imagenet' (known: mnist, fashion-mnist, idx, "
          "cifar10, teacher)");

    spec.name = "teacher";
    spec.normalize = "minmax";
    CHECK(contains(error_of([&] { load(spec); }),
                   "protocol.dataset.normalize: unknown value 'minmax'"));

    spec.normalize = "unit";
    spec.teacher_classes = 1;
    CHECK(contains(error_of([&] { load(spec); }), "protocol.dataset.teacher_classes:"));

    dataset_spec idx;
    idx.name = "idx";
    CHECK(contains(error_of([&] { load(idx); }), "protocol.dataset.path: dataset 'idx' needs"));
}

TEST_CASE("load: missing files say where they were looked for") {
    temp_folder tmp;
    dataset_spec spec;
    spec.name = "mnist";
    spec.path = tmp.path;
    std::string msg = error_of([&] { load(spec); });
    CHECK(contains(msg, "protocol.dataset.path: MNIST not found in " + tmp.path.string()));
    CHECK(contains(msg, "scripts/fetch-data mnist"));

    {
        // Default search: $COUNTERSTREAM_DATA/mnist and ./data/mnist.
        scoped_env env("COUNTERSTREAM_DATA", (tmp.path / "nowhere").string());
        dataset_spec dflt;
        if (!fs::exists("data/mnist")) {
            msg = error_of([&] { load(dflt); });
            CHECK(contains(msg, "$COUNTERSTREAM_DATA/mnist"));
            CHECK(contains(msg, "data/mnist"));
            CHECK(contains(msg, "scripts/fetch-data mnist"));
        }
    }

    // A partial set names the missing file.
    small_idx set(tmp.path);
    fs::remove(tmp.path / "t10k-labels-idx1-ubyte.gz");
    msg = error_of([&] { load(spec); });
    CHECK(contains(msg, (tmp.path / "t10k-labels-idx1-ubyte").string() + ": not found"));

    // MNIST itself is 28 x 28.
    small_idx again(tmp.path);
    CHECK(contains(error_of([&] { load(spec); }), "images are 3 x 4, MNIST has 28 x 28"));
}

TEST_CASE("cifar10: small batches load, and broken ones are reported") {
    temp_folder tmp;
    const fs::path dir = tmp.path / "cifar-10-batches-bin";
    fs::create_directories(dir);
    auto batch = [&](int n, unsigned seed) {
        std::vector<std::uint8_t> b;
        for (int r = 0; r < n; ++r) {
            b.push_back(std::uint8_t((r + seed) % 10));
            auto px = pattern(cifar10_pixels, seed * 100 + r);
            b.insert(b.end(), px.begin(), px.end());
        }
        return b;
    };
    for (unsigned i = 1; i <= 5; ++i)
        write_bytes(dir / ("data_batch_" + std::to_string(i) + ".bin"), batch(2, i));
    write_bytes(dir / "test_batch.bin", batch(3, 9));

    dataset_spec spec;
    spec.name = "cifar10";
    spec.path = tmp.path; // the parent of cifar-10-batches-bin is accepted
    spec.normalize = "none";
    dataset d = load(spec);
    CHECK(d.n_classes == 10);
    CHECK(d.n_features() == 3072);
    CHECK(d.train.size() == 10);
    CHECK(d.test.size() == 3);
    CHECK(d.train.y[2] == 2); // batch 2, record 0
    CHECK(d.test.at(100, 1) == float(pattern(cifar10_pixels, 901)[100]));

    auto cut = batch(2, 3);
    cut.erase(cut.end() - 7, cut.end());
    write_bytes(dir / "data_batch_3.bin", cut);
    std::string msg = error_of([&] { load(spec); });
    CHECK(contains(msg, (dir / "data_batch_3.bin").string() + ": truncated"));

    auto bad = batch(2, 3);
    bad[cifar10_record] = 42;
    write_bytes(dir / "data_batch_3.bin", bad);
    msg = error_of([&] { load(spec); });
    CHECK(contains(msg, (dir / "data_batch_3.bin").string() + ": corrupt: record 1 has label 42"));
}

TEST_CASE("teacher: deterministic, balanced and independent of the test size") {
    teacher_params p;
    dataset a = make_teacher(p);
    dataset b = make_teacher(p);
    CHECK(a.n_classes == 4);
    CHECK(a.n_features() == 20);
    CHECK(a.train.size() == 4096);
    CHECK(a.test.size() == 1024);
    CHECK(a.train.dense() == b.train.dense());
    CHECK(a.test.dense() == b.test.dense());
    CHECK(a.train.y == b.train.y);
    CHECK(a.test.y == b.test.y);

    // Every class is present, none dominates.
    for (const split* s: {&a.train, &a.test}) {
        std::vector<int> count(4);
        for (auto y: s->y) {
            REQUIRE(y >= 0);
            REQUIRE(y < 4);
            ++count[y];
        }
        for (int c: count) {
            CHECK(c > s->size() / 8);
            CHECK(c < s->size() / 2);
        }
    }
    // Inputs look like N(0, 1).
    const auto [x_mean, x_sd] = mean_sd(a.train.dense());
    CHECK(std::abs(x_mean) < 0.02);
    CHECK(x_sd == doctest::Approx(1.0).epsilon(0.02));

    teacher_params q = p;
    q.n_test = 10;
    q.n_train = 5000;
    dataset c = make_teacher(q);
    CHECK(c.train.dense().leftCols(4096) == a.train.dense());
    CHECK(std::vector<std::int32_t>(c.train.y.begin(), c.train.y.begin() + 4096) == a.train.y);
    CHECK(c.test.dense() == a.test.dense().leftCols(10));

    q = p;
    q.seed = 8;
    dataset e = make_teacher(q);
    CHECK(e.train.dense() != a.train.dense());
    CHECK(e.train.y != a.train.y);

    // The same bits on every platform and compiler: update this constant
    // only when the generator is changed on purpose.
    CHECK(fingerprint(a) == 0x25e929eed00112ddull);
}

TEST_CASE("teacher: load() leaves inputs alone for unit, standardizes on request") {
    dataset_spec spec;
    spec.name = "teacher";
    spec.teacher_train = 500;
    spec.teacher_test = 100;
    spec.teacher_classes = 3;
    dataset unit = load(spec);
    teacher_params p;
    p.classes = 3;
    p.n_train = 500;
    p.n_test = 100;
    dataset raw = make_teacher(p);
    CHECK(unit.train.dense() == raw.train.dense());
    CHECK(unit.n_classes == 3);
    CHECK(unit.name == "teacher");

    spec.normalize = "standardize";
    dataset st = load(spec);
    const auto [mean, sd] = mean_sd(st.train.dense());
    CHECK(std::abs(mean) < 1e-6);
    CHECK(sd == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(st.train.y == raw.train.y);
}

TEST_CASE("fashion-mnist: the Debian package's files load") {
    // scripts/test installs dataset-fashion-mnist.
    const fs::path system = "/usr/share/datasets/fashion-mnist";
    REQUIRE_MESSAGE(fs::exists(system / "train-images-idx3-ubyte.gz"),
                    "apt-get install dataset-fashion-mnist (scripts/test does)");
    temp_folder tmp;
    scoped_env env("COUNTERSTREAM_DATA", tmp.path.string()); // nothing there
    dataset_spec spec;
    spec.name = "fashion-mnist";
    dataset d = load(spec);
    CHECK(d.n_classes == 10);
    CHECK(d.n_features() == 784);
    CHECK(d.train.size() == 60000);
    CHECK(d.test.size() == 10000);
    const Eigen::MatrixXf dense = d.train.dense();
    const float* x = dense.data();
    const auto [lo, hi] = std::minmax_element(x, x + dense.size());
    CHECK(*lo == 0.0f);
    CHECK(*hi == 1.0f);
    std::set<int> classes(d.train.y.begin(), d.train.y.end());
    CHECK(classes.size() == 10);
}
