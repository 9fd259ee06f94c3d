// `edgepipe replay --trace FILE`: plays a captured trace (or JSON Lines) through the
// transforms into the config's sinks or the --sink URIs, then prints the JSON summary.
#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "app/run_pipeline.hpp"
#include "app/sink_uri.hpp"

namespace edgepipe {

namespace {

class replay_command final : public command {
 public:
  explicit replay_command(CLI::App& app) {
    cmd_ = app.add_subcommand("replay",
                              "replay a captured trace (or JSON Lines) through the transforms");
    cmd_->add_option("-c,--config", config_path_, "TOML config file (default: the embedded one)")
        ->check(CLI::ExistingFile);
    cmd_->add_option("--trace", trace_, "trace or JSON Lines file")->required();
    cmd_->add_option("--source", source_, "treat every payload as this source");
    cmd_->add_option("--speed", speed_, "max | 1x | Nx (e.g. 10x, 0.5x)");
    cmd_->add_option("--sink", sink_uris_,
                     "file:PATH, kafka://HOST:PORT/TOPIC or mongodb://HOST:PORT/DB.COLL "
                     "(repeatable); replaces the config's sinks");
    cmd_->add_option("--spool", spool_dir_,
                     "spool directory, or 'none' to feed the sinks from memory (default: the "
                     "config's [spool] dir)");
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    pipeline_config config;
    if (status s = load_config(config_path_, config); !s) return config_error(s.message());
    const auto factor = parse_speed(speed_);
    if (!factor)
      return config_error("replay: --speed must be max, 1x or Nx, not '" + speed_ + "'");
    // A replay plays the trace only: no polling, no capture, no operator endpoint.
    for (auto& src : config.sources) src.http.reset();
    config.capture.reset();
    replay_config rc;
    rc.trace = trace_;
    rc.speed = *factor;
    rc.source = source_;
    config.replay = rc;
    if (!spool_dir_.empty()) config.spool.dir = spool_dir_ == "none" ? "" : spool_dir_;
    if (!sink_uris_.empty()) {
      config.sinks.clear();
      for (const auto& uri : sink_uris_) {
        sink_config sc;
        if (status s = parse_sink_uri(uri, config.sinks.size(), sc); !s)
          return config_error(s.message());
        config.sinks.push_back(std::move(sc));
      }
    }
    run_options o;
    o.mode = run_mode::replay;
    return run_pipeline(std::move(config), o);
  }

 private:
  CLI::App* cmd_ = nullptr;
  std::string config_path_, trace_, source_, speed_ = "max", spool_dir_;
  std::vector<std::string> sink_uris_;
};

}  // namespace

std::unique_ptr<command> add_replay_command(CLI::App& app) {
  return std::make_unique<replay_command>(app);
}

}  // namespace edgepipe
