#include "app/run_pipeline.hpp"

#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/exit_codes.hpp"
#include "app/operator_endpoint.hpp"
#include "config/config_loader.hpp"
#include "core/waiter.hpp"
#include "platform/cpu_list.hpp"
#include "platform/cpu_placement.hpp"
#include "platform/log.hpp"
#include "platform/thread.hpp"
#include "stages/pipeline/pipeline.hpp"
#include "stages/pipeline/stage_checks.hpp"
#include "stages/report/health.hpp"
#include "stages/report/run_summary.hpp"

namespace edgepipe {

namespace {

using clock_type = std::chrono::steady_clock;

// After the drain deadline, how long sinks get to give up and write their ledgers.
constexpr auto kAbandonGrace = std::chrono::seconds(5);
// A replay looks this often for a sink that stopped delivering for good (sink::fault()).
constexpr auto kFaultCheckInterval = std::chrono::milliseconds(100);

/// Blocks the control signals before any thread exists, so every thread inherits the mask and
/// the main thread takes them synchronously. SIGPIPE is ignored: a file sink writing to a pipe
/// whose reader has gone gets EPIPE, a write error it reports (the records stay in the spool;
/// a replay then stops), not the end of the process.
sigset_t block_control_signals() {
  (void)signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1}) sigaddset(&set, sig);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

/// The next signal, or 0 once `until` has passed (time_point::max() = no deadline).
int wait_for_signal(const sigset_t& set, clock_type::time_point until) {
  int sig = 0;
  if (until == clock_type::time_point::max()) {
    sigwait(&set, &sig);
    return sig;
  }
  const auto ns = std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(until - clock_type::now()).count());
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  sig = sigtimedwait(&set, nullptr, &ts);
  return sig < 0 ? 0 : sig;
}

// One `run`, `record` or `replay`: a pipeline per config, replaced on each accepted SIGHUP.
class pipeline_runner {
 public:
  pipeline_runner(pipeline_config config, const run_options& options)
      : config_(std::move(config)), options_(options) {}

  int run() {
    signals_ = block_control_signals();
    started_ = clock_type::now();
    config_.sinks_may_start_down = options_.mode == run_mode::daemon;
    start_cpus_ = startup_cpus();
    for (bool first = true;; first = false) {
      std::unique_ptr<pipeline> p;
      operator_endpoint endpoint;
      status s = confine_to_cpus();
      if (s) {
        p = std::make_unique<pipeline>(config_);
        s = start(*p, endpoint);
      }
      if (!s) {
        if (first) return config_error(s.message());
        if (!previous_) {
          log_line(log_level::error, "main", "restart failed: " + s.message());
          return kExitRuntime;
        }
        // The new config validated but could not start (a sink's directory, a port...): go
        // back to the one that was running rather than leave the node without a pipeline.
        log_line(log_level::error, "main",
                 "reloaded config failed to start, going back to the previous one: " + s.message());
        config_ = std::move(*previous_);
        previous_.reset();
        continue;
      }
      sd_notify(0, first ? "READY=1\nSTATUS=running" : "READY=1\nSTATUS=reloaded");
      const bool reload = supervise(*p);
      p->join();
      endpoint.stop();
      std::fputs(counters_report(*p).c_str(), stderr);
      if (reload) continue;
      // Throughput figures start when the sources do: connecting to brokers, opening files and
      // the sinks' start-up (pipeline::start waits for it) are not counted.
      const double seconds =
          std::chrono::duration<double>(clock_type::now() - p->sources_started()).count();
      if (options_.mode == run_mode::replay) std::printf("%s\n", summary_json(*p, seconds).c_str());
      std::fflush(stdout);
      // Drained, but not everything it was asked to read was read (logged where it happened),
      // or a sink stopped delivering for good, or records were given up (failed without a
      // spool, dropped by drop_oldest, dead letters not written).
      const std::string lost = options_.mode == run_mode::replay ? records_given_up(*p) : "";
      if (!lost.empty()) log_line(log_level::error, "main", "replay gave records up: " + lost);
      const bool given_up = !lost.empty();
      if (!p->failure().empty() || !sink_fault_.empty() || given_up) return kExitRuntime;
      return kExitOk;
    }
  }

 private:
  /// [pipeline] cpus for the pipeline about to be made: set on the main thread before any of the
  /// pipeline's threads exists, so that each of them (and each thread they create) inherits it.
  /// "auto" starts on one CPU (supervise() spreads it when busy); "all" leaves the affinity
  /// alone, or after a reload from a narrower set, restores the one the process was started
  /// with.
  status confine_to_cpus() {
    auto_cpus_.reset();
    if (auto_placement_applies()) {
      waiter::set_spinning(false);   // it starts on one CPU (or has only one)
      if (start_cpus_.size() < 2) {  // nothing to choose from
        publish_fixed_cpu_placement("auto", start_cpus_);
        return status::ok();
      }
      auto_cpus_.emplace(start_cpus_);
      if (const int err = auto_cpus_->start_on_one_cpu(); err != 0)
        return errno_status(config_.origin + ": pipeline.cpus = \"auto\": cannot run on CPU " +
                                std::to_string(auto_cpus_->home_cpu()),
                            err);
      confined_ = true;
      log_line(log_level::info, "main",
               "running on CPU " + std::to_string(auto_cpus_->home_cpu()) +
                   " until busy, then on " + format_cpu_list(start_cpus_) +
                   " (pipeline.cpus = \"auto\")");
      return status::ok();
    }
    const std::vector<int>& cpus = config_.cpus.empty() ? start_cpus_ : config_.cpus;
    publish_fixed_cpu_placement(config_.cpus.empty() ? "all" : "list", cpus);
    waiter::set_spinning(cpus.size() != 1);  // empty: the start affinity is unknown
    if (config_.cpus.empty() && !confined_) return status::ok();
    if (cpus.empty()) return status::ok();  // the start affinity could not be read: leave it
    if (const int err = move_process_to_cpus(cpus); err != 0)
      return errno_status(config_.origin + ": pipeline.cpus = \"" + format_cpu_list(cpus) +
                              "\": cannot run on these CPUs",
                          err);
    confined_ = !config_.cpus.empty();
    if (confined_)
      log_line(log_level::info, "main",
               "running on CPUs " + format_cpu_list(cpus) + " (pipeline.cpus)");
    return status::ok();
  }

  /// "auto" moves threads between CPUs; a stage pinned to one by the config stays there, and
  /// then so does everything else ("all").
  bool auto_placement_applies() const {
    if (!config_.cpus_auto || config_.source_cpu || config_.transform_cpu) return false;
    for (const auto& sink : config_.sinks)
      if (sink.cpu) return false;
    return true;
  }

  /// Builds and starts the pipeline and, for run/record, the operator endpoint.
  status start(pipeline& p, operator_endpoint& endpoint) {
    if (status s = p.build(); !s) return s;
    const pthread_t main_thread = pthread_self();
    p.start([main_thread] { pthread_kill(main_thread, SIGUSR1); });
    if (!config_.http_server.enabled) return status::ok();  // replay: only with --http
    const char* mode = options_.mode == run_mode::replay   ? "replay"
                       : options_.mode == run_mode::record ? "record"
                                                           : "run";
    if (status s = endpoint.start(config_.http_server, p, mode); !s) {
      p.request_stop();
      p.join();
      return s;
    }
    log_line(log_level::info, "main",
             "serving the status page, /api/status, /metrics and /health on port " +
                 std::to_string(endpoint.port()));
    return status::ok();
  }

  /// Waits for the pipeline to finish, for signals and deadlines. True when it was stopped to
  /// restart with a reloaded config (config_ then holds the new one).
  bool supervise(pipeline& p) {
    bool reload = false;
    bool stopping = false;
    bool abandoning = false;
    clock_type::time_point drain_deadline{};
    const auto record_deadline = started_ + std::chrono::milliseconds(options_.duration_ms);
    auto start_drain = [&] {
      p.request_stop();
      stopping = true;
      drain_deadline = clock_type::now() + std::chrono::milliseconds(config_.drain_timeout_ms);
    };
    auto next_sample = clock_type::now() +
                       (auto_cpus_ ? auto_cpus_->sample_interval() : std::chrono::milliseconds(0));
    // A replay cannot finish while a sink can never deliver again (a pipe whose reader left):
    // it stops then, instead of sending the records again until Ctrl-C and the drain timeout.
    const bool watch_faults = options_.mode == run_mode::replay;
    auto next_fault_check = clock_type::now() + kFaultCheckInterval;
    while (!p.finished()) {
      auto until = clock_type::time_point::max();
      if (options_.duration_ms && !stopping) until = record_deadline;
      if (stopping) until = drain_deadline;
      auto wake = auto_cpus_ ? std::min(until, next_sample) : until;
      if (watch_faults && !stopping) wake = std::min(wake, next_fault_check);
      const int sig = wait_for_signal(signals_, wake);
      const auto now = clock_type::now();
      if (auto_cpus_ && now >= next_sample) {
        auto_cpus_->sample(p.transform().input_stalls());
        waiter::set_spinning(auto_cpus_->cpus_in_use() >= 2);
        next_sample = now + auto_cpus_->sample_interval();
      }
      if (watch_faults && !stopping && now >= next_fault_check) {
        next_fault_check = now + kFaultCheckInterval;
        if (std::string fault = first_sink_fault(p); !fault.empty()) {
          log_line(
              log_level::error, "main",
              "replay stopped: " + fault +
                  (p.spooled() ? "; what the sinks have not confirmed stays in the spool" : ""));
          sink_fault_ = std::move(fault);
          start_drain();
          if (p.spooled()) {  // the drain cannot complete: give up on it now
            p.abandon_delivery();
            abandoning = true;
            drain_deadline = now + kAbandonGrace;
          }
          continue;
        }
      }
      const bool timed_out = sig == 0 && now >= until;
      if (sig == 0 && !timed_out) continue;  // a placement sample or a fault check
      if (stopping && timed_out && p.spooled() && !abandoning) {
        // The spool keeps what the sinks have not confirmed: stop waiting for them, close
        // cleanly (ledgers written), and let the next start deliver the rest.
        log_line(log_level::warn, "main",
                 "drain did not finish within pipeline.drain_timeout; leaving what the sinks "
                 "have not confirmed in the spool for the next start");
        p.abandon_delivery();
        abandoning = true;
        drain_deadline = clock_type::now() + kAbandonGrace;
        continue;
      }
      if (stopping && timed_out) {
        log_line(log_level::error, "main",
                 "drain did not finish within pipeline.drain_timeout; exiting with records "
                 "still in flight (see counters)");
        std::fputs(counters_report(p).c_str(), stderr);
        std::fflush(nullptr);
        std::_Exit(kExitRuntime);
      }
      if (stopping) continue;
      if (sig == SIGINT || sig == SIGTERM || (timed_out && options_.duration_ms)) {
        log_line(log_level::info, "main",
                 sig == SIGINT    ? "SIGINT: draining"
                 : sig == SIGTERM ? "SIGTERM: draining"
                                  : "duration reached: draining");
        sd_notify(0, "STOPPING=1");
        start_drain();
      } else if (sig == SIGHUP && accept_reload()) {
        sd_notify(0, "RELOADING=1");
        start_drain();
        reload = true;
      }
    }
    return reload;
  }

  /// SIGHUP: true when the config file validates; config_ is then the new one and previous_
  /// the one that was running.
  bool accept_reload() {
    if (options_.config_path.empty()) {
      log_line(log_level::warn, "main", "SIGHUP ignored: running the embedded config");
      return false;
    }
    pipeline_config next;
    status s = load_config_file(options_.config_path, pipeline_stage_checks(), next);
    if (s) s = validate_config(next, pipeline_stage_checks());
    if (!s) {
      log_line(log_level::error, "main",
               "SIGHUP: new config rejected, keeping the running one: " + s.message());
      return false;
    }
    log_line(
        log_level::info, "main",
        "SIGHUP: config " + options_.config_path + " is valid: draining and restarting with it");
    if (options_.mode == run_mode::record) next.capture = config_.capture;  // keep recording
    next.sinks_may_start_down = config_.sinks_may_start_down;
    previous_ = std::move(config_);
    config_ = std::move(next);
    set_log_json(config_.logs == log_format::json);
    return true;
  }

  pipeline_config config_;
  std::optional<pipeline_config> previous_;  // the config before the last reload
  std::string sink_fault_;                   // why a replay stopped early (first_sink_fault)
  const run_options& options_;
  sigset_t signals_{};
  clock_type::time_point started_;
  std::vector<int> start_cpus_;                  // the affinity the process had when run() began
  bool confined_ = false;                        // a [pipeline] cpus set (or "auto") is applied
  std::optional<auto_cpu_placement> auto_cpus_;  // "auto": this pipeline's placement
};

}  // namespace

status load_config(const std::string& path, pipeline_config& config) {
  return path.empty() ? load_default_config(pipeline_stage_checks(), config)
                      : load_config_file(path, pipeline_stage_checks(), config);
}

int run_pipeline(pipeline_config config, const run_options& options) {
  if (status s = validate_config(config, pipeline_stage_checks()); !s)
    return config_error(s.message());
  set_log_json(config.logs == log_format::json);
  return pipeline_runner(std::move(config), options).run();
}

}  // namespace edgepipe
