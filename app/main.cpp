// edgepipe's command line: run, replay, synth, check, config-doc. Config errors exit with 2,
// runtime failures with 1. Signals are handled here, on the main thread, and nowhere else.
#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "app/cdc_print_command.hpp"
#include "app/sink_uri.hpp"
#include "app/spool_commands.hpp"
#include "config/config_loader.hpp"
#include "config/config_schema.hpp"
#include "io/http_endpoint.hpp"
#include "io/trace_format.hpp"
#include "platform/log.hpp"
#include "stages/pipeline.hpp"
#include "stages/synth_payloads.hpp"

namespace {

using namespace edgepipe;

constexpr int kExitConfig = 2;
constexpr int kExitRuntime = 1;
// After the drain deadline, how long sinks get to give up and write their ledgers.
constexpr auto kAbandonGrace = std::chrono::seconds(5);

int config_error(const std::string& message) {
  std::fprintf(stderr, "edgepipe: %s\n", message.c_str());
  return kExitConfig;
}

status load(const std::string& path, pipeline_config& config) {
  return path.empty() ? load_default_config(config) : load_config_file(path, config);
}

enum class run_mode { daemon, replay, record };

struct run_options {
  run_mode mode = run_mode::daemon;
  std::string config_path;        // re-read on SIGHUP (daemon/record); empty = embedded
  std::uint64_t duration_ms = 0;  // record --duration; 0 = until a signal
};

/// Runs a validated config until the sources end or SIGINT/SIGTERM (drain, bounded by
/// pipeline.drain_timeout), reloading it on SIGHUP when it validates. Prints counters at exit
/// and, for replay, the JSON summary.
int run_pipeline(pipeline_config config, const run_options& options) {
  if (status s = validate_config(config); !s) return config_error(s.message());
  set_log_json(config.logs == log_format::json);
  // Block the signals before any thread exists so every thread inherits the mask; the main
  // thread then takes them synchronously with sigtimedwait.
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const auto started = std::chrono::steady_clock::now();
  const pthread_t main_thread = pthread_self();
  const bool serve = options.mode != run_mode::replay && config.http_server.enabled;
  config.sinks_may_start_down = options.mode == run_mode::daemon;
  bool first = true;
  std::optional<pipeline_config> previous;  // the config before the last reload
  for (;;) {
    auto p = std::make_unique<pipeline>(config);
    if (status s = p->build(); !s) {
      if (first) return config_error(s.message());
      if (!previous) {
        log_line(log_level::error, "main", "restart failed: " + s.message());
        return kExitRuntime;
      }
      // The new config validated but could not start (a sink's directory, a port...): go
      // back to the one that was running rather than leave the node without a pipeline.
      log_line(log_level::error, "main",
               "reloaded config failed to start, going back to the previous one: " + s.message());
      config = std::move(*previous);
      previous.reset();
      continue;
    }
    // Throughput figures start here: connecting to brokers and opening files is not counted.
    const auto pipeline_started = std::chrono::steady_clock::now();
    p->start([main_thread] { pthread_kill(main_thread, SIGUSR1); });
    http_endpoint endpoint;
    if (serve) {
      pipeline* current = p.get();
      if (status s = endpoint.start(
              config.http_server.listen,
              [current](const std::string& path) {
                if (path == "/metrics")
                  return http_reply{200, "text/plain; version=0.0.4", current->prometheus_text()};
                if (path == "/health" || path == "/health/live") {
                  const std::string why = current->not_ready_reason();
                  if (path == "/health/live") return http_reply{200, "text/plain", "live\n"};
                  return why.empty() ? http_reply{200, "text/plain", "ready\n"}
                                     : http_reply{503, "text/plain", "not ready: " + why + "\n"};
                }
                return http_reply{404, "text/plain", "not found: try /metrics or /health\n"};
              });
          !s) {
        p->request_stop();
        p->join();
        if (first || !previous) return config_error(s.message());
        log_line(log_level::error, "main",
                 "reloaded config failed to start, going back to the previous one: " + s.message());
        config = std::move(*previous);
        previous.reset();
        continue;
      }
      log_line(log_level::info, "main",
               "serving /metrics and /health on port " + std::to_string(endpoint.port()));
    }
    sd_notify(0, first ? "READY=1\nSTATUS=running" : "READY=1\nSTATUS=reloaded");
    first = false;

    bool reload = false;
    bool stopping = false;
    bool abandoning = false;
    std::chrono::steady_clock::time_point drain_deadline{};
    const auto record_deadline =
        started + std::chrono::milliseconds(options.duration_ms ? options.duration_ms : 0);
    while (!p->finished()) {
      // Wake at the record deadline or the drain deadline, whichever applies.
      std::chrono::steady_clock::time_point until = std::chrono::steady_clock::time_point::max();
      if (options.duration_ms && !stopping) until = record_deadline;
      if (stopping) until = drain_deadline;
      int sig = 0;
      if (until == std::chrono::steady_clock::time_point::max()) {
        sigwait(&set, &sig);
      } else {
        const auto left = until - std::chrono::steady_clock::now();
        const auto ns = std::max<std::int64_t>(
            0, std::chrono::duration_cast<std::chrono::nanoseconds>(left).count());
        timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
        sig = sigtimedwait(&set, nullptr, &ts);
        if (sig < 0) sig = 0;  // timed out
      }
      const bool timed_out = sig == 0 && std::chrono::steady_clock::now() >= until;
      if (stopping && timed_out && p->spooled() && !abandoning) {
        // The spool keeps what the sinks have not confirmed: stop waiting for them, close
        // cleanly (ledgers written), and let the next start deliver the rest.
        log_line(log_level::warn, "main",
                 "drain did not finish within pipeline.drain_timeout; leaving what the sinks "
                 "have not confirmed in the spool for the next start");
        p->abandon_delivery();
        abandoning = true;
        drain_deadline = std::chrono::steady_clock::now() + kAbandonGrace;
        continue;
      }
      if (stopping && timed_out) {
        log_line(log_level::error, "main",
                 "drain did not finish within pipeline.drain_timeout; exiting with records "
                 "still in flight (see counters)");
        std::fputs(p->counters_report().c_str(), stderr);
        std::fflush(nullptr);
        std::_Exit(kExitRuntime);
      }
      if (sig == SIGINT || sig == SIGTERM || (timed_out && options.duration_ms && !stopping)) {
        if (!stopping) {
          log_line(log_level::info, "main",
                   sig == SIGINT    ? "SIGINT: draining"
                   : sig == SIGTERM ? "SIGTERM: draining"
                                    : "duration reached: draining");
          sd_notify(0, "STOPPING=1");
          p->request_stop();
          stopping = true;
          drain_deadline =
              std::chrono::steady_clock::now() + std::chrono::milliseconds(config.drain_timeout_ms);
        }
      } else if (sig == SIGHUP && !stopping) {
        if (options.config_path.empty()) {
          log_line(log_level::warn, "main", "SIGHUP ignored: running the embedded config");
          continue;
        }
        pipeline_config next;
        status s = load_config_file(options.config_path, next);
        if (s) s = validate_config(next);
        if (!s) {
          log_line(log_level::error, "main",
                   "SIGHUP: new config rejected, keeping the running one: " + s.message());
          continue;
        }
        log_line(
            log_level::info, "main",
            "SIGHUP: config " + options.config_path + " is valid: draining and restarting with it");
        sd_notify(0, "RELOADING=1");
        if (options.mode == run_mode::record) next.capture = config.capture;  // keep recording
        previous = std::move(config);
        config = std::move(next);
        set_log_json(config.logs == log_format::json);
        p->request_stop();
        stopping = true;
        reload = true;
        drain_deadline =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(config.drain_timeout_ms);
      }
    }
    p->join();
    endpoint.stop();
    if (reload) {
      std::fputs(p->counters_report().c_str(), stderr);
      continue;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - pipeline_started).count();
    std::fputs(p->counters_report().c_str(), stderr);
    if (options.mode == run_mode::replay) std::printf("%s\n", p->summary_json(seconds).c_str());
    std::fflush(stdout);
    return 0;
  }
}

int cmd_synth(const std::string& api_name, std::uint64_t payloads, const std::string& out,
              std::uint64_t seed, const std::string& format) {
  const auto api = parse_synth_api(api_name);
  if (!api)
    return config_error("synth: --api must be coingecko, iss or randomuser, not '" + api_name +
                        "'");
  if (format != "trace" && format != "jsonl")
    return config_error("synth: --format must be trace or jsonl, not '" + format + "'");
  const std::filesystem::path path(out);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  synth_generator gen(*api, seed);
  std::string body;
  status st;
  if (format == "trace") {
    trace_writer w;
    if (st = w.open(out); !st)
      return std::fprintf(stderr, "edgepipe: %s\n", st.message().c_str()), kExitRuntime;
    for (std::uint64_t i = 0; i < payloads; ++i) {
      trace_frame f;
      f.received_unix_ns = static_cast<std::int64_t>(gen.next(body));
      f.source = synth_api_name(*api);
      f.body = body;
      f.http_status = 200;
      if (!w.write(f)) break;
    }
    st = w.close();
  } else {
    uring_file_writer w;
    if (st = w.open(out); !st)
      return std::fprintf(stderr, "edgepipe: %s\n", st.message().c_str()), kExitRuntime;
    for (std::uint64_t i = 0; i < payloads; ++i) {
      gen.next(body);
      w.write(body);
      if (!w.write("\n")) break;
    }
    st = w.close();
  }
  if (!st) {
    std::fprintf(stderr, "edgepipe: synth: %s\n", st.message().c_str());
    return kExitRuntime;
  }
  std::printf("{\"api\":\"%s\",\"payloads\":%llu,\"bytes\":%llu,\"out\":\"%s\"}\n",
              std::string(synth_api_name(*api)).c_str(), static_cast<unsigned long long>(payloads),
              static_cast<unsigned long long>(std::filesystem::file_size(out)), out.c_str());
  return 0;
}

void print_config_doc() {
  std::printf(
      "# Configuration reference\n\nGenerated by `edgepipe config-doc` from the tables in "
      "`config/config_schema.cpp`; the loader rejects any key not listed here.\n");
  for (const auto& s : config_sections()) {
    std::printf("\n## `[%.*s]`\n\n%.*s\n\n| key | type | default | meaning |\n|---|---|---|---|\n",
                static_cast<int>(s.path.size()), s.path.data(),
                static_cast<int>(s.description.size()), s.description.data());
    for (const auto& o : s.options)
      std::printf("| `%.*s` | %.*s | %.*s | %.*s |\n", static_cast<int>(o.key.size()), o.key.data(),
                  static_cast<int>(o.type.size()), o.type.data(),
                  static_cast<int>(o.default_text.size()), o.default_text.data(),
                  static_cast<int>(o.description.size()), o.description.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "edgepipe: poll, record and replay JSON APIs, transform with simdjson, deliver "
      "to files, Kafka and MongoDB"};
  app.set_version_flag("--version", std::string("edgepipe ") + EDGEPIPE_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  auto* run = app.add_subcommand("run", "run the daemon from a config file");
  run->add_option("-c,--config", config_path, "TOML config file")
      ->required()
      ->check(CLI::ExistingFile);

  std::string trace, source, speed = "max";
  std::vector<std::string> sink_uris;
  auto* replay = app.add_subcommand(
      "replay", "replay a captured trace (or JSON Lines) through the transforms");
  replay->add_option("-c,--config", config_path, "TOML config file (default: the embedded one)")
      ->check(CLI::ExistingFile);
  replay->add_option("--trace", trace, "trace or JSON Lines file")->required();
  replay->add_option("--source", source, "treat every payload as this source");
  replay->add_option("--speed", speed, "max | 1x | Nx (e.g. 10x, 0.5x)");
  replay->add_option("--sink", sink_uris,
                     "file:PATH, kafka://HOST:PORT/TOPIC or mongodb://HOST:PORT/DB.COLL "
                     "(repeatable); replaces the config's sinks");
  std::string spool_dir_override;
  replay->add_option("--spool", spool_dir_override,
                     "spool directory, or 'none' to feed the sinks from memory (default: the "
                     "config's [spool] dir)");

  std::string api, out, format = "trace";
  std::uint64_t payloads = 100, seed = 1;
  auto* synth = app.add_subcommand("synth", "write a realistic synthetic trace of one API");
  synth->add_option("--api", api, "coingecko | iss | randomuser")->required();
  synth->add_option("--payloads", payloads, "number of API responses")->required();
  synth->add_option("--out", out, "output path")->required();
  synth->add_option("--seed", seed, "PRNG seed (same seed, same bytes)");
  synth->add_option("--format", format, "trace (default) or jsonl");

  std::string record_out, record_duration;
  auto* record =
      app.add_subcommand("record", "run the HTTP sources and capture every response to a trace");
  record->add_option("-c,--config", config_path, "TOML config file")
      ->required()
      ->check(CLI::ExistingFile);
  record->add_option("--out", record_out, "trace file to write (rotated by [capture] rotate_bytes)")
      ->required();
  record->add_option("--duration", record_duration,
                     "stop after this long (e.g. 30s, 10m); default: until SIGINT/SIGTERM");

  auto* spool_cmd = app.add_subcommand("spool", "look into a spool directory or re-send from it");
  spool_cmd->require_subcommand(1);
  std::string spool_dir, spool_sink;
  std::optional<std::uint64_t> spool_from, spool_to;
  auto* spool_inspect_cmd = spool_cmd->add_subcommand(
      "inspect", "segments, per-sink watermarks, backlog records and bytes (JSON)");
  spool_inspect_cmd->add_option("dir", spool_dir, "spool directory")->required();
  auto* spool_replay_cmd =
      spool_cmd->add_subcommand("replay", "send records of the spool to a sink (read-only)");
  spool_replay_cmd->add_option("dir", spool_dir, "spool directory")->required();
  spool_replay_cmd->add_option("--sink", spool_sink, "file:PATH, kafka://... or mongodb://...")
      ->required();
  spool_replay_cmd->add_option("--from", spool_from, "first record id (default: the oldest)");
  spool_replay_cmd->add_option("--to", spool_to, "end record id, exclusive (default: the newest)");
  auto* check = app.add_subcommand("check", "validate a config file and exit (2 when invalid)");
  check->add_option("-c,--config", config_path, "TOML config file")->required();

  // postgres_cdc: print the Debezium events of a PostgreSQL publication (app/cdc_print_command).
  pgcdc::postgres_cdc_options cdc;
  std::string cdc_password, cdc_snapshot = "initial", cdc_decimals = "string";
  bool cdc_no_tombstones = false;
  auto* cdc_print_cmd = app.add_subcommand(
      "cdc-print", "stream a PostgreSQL publication as Debezium JSON lines to stdout");
  cdc_print_cmd->add_option("--conninfo", cdc.conninfo, "libpq connection string")->required();
  cdc_print_cmd->add_option("--password", cdc_password, "env:NAME or file:PATH (default: libpq's)");
  cdc_print_cmd->add_option("--publication", cdc.publication, "publication (default edgepipe_cdc)");
  cdc_print_cmd->add_option("--slot", cdc.slot, "replication slot (default edgepipe)");
  cdc_print_cmd->add_option("--table", cdc.tables,
                            "schema.table to capture (repeatable; default all)");
  cdc_print_cmd->add_option("--topic-prefix", cdc.envelope.topic_prefix,
                            "topic prefix (default edgepipe)");
  cdc_print_cmd->add_option("--snapshot", cdc_snapshot, "initial | never | initial_only")
      ->check(CLI::IsMember({"initial", "never", "initial_only"}));
  cdc_print_cmd->add_option("--decimal-handling", cdc_decimals, "string | double | precise")
      ->check(CLI::IsMember({"string", "double", "precise"}));
  cdc_print_cmd->add_flag("--no-tombstones", cdc_no_tombstones,
                          "no null-valued record after a delete");
  cdc_print_cmd->add_option("--status-interval-ms", cdc.status_interval_ms,
                            "standby status period");

  app.add_subcommand("config-doc", "print the configuration reference (Markdown)");
  app.add_subcommand("default-config", "print the embedded default config");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitConfig;
  }

  if (app.got_subcommand("config-doc")) {
    print_config_doc();
    return 0;
  }
  if (app.got_subcommand("default-config")) {
    std::fwrite(default_config_text().data(), 1, default_config_text().size(), stdout);
    return 0;
  }
  if (*synth) return cmd_synth(api, payloads, out, seed, format);
  if (*cdc_print_cmd) {
    cdc.snapshot = cdc_snapshot == "never"          ? pgcdc::snapshot_mode::never
                   : cdc_snapshot == "initial_only" ? pgcdc::snapshot_mode::initial_only
                                                    : pgcdc::snapshot_mode::initial;
    cdc.envelope.decimals = cdc_decimals == "double"    ? pgcdc::decimal_handling::double_
                            : cdc_decimals == "precise" ? pgcdc::decimal_handling::precise
                                                        : pgcdc::decimal_handling::string;
    cdc.envelope.tombstones = !cdc_no_tombstones;
    return cdc_print(std::move(cdc), cdc_password);
  }
  if (*spool_inspect_cmd) return spool_inspect(spool_dir);
  if (*spool_replay_cmd) return spool_replay(spool_dir, spool_sink, spool_from, spool_to);

  pipeline_config config;
  if (*check) {
    if (!std::filesystem::exists(config_path))
      return config_error("cannot read config file " + config_path + ": no such file");
    if (status s = load(config_path, config); !s) return config_error(s.message());
    if (status s = validate_config(config); !s) return config_error(s.message());
    std::printf("%s: ok (%zu sources, %zu sinks)\n", config_path.c_str(), config.sources.size(),
                config.sinks.size());
    return 0;
  }
  if (status s = load(config_path, config); !s) return config_error(s.message());
  if (*replay) {
    const auto factor = parse_speed(speed);
    if (!factor) return config_error("replay: --speed must be max, 1x or Nx, not '" + speed + "'");
    // A replay plays the trace only: no polling, no capture, no operator endpoint.
    for (auto& src : config.sources) src.http.reset();
    config.capture.reset();
    replay_config rc;
    rc.trace = trace;
    rc.speed = *factor;
    rc.source = source;
    config.replay = rc;
    if (!spool_dir_override.empty())
      config.spool.dir = spool_dir_override == "none" ? "" : spool_dir_override;
    if (!sink_uris.empty()) {
      config.sinks.clear();
      for (const auto& uri : sink_uris) {
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
  run_options o;
  o.config_path = config_path;
  if (*record) {
    o.mode = run_mode::record;
    if (!config.has_http_sources())
      return config_error("record: " + config_path + " has no source with a 'url' to poll");
    capture_config cc;
    cc.path = record_out;
    if (config.capture) cc.rotate_bytes = config.capture->rotate_bytes;
    config.capture = cc;
    if (!record_duration.empty()) {
      const auto ms = parse_duration_ms(record_duration);
      if (!ms || *ms == 0)
        return config_error("record: --duration must look like 30s, 10m or 1h, not '" +
                            record_duration + "'");
      o.duration_ms = *ms;
    }
  }
  return run_pipeline(std::move(config), o);
}
