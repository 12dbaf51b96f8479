#include "models/library.hpp"

#include "models/initializers/initializers.hpp"
#include "models/losses/losses.hpp"
#include "models/neurons/activations.hpp"

namespace counterstream::models {

library standard_library() {
    library lib;
    add_activations(lib.activations);
    add_losses(lib.losses);
    add_initializers(lib.initializers);
    return lib;
}

} // namespace counterstream::models
