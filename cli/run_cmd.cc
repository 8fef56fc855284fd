// reflex run: not yet wired.
#include "modules.h"

namespace reflex::cli {

void AddRunCommand(CLI::App& /*app*/, Runner* /*run*/) {}

}  // namespace reflex::cli
