// reflex config schema: every configuration key of `reflex run`, from the schemas the
// loaders read with (app/app.h ConfigSchemaDocs), as a table or as Markdown for docs/.
#include <iostream>

#include "modules.h"
#include "reflex/app/app.h"

namespace reflex::cli {

void AddConfigCommands(CLI::App& app, Runner* run) {
  auto* config = app.add_subcommand("config", "The configuration of reflex run");
  config->require_subcommand(1);
  auto markdown = std::make_shared<bool>(false);
  auto* schema = config->add_subcommand(
      "schema", "Print every configuration key: type, default, environment override, meaning");
  schema->add_flag("--markdown", *markdown, "Print a Markdown table (docs/configuration.md)");
  schema->callback([run, markdown] {
    *run = [markdown] {
      const auto docs = app::ConfigSchemaDocs();
      std::cout << (*markdown ? base::RenderSchemaMarkdown(docs) : base::RenderSchemaText(docs));
      return 0;
    };
  });
}

}  // namespace reflex::cli
