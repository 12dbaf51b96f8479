// Test helpers: the counterstream binary as a child process whose output is
// read while it runs, so that a test can stop it with a signal at a chosen
// moment.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

namespace counterstream::testing {

struct child {
    pid_t pid = -1;
    int out = -1; // the child's stdout and stderr
};

// Starts `program` (default: counterstream) with `args` in `dir`.
inline child start(const std::filesystem::path& dir, const std::vector<std::string>& args,
                   const std::string& program = COUNTERSTREAM_BINARY) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        if (chdir(dir.c_str()) != 0)
            _exit(127);
        std::vector<std::string> copies = {program};
        copies.insert(copies.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& a: copies)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        execvp(program.c_str(), argv.data());
        _exit(127);
    }
    close(fds[1]);
    return {pid, fds[0]};
}

// Reads the child's output into `seen` until it contains `needle` (or ends).
inline const std::string& read_until(const child& c, const std::string& needle, std::string& seen) {
    char buf[256];
    while (seen.find(needle) == std::string::npos) {
        const ssize_t n = read(c.out, buf, sizeof buf);
        if (n <= 0)
            break;
        seen.append(buf, std::size_t(n));
    }
    return seen;
}

// Waits for the child; its exit code, or 128 + the signal that ended it.
inline int finish(const child& c, std::string& seen) {
    read_until(c, "\x01never", seen);
    close(c.out);
    int status = 0;
    waitpid(c.pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace counterstream::testing
