#include "models/library.hpp"

#include "models/initializers/initializers.hpp"

namespace counterstream::models {

library standard_library() {
    library lib;
    for (int i = 0; i < laws::activation_count; ++i)
        lib.activations.add(laws::activation_names[i],
                            std::make_unique<activation>(activation{laws::activation_law(i)}));
    for (int i = 0; i < laws::loss_count; ++i)
        lib.losses.add(laws::loss_names[i], std::make_unique<loss>(loss{laws::loss_law(i)}));
    add_initializers(lib.initializers);
    return lib;
}

} // namespace counterstream::models
