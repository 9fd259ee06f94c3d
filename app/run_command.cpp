// `edgepipe run -c CONFIG` (the daemon) and `edgepipe record -c CONFIG --out TRACE`: both
// poll the config's HTTP sources until a signal; record also captures every response.
#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "app/run_pipeline.hpp"

namespace edgepipe {

namespace {

class run_command final : public command {
 public:
  explicit run_command(CLI::App& app) {
    cmd_ = app.add_subcommand("run", "run the daemon from a config file");
    cmd_->add_option("-c,--config", config_path_, "TOML config file")
        ->required()
        ->check(CLI::ExistingFile);
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    pipeline_config config;
    if (status s = load_config(config_path_, config); !s) return config_error(s.message());
    run_options o;
    o.config_path = config_path_;
    return run_pipeline(std::move(config), o);
  }

 private:
  CLI::App* cmd_ = nullptr;
  std::string config_path_;
};

class record_command final : public command {
 public:
  explicit record_command(CLI::App& app) {
    cmd_ =
        app.add_subcommand("record", "run the HTTP sources and capture every response to a trace");
    cmd_->add_option("-c,--config", config_path_, "TOML config file")
        ->required()
        ->check(CLI::ExistingFile);
    cmd_->add_option("--out", out_, "trace file to write (rotated by [capture] rotate_bytes)")
        ->required();
    cmd_->add_option("--duration", duration_,
                     "stop after this long (e.g. 30s, 10m); default: until SIGINT/SIGTERM");
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    pipeline_config config;
    if (status s = load_config(config_path_, config); !s) return config_error(s.message());
    run_options o;
    o.config_path = config_path_;
    o.mode = run_mode::record;
    if (!config.has_http_sources())
      return config_error("record: " + config_path_ + " has no source with a 'url' to poll");
    capture_config cc;
    cc.path = out_;
    if (config.capture) cc.rotate_bytes = config.capture->rotate_bytes;
    config.capture = cc;
    if (!duration_.empty()) {
      const auto ms = parse_duration_ms(duration_);
      if (!ms || *ms == 0)
        return config_error("record: --duration must look like 30s, 10m or 1h, not '" +
                            duration_ + "'");
      o.duration_ms = *ms;
    }
    return run_pipeline(std::move(config), o);
  }

 private:
  CLI::App* cmd_ = nullptr;
  std::string config_path_, out_, duration_;
};

}  // namespace

std::unique_ptr<command> add_run_command(CLI::App& app) {
  return std::make_unique<run_command>(app);
}
std::unique_ptr<command> add_record_command(CLI::App& app) {
  return std::make_unique<record_command>(app);
}

}  // namespace edgepipe
