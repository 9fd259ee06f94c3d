// edgepipe's entry point: declares every command (app/command.hpp), parses the command line
// and runs the one it names. Exit codes: app/exit_codes.hpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "io/file_faults.hpp"
#include "platform/heap.hpp"

namespace {

// CLI11 answers a mistyped command (`edgepipe rnu`, `edgepipe spool stat`) with "A subcommand is
// required": name the word and the commands expected there instead. Only the leading words are
// commands; the first option ends them. Returns false after printing the error.
bool commands_are_known(const CLI::App& app, int argc, char** argv) {
  const CLI::App* at = &app;
  std::string path = "edgepipe";
  for (int i = 1; i < argc && argv[i][0] != '-'; ++i) {
    const auto subs = at->get_subcommands([](const CLI::App*) { return true; });
    if (subs.empty()) return true;
    const CLI::App* next = nullptr;
    std::string names;
    for (const CLI::App* s : subs) {
      if (s->get_name() == argv[i]) next = s;
      names += (names.empty() ? "" : ", ") + s->get_name();
    }
    if (next == nullptr) {
      std::fprintf(stderr, "edgepipe: unknown command '%s %s' (expected one of: %s)\n",
                   path.c_str(), argv[i], names.c_str());
      return false;
    }
    at = next;
    path += " " + next->get_name();
  }
  return true;
}

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

  if (!commands_are_known(app, argc, argv)) return kExitConfig;
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
