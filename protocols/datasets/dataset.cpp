// load(): finds a dataset's files, reads them, checks shapes and labels, and
// keeps the bytes with the table of their normalized values; split's readers.
#include "protocols/datasets/dataset.hpp"

#include "protocols/datasets/cifar10.hpp"
#include "protocols/datasets/idx.hpp"
#include "protocols/datasets/teacher.hpp"
#include "sim/error.hpp"
#include "sim/join.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <system_error>

namespace counterstream::datasets {

namespace fs = std::filesystem;

namespace {

enum class normalization { unit, standardize, none };

normalization parse_normalize(const dataset_spec& spec) {
    if (spec.normalize == "unit") return normalization::unit;
    if (spec.normalize == "standardize") return normalization::standardize;
    if (spec.normalize == "none") return normalization::none;
    throw input_error(spec.where + ".normalize: unknown value '" + spec.normalize +
                      "' (known: unit, standardize, none)");
}

bool is_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec);
}

// A folder to search, with how it was derived, for "looked in" messages.
struct candidate {
    fs::path folder;
    std::string label;
};

std::vector<candidate> default_folders(const dataset_spec& spec, const std::string& subdir) {
    if (!spec.path.empty()) return {{spec.path, spec.path.string()}};
    std::vector<candidate> c;
    const char* env = std::getenv("COUNTERSTREAM_DATA");
    if (env && *env)
        c.push_back({fs::path(env) / subdir,
                     "$COUNTERSTREAM_DATA/" + subdir + " (" + (fs::path(env) / subdir).string() +
                         ")"});
    // Relative, so that messages show the short path the user typed or sees.
    c.push_back({fs::path("data") / subdir, (fs::path("data") / subdir).string()});
    return c;
}

std::vector<std::string> labels_of(const std::vector<candidate>& c) {
    std::vector<std::string> l;
    for (const auto& x: c) l.push_back(x.label);
    return l;
}

// Bytes of one split before conversion: samples are consecutive runs of
// `features` bytes, which is exactly the column-major layout of x.
struct byte_split {
    std::vector<std::uint8_t> pixels;
    std::vector<std::int32_t> labels;
    std::int64_t features = 0;
};

// ---- IDX (mnist, fashion-mnist, idx) ----

constexpr std::array<const char*, 4> idx_names = {
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte"};

// The plain file if present, else the gzipped one.
std::optional<fs::path> find_idx(const fs::path& folder, const std::string& name) {
    if (is_file(folder / name)) return folder / name;
    if (is_file(folder / (name + ".gz"))) return folder / (name + ".gz");
    return std::nullopt;
}

struct idx_source {
    std::string title;    // "MNIST"
    std::string fix;      // how to get the files
    int n_classes = 0;    // 0: from the labels
    int side = 0;         // expected rows and cols; 0: any
};

byte_split read_idx_split(const fs::path& images_file, const fs::path& labels_file,
                          const idx_source& src, std::array<std::uint32_t, 2>& shape,
                          bool first) {
    idx_array images = read_idx(images_file, 3);
    const std::string img = images_file.string();
    const std::uint32_t n = images.dims[0], rows = images.dims[1], cols = images.dims[2];
    if (rows == 0 || cols == 0)
        throw input_error(img + ": images are " + std::to_string(rows) + " x " +
                          std::to_string(cols) + " pixels");
    if (first && n == 0) throw input_error(img + ": no images (header says 0)");
    if (src.side && (int(rows) != src.side || int(cols) != src.side))
        throw input_error(img + ": images are " + std::to_string(rows) + " x " +
                          std::to_string(cols) + ", " + src.title + " has " +
                          std::to_string(src.side) + " x " + std::to_string(src.side));
    if (first) {
        shape = {rows, cols};
    } else if (shape[0] != rows || shape[1] != cols) {
        throw input_error(img + ": images are " + std::to_string(rows) + " x " +
                          std::to_string(cols) + ", but the training images are " +
                          std::to_string(shape[0]) + " x " + std::to_string(shape[1]));
    }

    idx_array labels = read_idx(labels_file, 1);
    const std::string lab = labels_file.string();
    if (labels.dims[0] != n)
        throw input_error(lab + ": " + std::to_string(labels.dims[0]) + " labels, but " + img +
                          " has " + std::to_string(n) + " images");

    byte_split s;
    s.features = std::int64_t(rows) * cols;
    s.pixels = std::move(images.bytes);
    s.labels.assign(labels.bytes.begin(), labels.bytes.end());
    if (src.n_classes > 0) {
        for (std::size_t i = 0; i < s.labels.size(); ++i)
            if (s.labels[i] >= src.n_classes)
                throw input_error(lab + ": label " + std::to_string(s.labels[i]) +
                                  " at index " + std::to_string(i) + " is outside 0.." +
                                  std::to_string(src.n_classes - 1) + " (" + src.title +
                                  " has " + std::to_string(src.n_classes) + " classes)");
    }
    return s;
}

std::array<byte_split, 2> load_idx_folder(const dataset_spec& spec, const idx_source& src,
                                          const std::vector<candidate>& folders) {
    // The first folder holding any of the files is the one meant; a partial
    // set there is reported rather than silently skipped.
    const candidate* chosen = nullptr;
    for (const auto& c: folders) {
        for (const char* name: idx_names)
            if (find_idx(c.folder, name)) chosen = &c;
        if (chosen) break;
    }
    if (!chosen) {
        const std::string looked = " (looked for " + join({idx_names.begin(), idx_names.end()}, ", ") +
                                   ", plain or .gz); " + src.fix;
        if (!spec.path.empty())
            throw input_error(spec.where + ".path: " + src.title + " not found in " +
                              spec.path.string() + looked);
        throw input_error(spec.where + ": " + src.title + " not found in " +
                          join(labels_of(folders), ", ") + looked);
    }
    std::array<fs::path, 4> paths;
    for (std::size_t i = 0; i < idx_names.size(); ++i) {
        auto p = find_idx(chosen->folder, idx_names[i]);
        if (!p)
            throw input_error((chosen->folder / idx_names[i]).string() + ": not found (nor " +
                              idx_names[i] + ".gz), though other " + src.title +
                              " files are there; " + src.fix);
        paths[i] = *p;
    }
    std::array<std::uint32_t, 2> shape{};
    std::array<byte_split, 2> out;
    out[0] = read_idx_split(paths[0], paths[1], src, shape, true);
    out[1] = read_idx_split(paths[2], paths[3], src, shape, false);
    return out;
}

// ---- CIFAR-10 ----

std::array<byte_split, 2> load_cifar10(const dataset_spec& spec) {
    auto folders = default_folders(spec, "cifar10");
    const std::string fix =
        "download cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html "
        "and unpack it there";
    std::optional<fs::path> chosen;
    for (const auto& c: folders) {
        // The tarball unpacks into cifar-10-batches-bin/; accept its parent too.
        for (const fs::path& f: {c.folder, c.folder / "cifar-10-batches-bin"}) {
            if (is_file(f / "data_batch_1.bin") || is_file(f / cifar10_test_file())) {
                chosen = f;
                break;
            }
        }
        if (chosen) break;
    }
    if (!chosen) {
        const std::string looked =
            " (looked for data_batch_1.bin .. data_batch_5.bin and test_batch.bin, there or in "
            "cifar-10-batches-bin/); " + fix;
        if (!spec.path.empty())
            throw input_error(spec.where + ".path: CIFAR-10 not found in " + spec.path.string() +
                              looked);
        throw input_error(spec.where + ": CIFAR-10 not found in " +
                          join(labels_of(folders), ", ") + looked);
    }
    cifar10_batch train, test;
    for (const auto& name: cifar10_train_files()) read_cifar10_batch(*chosen / name, train);
    read_cifar10_batch(*chosen / cifar10_test_file(), test);
    std::array<byte_split, 2> out;
    out[0] = {std::move(train.pixels), std::move(train.labels), cifar10_pixels};
    out[1] = {std::move(test.pixels), std::move(test.labels), cifar10_pixels};
    return out;
}

// ---- conversion and normalization ----

// Bytes have 256 values, so a histogram gives the exact mean and std and a
// lookup table applies the normalization.
std::array<float, 256> byte_table(const dataset_spec& spec, normalization norm,
                                  const std::vector<std::uint8_t>& train_pixels) {
    std::array<float, 256> lut{};
    if (norm != normalization::standardize) {
        for (int v = 0; v < 256; ++v)
            lut[v] = norm == normalization::unit ? float(v) / 255.0f : float(v);
        return lut;
    }
    std::array<std::uint64_t, 256> count{};
    for (auto b: train_pixels) ++count[b];
    const double n = double(train_pixels.size());
    double sum = 0;
    for (int v = 0; v < 256; ++v) sum += double(v) * double(count[v]);
    const double mean = sum / n;
    double sq = 0;
    for (int v = 0; v < 256; ++v) sq += (v - mean) * (v - mean) * double(count[v]);
    const double sd = std::sqrt(sq / n);
    if (!(sd > 0))
        throw input_error(spec.where + ".normalize: standardize: every training input is " +
                          std::to_string(mean) + ", so the standard deviation is 0");
    for (int v = 0; v < 256; ++v) lut[v] = float((v - mean) / sd);
    return lut;
}

split to_split(byte_split&& b, const std::array<float, 256>& lut) {
    const std::int64_t features = b.features;
    return split::from_bytes(std::move(b.pixels), int(features), lut, std::move(b.labels));
}

// protocol.dataset.validation must leave at least one training sample.
void check_validation(const dataset_spec& spec, std::int64_t training_samples) {
    if (spec.validation < 0 || spec.validation >= training_samples)
        throw input_error(spec.where + ".validation: " + std::to_string(spec.validation) +
                          " samples held out of a training set of " + std::to_string(training_samples) +
                          "; it must be 0 (none) to " + std::to_string(training_samples - 1));
}

// The last spec.validation samples of `train`, moved out of it.
byte_split hold_out(const dataset_spec& spec, byte_split& train) {
    const auto n = std::int64_t(train.labels.size());
    check_validation(spec, n);
    const std::int64_t keep = n - spec.validation;
    byte_split v;
    v.features = train.features;
    v.pixels.assign(train.pixels.begin() + keep * train.features, train.pixels.end());
    v.labels.assign(train.labels.begin() + keep, train.labels.end());
    train.pixels.resize(std::size_t(keep * train.features));
    train.labels.resize(std::size_t(keep));
    return v;
}

dataset from_bytes(const dataset_spec& spec, normalization norm, std::array<byte_split, 2> raw,
                   int n_classes) {
    byte_split validation = hold_out(spec, raw[0]);
    const auto lut = byte_table(spec, norm, raw[0].pixels);
    dataset d;
    d.name = spec.name;
    d.n_classes = n_classes;
    d.train = to_split(std::move(raw[0]), lut);
    d.validation = to_split(std::move(validation), lut);
    d.test = to_split(std::move(raw[1]), lut);
    return d;
}

// Float data (teacher): two passes in double over the training set; fma
// keeps the bits independent of the compiler's contraction choices.
void standardize(const dataset_spec& spec, dataset& d) {
    const Eigen::MatrixXf& t = *d.train.floats();
    const double n = double(t.size());
    double sum = 0;
    for (Eigen::Index k = 0; k < t.size(); ++k) sum += double(t.data()[k]);
    const double mean = sum / n;
    double sq = 0;
    for (Eigen::Index k = 0; k < t.size(); ++k) {
        const double c = double(t.data()[k]) - mean;
        sq = std::fma(c, c, sq);
    }
    const double sd = std::sqrt(sq / n);
    if (!(sd > 0))
        throw input_error(spec.where +
                          ".normalize: standardize: the training inputs have standard deviation 0");
    for (split* s: {&d.train, &d.validation, &d.test}) {
        Eigen::MatrixXf x = *s->floats();
        for (Eigen::Index k = 0; k < x.size(); ++k)
            x.data()[k] = float((double(x.data()[k]) - mean) / sd);
        *s = split::from_floats(std::move(x), std::move(s->y));
    }
}

void require_at_least(const dataset_spec& spec, const char* key, long long value, long long min) {
    if (value < min)
        throw input_error(spec.where + "." + key + ": must be at least " + std::to_string(min) +
                          ", got " + std::to_string(value));
}

dataset load_teacher(const dataset_spec& spec, normalization norm) {
    require_at_least(spec, "teacher_inputs", spec.teacher_inputs, 1);
    require_at_least(spec, "teacher_hidden", spec.teacher_hidden, 1);
    require_at_least(spec, "teacher_classes", spec.teacher_classes, 2);
    require_at_least(spec, "teacher_train", spec.teacher_train, 1);
    require_at_least(spec, "teacher_test", spec.teacher_test, 0);
    teacher_params p;
    p.inputs = spec.teacher_inputs;
    p.hidden = spec.teacher_hidden;
    p.classes = spec.teacher_classes;
    p.n_train = spec.teacher_train;
    p.n_test = spec.teacher_test;
    p.seed = spec.teacher_seed;
    dataset d = make_teacher(p);
    d.name = spec.name;
    check_validation(spec, d.train.size());
    const std::int64_t keep = d.train.size() - spec.validation;
    const Eigen::MatrixXf& x = *d.train.floats();
    d.validation = split::from_floats(x.rightCols(spec.validation),
                                      std::vector<std::int32_t>(d.train.y.begin() + keep, d.train.y.end()));
    d.train = split::from_floats(x.leftCols(keep),
                                 std::vector<std::int32_t>(d.train.y.begin(), d.train.y.begin() + keep));
    // The inputs are already N(0, 1): scaling by 1/255 would only shrink them.
    if (norm == normalization::standardize) standardize(spec, d);
    return d;
}

} // namespace

// ---- split ----

split split::from_floats(Eigen::MatrixXf x, std::vector<std::int32_t> y) {
    if (std::int64_t(y.size()) != std::int64_t(x.cols()) || x.rows() > Eigen::Index(INT32_MAX))
        throw internal_error("split::from_floats: " + std::to_string(x.cols()) + " samples of " +
                             std::to_string(x.rows()) + " features, " + std::to_string(y.size()) +
                             " labels");
    split s;
    s.features_ = int(x.rows());
    s.samples_ = x.cols();
    s.x_ = std::move(x);
    s.y = std::move(y);
    return s;
}

split split::from_bytes(std::vector<std::uint8_t> bytes, int features,
                        const std::array<float, 256>& table, std::vector<std::int32_t> y) {
    const auto samples = std::int64_t(y.size());
    if (features < 0 || std::uint64_t(bytes.size()) != std::uint64_t(samples) * std::uint64_t(features))
        throw internal_error("split::from_bytes: " + std::to_string(bytes.size()) + " bytes for " +
                             std::to_string(samples) + " samples of " + std::to_string(features) +
                             " features");
    split s;
    s.bytes_mode_ = true;
    s.features_ = features;
    s.samples_ = samples;
    s.bytes_ = std::move(bytes);
    s.bytes_.shrink_to_fit();
    s.table_ = table;
    s.y = std::move(y);
    return s;
}

// The hot path: a table lookup per byte, or a column copy.
void split::read_into(std::int64_t index, float* __restrict out) const {
    const int f = features_;
    if (bytes_mode_) {
        const std::uint8_t* __restrict src = bytes_.data() + index * std::int64_t(f);
        const float* __restrict table = table_.data();
        for (int i = 0; i < f; ++i) out[i] = table[src[i]];
    } else {
        std::copy_n(x_.data() + index * std::int64_t(f), f, out);
    }
}

void split::check_out(Eigen::Index rows, Eigen::Index cols, int n, const char* what) const {
    if (rows != features_ || cols != n || n < 0)
        throw internal_error(std::string("split::") + what + ": output is " +
                             std::to_string(rows) + " x " + std::to_string(cols) + ", expected " +
                             std::to_string(features_) + " x " + std::to_string(n));
}

void split::gather(const std::int64_t* indices, int n, Eigen::Ref<Eigen::MatrixXf> out) const {
    check_out(out.rows(), out.cols(), n, "gather");
    for (int j = 0; j < n; ++j)
        if (indices[j] < 0 || indices[j] >= samples_)
            throw internal_error("split::gather: sample " + std::to_string(indices[j]) +
                                 " of " + std::to_string(samples_));
    // Shuffled samples miss the cache; asking for the one two ahead hides
    // that latency behind the lookups (about 40% off an MNIST batch here).
    constexpr int ahead = 2;
    const std::int64_t f = features_;
    for (int j = 0; j < n; ++j) {
        if (bytes_mode_ && j + ahead < n) {
            const std::uint8_t* next = bytes_.data() + indices[j + ahead] * f;
            for (std::int64_t b = 0; b < f; b += 64) __builtin_prefetch(next + b);
            if (f > 0) __builtin_prefetch(next + f - 1);
        }
        read_into(indices[j], out.col(j).data());
    }
}

void split::copy(std::int64_t first, int n, Eigen::Ref<Eigen::MatrixXf> out) const {
    check_out(out.rows(), out.cols(), n, "copy");
    if (first < 0 || first + n > samples_)
        throw internal_error("split::copy: samples " + std::to_string(first) + " .. " +
                             std::to_string(first + n) + " of " + std::to_string(samples_));
    for (int j = 0; j < n; ++j) read_into(first + j, out.col(j).data());
}

void split::read(std::int64_t index, Eigen::Ref<Eigen::VectorXf> out) const {
    check_out(out.rows(), out.cols(), 1, "read");
    if (index < 0 || index >= samples_)
        throw internal_error("split::read: sample " + std::to_string(index) + " of " +
                             std::to_string(samples_));
    read_into(index, out.data());
}

float split::at(Eigen::Index feature, std::int64_t sample) const {
    if (feature < 0 || feature >= features_ || sample < 0 || sample >= samples_)
        throw internal_error("split::at: (" + std::to_string(feature) + ", " +
                             std::to_string(sample) + ") outside " + std::to_string(features_) +
                             " x " + std::to_string(samples_));
    if (!bytes_mode_) return x_(feature, sample);
    return table_[bytes_[std::size_t(sample * std::int64_t(features_) + feature)]];
}

Eigen::MatrixXf split::dense() const {
    if (!bytes_mode_) return x_;
    Eigen::MatrixXf x(features_, samples_);
    for (std::int64_t j = 0; j < samples_; ++j) read_into(j, x.col(j).data());
    return x;
}

const std::vector<std::string>& known_datasets() {
    static const std::vector<std::string> names = {"mnist", "fashion-mnist", "idx", "cifar10",
                                                   "teacher"};
    return names;
}

dataset load(const dataset_spec& spec) {
    const std::string& name = spec.name;
    bool known = false;
    for (const auto& k: known_datasets()) known = known || k == name;
    if (!known)
        throw input_error(spec.where + ".name: unknown dataset '" + name + "' (known: " +
                          join(known_datasets(), ", ") + ")");
    // Checked before any file is read, so a typo does not wait for a load.
    const normalization norm = parse_normalize(spec);

    if (name == "teacher") return load_teacher(spec, norm);
    if (name == "cifar10") return from_bytes(spec, norm, load_cifar10(spec), cifar10_classes);

    if (name == "mnist") {
        idx_source src{"MNIST", "`scripts/fetch-data mnist` downloads it", 10, 28};
        return from_bytes(spec, norm, load_idx_folder(spec, src, default_folders(spec, "mnist")),
                          10);
    }
    if (name == "fashion-mnist") {
        idx_source src{"Fashion-MNIST", "`apt-get install dataset-fashion-mnist` installs it",
                       10, 28};
        auto folders = default_folders(spec, "fashion-mnist");
        if (spec.path.empty())
            folders.push_back({"/usr/share/datasets/fashion-mnist",
                               "/usr/share/datasets/fashion-mnist"});
        return from_bytes(spec, norm, load_idx_folder(spec, src, folders), 10);
    }

    // name == "idx"
    if (spec.path.empty())
        throw input_error(spec.where + ".path: dataset 'idx' needs the folder holding " +
                          "train-images-idx3-ubyte, train-labels-idx1-ubyte, " +
                          "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (plain or .gz)");
    if (spec.idx_classes < 0)
        throw input_error(spec.where + ".idx_classes: must be 0 (from the labels) or more, got " +
                          std::to_string(spec.idx_classes));
    idx_source src{"IDX data", "put the four MNIST-style IDX files there", spec.idx_classes, 0};
    auto raw = load_idx_folder(spec, src, default_folders(spec, "idx"));
    int n_classes = spec.idx_classes;
    if (n_classes == 0)
        for (const auto& s: raw)
            for (auto y: s.labels) n_classes = std::max(n_classes, int(y) + 1);
    return from_bytes(spec, norm, std::move(raw), n_classes);
}

} // namespace counterstream::datasets
