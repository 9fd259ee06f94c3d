// The CLI's commands: each add_*_command() declares its subcommand and options on the app and
// returns the object that runs it once the command line is parsed. main.cpp lists them all.
// Threading: main thread only.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace edgepipe {

class command {
 public:
  virtual ~command() = default;
  /// True when the parsed command line named this command.
  virtual bool chosen() const = 0;
  /// Runs it; returns the exit code (app/exit_codes.hpp).
  virtual int run() = 0;
};

std::unique_ptr<command> add_run_command(CLI::App& app);             // run, the daemon
std::unique_ptr<command> add_record_command(CLI::App& app);          // record
std::unique_ptr<command> add_replay_command(CLI::App& app);          // replay
std::unique_ptr<command> add_synth_command(CLI::App& app);           // synth
std::unique_ptr<command> add_check_command(CLI::App& app);           // check
std::unique_ptr<command> add_spool_command(CLI::App& app);           // spool inspect|replay
std::unique_ptr<command> add_config_doc_command(CLI::App& app);      // config-doc
std::unique_ptr<command> add_default_config_command(CLI::App& app);  // default-config
std::unique_ptr<command> add_schema_command(CLI::App& app);          // schema

/// cdc-print: the postgres_cdc source alone, Debezium events as JSON lines (app/cdc_print_command)
std::unique_ptr<command> add_cdc_print_command(CLI::App& app);

}  // namespace edgepipe
