// reflex escalations: not yet wired.
#include "modules.h"

namespace reflex::cli {

void AddEscalationCommands(CLI::App& /*app*/, Runner* /*run*/) {}

}  // namespace reflex::cli
