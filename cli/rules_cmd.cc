// reflex rules: not yet wired.
#include "modules.h"

namespace reflex::cli {

void AddRulesCommands(CLI::App& /*app*/, Runner* /*run*/) {}

}  // namespace reflex::cli
