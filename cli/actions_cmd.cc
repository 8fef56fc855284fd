// reflex actions: not yet wired.
#include "modules.h"

namespace reflex::cli {

void AddActionCommands(CLI::App& /*app*/, Runner* /*run*/) {}

}  // namespace reflex::cli
