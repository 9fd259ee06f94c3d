// edgepipe's entry point: declares every command (app/command.hpp), parses the command line
// and runs the one it names. Exit codes: app/exit_codes.hpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <memory>
#include <vector>

#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "io/file_faults.hpp"
#include "platform/heap.hpp"

namespace {

int run_cli(int argc, char** argv) {
  using namespace edgepipe;
  // Tests only (tests/integration): injected file-layer errors (file_faults.hpp).
  if (!file_faults::arm_from_env()) {
    std::fprintf(stderr, "edgepipe: malformed EDGEPIPE_FILE_FAULTS\n");
    return kExitConfig;
  }
  CLI::App app{
      "edgepipe: poll, record and replay JSON APIs, transform with simdjson, deliver "
      "to files, Kafka and MongoDB"};
  app.set_version_flag("--version", std::string("edgepipe ") + EDGEPIPE_VERSION);
  app.require_subcommand(1);

  std::vector<std::unique_ptr<command>> commands;
  commands.push_back(add_run_command(app));
  commands.push_back(add_replay_command(app));
  commands.push_back(add_synth_command(app));
  commands.push_back(add_record_command(app));
  commands.push_back(add_spool_command(app));
  commands.push_back(add_check_command(app));
  commands.push_back(add_config_doc_command(app));
  commands.push_back(add_default_config_command(app));
  commands.push_back(add_cdc_print_command(app));
  commands.push_back(add_schema_command(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitConfig;
  }
  for (auto& c : commands)
    if (c->chosen()) return c->run();
  return kExitConfig;
}

}  // namespace

int main(int argc, char** argv) {
  // Errors are values below here; an exception reaching this point (std::bad_alloc at start, a
  // library's throw) is reported, not left to std::terminate.
  try {
    edgepipe::configure_heap();  // before any thread starts
    return run_cli(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgepipe: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "edgepipe: unknown exception\n");
  }
  return edgepipe::kExitRuntime;
}
