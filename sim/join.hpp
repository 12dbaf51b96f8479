// Joining strings with a separator, for messages and printed lists.
#pragma once

#include <string>
#include <vector>

namespace counterstream {

// "a, b, c" from {"a", "b", "c"} and ", "; "" from none.
inline std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (const auto& p: parts) {
        if (!out.empty())
            out += sep;
        out += p;
    }
    return out;
}

} // namespace counterstream
