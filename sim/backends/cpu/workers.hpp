// The CPU backend's threads: run(parts, fn) calls fn(part) for every
// part < parts, part 0 on the caller and part i on worker i, and returns when
// all are done. Which thread runs a part never changes its result.
//
// When the workers keep finishing their parts well after the caller (three
// calls in a row, the wait longer than half the caller's own part), another
// process holds their cores: the caller then runs every part itself for
// 50 ms, the same parts, so results do not change.
//
// Waiting is passive after a short spin (C++20 atomic waits, futexes on
// Linux): a worker that finishes first, or has nothing to do between steps,
// gives its core away instead of spinning on it. On a machine where another
// process holds a core, spinning waiters (OpenMP's default) take turns with
// the thread they wait for and a step slows by several times.
#pragma once

#include <functional>

namespace counterstream::cpu {

// An exception from fn is rethrown on the caller once every part has
// returned (the lowest part's, if several throw). A call made while another
// thread's call holds the workers runs its parts in turn on the caller.
void run_parts(int parts, const std::function<void(int)>& fn);

} // namespace counterstream::cpu
