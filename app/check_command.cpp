// `edgepipe check -c CONFIG`: validates a config as `run` would, without starting anything.
#include <filesystem>

#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "app/run_pipeline.hpp"
#include "config/config_loader.hpp"
#include "stages/pipeline/stage_checks.hpp"

namespace edgepipe {

namespace {

class check_command final : public command {
 public:
  explicit check_command(CLI::App& app) {
    cmd_ = app.add_subcommand("check", "validate a config file and exit (2 when invalid)");
    cmd_->add_option("-c,--config", config_path_, "TOML config file")->required();
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    if (!std::filesystem::exists(config_path_))
      return config_error("cannot read config file " + config_path_ + ": no such file");
    pipeline_config config;
    if (status s = load_config(config_path_, config); !s) return config_error(s.message());
    if (status s = validate_config(config, pipeline_stage_checks()); !s)
      return config_error(s.message());
    std::printf("%s: ok (%zu sources, %zu sinks)\n", config_path_.c_str(), config.sources.size(),
                config.sinks.size());
    return kExitOk;
  }

 private:
  CLI::App* cmd_ = nullptr;
  std::string config_path_;
};

}  // namespace

std::unique_ptr<command> add_check_command(CLI::App& app) {
  return std::make_unique<check_command>(app);
}

}  // namespace edgepipe
