// `edgepipe cdc-print`: runs the postgres_cdc source alone and writes each Debezium event as one
// JSON line {"topic", "key", "value"} to stdout; a commit is confirmed to PostgreSQL only after
// its lines were flushed to stdout. For operators (what would the source emit?) and for the CDC
// integration tests, until the source feeds the pipeline (docs/cdc.md, "Status").
#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "stages/sources/postgres_cdc/postgres_cdc_source.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "platform/log.hpp"

namespace edgepipe {
namespace {

std::atomic<pgcdc::postgres_cdc_source*> g_source{nullptr};

extern "C" void on_stop_signal(int) {
  if (auto* s = g_source.load()) s->request_stop();
}

class print_handler final : public pgcdc::cdc_event_handler {
 public:
  void attach(pgcdc::postgres_cdc_source* s) { source_ = s; }
  void on_events(const byte_arena& a, std::span<const pgcdc::cdc_event> events) override {
    for (const auto& e : events) {
      line_.clear();
      line_ += "{\"topic\":\"";
      for (const char c : a.view(e.topic_off, e.topic_len)) {
        if (c == '"' || c == '\\') line_ += '\\';
        line_ += c;
      }
      line_ += "\",\"key\":";
      if (e.key_len == 0) {
        line_ += "null";
      } else {
        line_.append(a.view(e.key_off, e.key_len));
      }
      line_ += ",\"value\":";
      if (e.value_len == 0) {
        line_ += "null";
      } else {
        line_.append(a.view(e.value_off, e.value_len));
      }
      line_ += "}\n";
      std::fwrite(line_.data(), 1, line_.size(), stdout);
    }
  }
  void on_commit(pgcdc::lsn_t end_lsn) override {
    // Durable for this tool = written to stdout's file or pipe.
    if (std::fflush(stdout) == 0 && source_ != nullptr) source_->confirm_durable(end_lsn);
  }
  void on_snapshot_done(pgcdc::lsn_t) override { std::fflush(stdout); }

 private:
  pgcdc::postgres_cdc_source* source_ = nullptr;
  std::string line_;
};

/// `password`: empty (libpq's PGPASSWORD/.pgpass), "env:NAME" or "file:PATH".
int cdc_print(pgcdc::postgres_cdc_options options, const std::string& password) {
  std::string pw = password;
  if (pw.rfind("env:", 0) == 0) {
    const char* v = std::getenv(pw.c_str() + 4);
    if (v == nullptr) {
      log_line(log_level::error, "cdc-print",
               "environment variable " + pw.substr(4) + " is not set");
      return 2;
    }
    pw = v;
  } else if (pw.rfind("file:", 0) == 0) {
    std::ifstream in(pw.substr(5));
    if (!in) {
      log_line(log_level::error, "cdc-print", "cannot read file " + pw.substr(5));
      return 2;
    }
    std::getline(in, pw);
  }
  options.password = pw;
  print_handler handler;
  pgcdc::postgres_cdc_source source(std::move(options), handler);
  handler.attach(&source);
  g_source.store(&source);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  const status s = source.run();
  g_source.store(nullptr);
  std::fflush(stdout);
  const auto& c = source.counters();
  std::fprintf(
      stderr,
      "{\"inserts\":%llu,\"updates\":%llu,\"deletes\":%llu,\"truncates\":%llu,\"reads\":%llu,"
      "\"tombstones\":%llu,\"transactions\":%llu,\"unknown_type_values\":%llu,\"reconnects\":%llu,"
      "\"confirmed_lsn\":\"%s\"}\n",
      static_cast<unsigned long long>(c.inserts.load()),
      static_cast<unsigned long long>(c.updates.load()),
      static_cast<unsigned long long>(c.deletes.load()),
      static_cast<unsigned long long>(c.truncates.load()),
      static_cast<unsigned long long>(c.reads.load()),
      static_cast<unsigned long long>(c.tombstones.load()),
      static_cast<unsigned long long>(c.transactions.load()),
      static_cast<unsigned long long>(c.unknown_type_values.load()),
      static_cast<unsigned long long>(c.reconnects.load()),
      pgcdc::format_lsn(c.confirmed_lsn.load()).c_str());
  return s ? kExitOk : kExitRuntime;
}

class cdc_print_command final : public command {
 public:
  explicit cdc_print_command(CLI::App& app) {
    cmd_ = app.add_subcommand("cdc-print",
                              "stream a PostgreSQL publication as Debezium JSON lines to stdout");
    cmd_->add_option("--conninfo", o_.conninfo, "libpq connection string")->required();
    cmd_->add_option("--password", password_, "env:NAME or file:PATH (default: libpq's)");
    cmd_->add_option("--publication", o_.publication, "publication (default edgepipe_cdc)");
    cmd_->add_option("--slot", o_.slot, "replication slot (default edgepipe)");
    cmd_->add_option("--table", o_.tables, "schema.table to capture (repeatable; default all)");
    cmd_->add_option("--topic-prefix", o_.envelope.topic_prefix, "topic prefix (default edgepipe)");
    cmd_->add_option("--snapshot", snapshot_, "initial | never | initial_only")
        ->check(CLI::IsMember({"initial", "never", "initial_only"}));
    cmd_->add_option("--decimal-handling", decimals_, "string | double | precise")
        ->check(CLI::IsMember({"string", "double", "precise"}));
    cmd_->add_flag("--no-tombstones", no_tombstones_, "no null-valued record after a delete");
    cmd_->add_option("--status-interval-ms", o_.status_interval_ms, "standby status period");
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    o_.snapshot = snapshot_ == "never"          ? pgcdc::snapshot_mode::never
                  : snapshot_ == "initial_only" ? pgcdc::snapshot_mode::initial_only
                                                : pgcdc::snapshot_mode::initial;
    o_.envelope.decimals = decimals_ == "double"    ? pgcdc::decimal_handling::double_
                           : decimals_ == "precise" ? pgcdc::decimal_handling::precise
                                                    : pgcdc::decimal_handling::string;
    o_.envelope.tombstones = !no_tombstones_;
    return cdc_print(std::move(o_), password_);
  }

 private:
  CLI::App* cmd_ = nullptr;
  pgcdc::postgres_cdc_options o_;
  std::string password_;
  std::string snapshot_ = "initial";
  std::string decimals_ = "string";
  bool no_tombstones_ = false;
};

}  // namespace

std::unique_ptr<command> add_cdc_print_command(CLI::App& app) {
  return std::make_unique<cdc_print_command>(app);
}

}  // namespace edgepipe
