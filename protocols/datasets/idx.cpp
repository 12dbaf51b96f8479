// IDX reader and writer; plain and gzipped files both go through zlib, which
// reads uncompressed files transparently.
#include "protocols/datasets/idx.hpp"

#include "sim/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <system_error>

namespace counterstream::datasets {

namespace {

std::string hex(std::uint32_t v, int digits) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%0*x", digits, unsigned(v));
    return buf;
}

std::string dims_text(const std::vector<std::uint32_t>& dims) {
    std::string s;
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (i) s += " x ";
        s += std::to_string(dims[i]);
    }
    return s;
}

const char* rank_kind(int rank) {
    return rank == 1 ? "labels" : rank == 3 ? "images" : "array";
}

// A corrupt header may claim more than 2^64 bytes; saturating keeps the
// comparison with the real length meaningful.
std::uint64_t product(const std::vector<std::uint32_t>& dims) {
    std::uint64_t n = 1;
    for (auto d: dims) {
        if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d)
            return std::numeric_limits<std::uint64_t>::max();
        n *= d;
    }
    return n;
}

struct gz_closer {
    void operator()(gzFile_s* f) const { gzclose(f); }
};
using gz_ptr = std::unique_ptr<gzFile_s, gz_closer>;

class gz_reader {
public:
    explicit gz_reader(const std::filesystem::path& file) : name_(file.string()) {
        errno = 0;
        f_.reset(gzopen(name_.c_str(), "rb"));
        if (!f_)
            fail(std::string("cannot open: ") +
                 (errno ? std::strerror(errno) : "out of memory"));
        gzbuffer(f_.get(), 1 << 18);
    }

    // Reads up to n bytes; fewer only at the end of the data.
    std::size_t read(void* dst, std::size_t n) {
        auto* p = static_cast<unsigned char*>(dst);
        std::size_t done = 0;
        while (done < n) {
            // gzread takes an unsigned count and returns an int.
            unsigned want = unsigned(std::min<std::size_t>(n - done, 1u << 30));
            int got = gzread(f_.get(), p + done, want);
            if (got < 0) {
                int errnum = 0;
                const char* msg = gzerror(f_.get(), &errnum);
                if (errnum == Z_ERRNO)
                    fail(std::string("cannot read: ") + std::strerror(errno));
                fail(std::string("corrupt gzip data: ") + msg);
            }
            if (got == 0) break;
            done += std::size_t(got);
        }
        return done;
    }

    // True when the input ended inside a gzip stream (zlib reports that as
    // Z_BUF_ERROR at end of file rather than as a read error).
    bool stream_cut_short() {
        int errnum = 0;
        gzerror(f_.get(), &errnum);
        return errnum == Z_BUF_ERROR;
    }

    bool gzipped() { return gzdirect(f_.get()) == 0; }

    [[noreturn]] void fail(const std::string& what) const {
        throw input_error(name_ + ": " + what);
    }

private:
    std::string name_;
    gz_ptr f_;
};

std::uint32_t big_endian(const unsigned char* p) {
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
           std::uint32_t(p[3]);
}

void put_big_endian(unsigned char* p, std::uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

} // namespace

idx_array read_idx(const std::filesystem::path& file, int rank) {
    gz_reader in(file);
    const std::string cut = " (the gzip stream ends early)";

    unsigned char magic[4];
    std::size_t got = in.read(magic, 4);
    if (got < 4)
        in.fail("truncated: " + std::to_string(got) + " bytes, shorter than the 4-byte IDX magic" +
                (in.stream_cut_short() ? cut : ""));
    std::uint32_t m = big_endian(magic);
    if (magic[0] != 0 || magic[1] != 0)
        in.fail("not an IDX file: magic " + hex(m, 8) + " does not start with two zero bytes");
    if (magic[2] != 0x08)
        in.fail("unsupported IDX element type " + hex(magic[2], 2) + " (magic " + hex(m, 8) +
                "); only 0x08, unsigned byte, is read");
    int file_rank = magic[3];
    if (file_rank == 0) in.fail("not an IDX file: magic " + hex(m, 8) + " declares 0 dimensions");
    if (rank != 0 && file_rank != rank)
        in.fail("wrong IDX magic " + hex(m, 8) + " (" + std::to_string(file_rank) +
                "-dimensional " + rank_kind(file_rank) + "), expected " +
                hex(0x0800u | unsigned(rank), 8) + " (" + std::to_string(rank) + "-dimensional " +
                rank_kind(rank) + ")");

    idx_array a;
    std::size_t header = 4 + 4 * std::size_t(file_rank);
    std::vector<unsigned char> raw(4 * std::size_t(file_rank));
    got = in.read(raw.data(), raw.size());
    if (got < raw.size())
        in.fail("truncated: " + std::to_string(4 + got) + " bytes, shorter than the " +
                std::to_string(header) + "-byte header of a " + std::to_string(file_rank) +
                "-dimensional IDX file" + (in.stream_cut_short() ? cut : ""));
    for (int i = 0; i < file_rank; ++i) a.dims.push_back(big_endian(raw.data() + 4 * i));

    std::uint64_t expected = product(a.dims);
    // Grow with the data actually present, so that a corrupt header claiming
    // terabytes does not allocate them; deflate expands at most ~1032-fold.
    std::error_code ec;
    std::uint64_t on_disk = std::filesystem::file_size(file, ec);
    if (!ec) {
        std::uint64_t bound = in.gzipped() ? on_disk * 1032 : on_disk;
        a.bytes.reserve(std::size_t(std::min(expected, bound)));
    }
    constexpr std::size_t chunk = std::size_t(1) << 20;
    std::uint64_t have = 0;
    while (have < expected) {
        std::size_t want = std::size_t(std::min<std::uint64_t>(chunk, expected - have));
        a.bytes.resize(std::size_t(have) + want);
        std::size_t n = in.read(a.bytes.data() + have, want);
        have += n;
        if (n < want) break;
    }
    a.bytes.resize(std::size_t(have));
    std::uint64_t extra = 0;
    if (have == expected) {
        std::vector<unsigned char> scratch(chunk);
        while (std::size_t n = in.read(scratch.data(), scratch.size())) extra += n;
    }

    const bool cut_short = in.stream_cut_short();
    std::string decompressed;
    if (in.gzipped())
        decompressed = cut_short ? " (decompressed; the gzip stream ends early)" : " (decompressed)";
    std::string says = "header says " + dims_text(a.dims) + " bytes, file has ";
    std::string after = " after the " + std::to_string(header) + "-byte header";
    if (have < expected)
        in.fail("truncated: " + says + std::to_string(have) + after + decompressed);
    if (extra > 0)
        in.fail("corrupt: " + says + std::to_string(expected + extra) + after + decompressed +
                ", " + std::to_string(extra) + " more than expected");
    if (cut_short) in.fail("truncated: the gzip stream ends before its trailer");
    return a;
}

void write_idx(const std::filesystem::path& file, const std::vector<std::uint32_t>& dims,
               const std::vector<std::uint8_t>& bytes) {
    if (dims.empty() || dims.size() > 255)
        throw internal_error("write_idx: rank " + std::to_string(dims.size()) +
                             " outside 1..255");
    if (product(dims) != bytes.size())
        throw internal_error("write_idx: dims " + dims_text(dims) + " do not match " +
                             std::to_string(bytes.size()) + " bytes");

    std::vector<unsigned char> header(4 + 4 * dims.size());
    put_big_endian(header.data(), 0x0800u | unsigned(dims.size()));
    for (std::size_t i = 0; i < dims.size(); ++i)
        put_big_endian(header.data() + 4 + 4 * i, dims[i]);

    const std::string name = file.string();
    if (file.extension() == ".gz") {
        errno = 0;
        gz_ptr f(gzopen(name.c_str(), "wb"));
        if (!f)
            throw input_error(name + ": cannot create: " +
                              (errno ? std::strerror(errno) : "out of memory"));
        // gzwrite takes an unsigned count, so large payloads go in pieces.
        auto write = [&](const unsigned char* p, std::size_t n) {
            while (n > 0) {
                unsigned part = unsigned(std::min<std::size_t>(n, 1u << 30));
                if (gzwrite(f.get(), p, part) != int(part)) {
                    int errnum = 0;
                    throw input_error(name + ": cannot write: " + gzerror(f.get(), &errnum));
                }
                p += part;
                n -= part;
            }
        };
        write(header.data(), header.size());
        write(bytes.data(), bytes.size());
        if (gzclose(f.release()) != Z_OK) throw input_error(name + ": cannot write: close failed");
        return;
    }

    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (!out) throw input_error(name + ": cannot create: " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(header.data()), std::streamsize(header.size()));
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    out.close();
    if (!out) throw input_error(name + ": cannot write: " + std::strerror(errno));
}

} // namespace counterstream::datasets
