#include "stages/report/run_summary.hpp"

#include <sstream>

#include "core/waiter.hpp"
#include "platform/clock.hpp"
#include "platform/cpu_placement.hpp"
#include "platform/text_escape.hpp"

namespace edgepipe {

namespace {
void json_number(std::ostringstream& o, const char* key, double v) {
  o << "\"" << key << "\":" << v;
}
}  // namespace

std::string summary_json(const pipeline& p, double seconds) {
  std::ostringstream o;
  o.precision(6);
  const auto* t = p.counters().find("transform");
  std::uint64_t input_bytes = 0;
  p.counters().for_each([&](const stage_counters& c) {
    if (c.name.rfind("source:", 0) == 0) input_bytes += c.bytes_in.get();
  });
  const auto& pc = p.transform().payload_counters();
  const std::uint64_t records = t->records_out.get();
  o << "{\"payloads\":" << pc.payloads.get() << ",\"records\":" << records
    << ",\"rejected\":" << t->rejected.get()
    << ",\"rejected_payloads\":" << pc.payloads_rejected.get()
    << ",\"filtered\":" << t->filtered.get() << ",\"skipped_non_2xx\":" << pc.skipped_status.get()
    << ",\"delivered\":{";
  latency_histogram::snapshot latency;
  latency_histogram::snapshot confirm_latency;
  bool first = true;
  std::ostringstream failed;
  for (const auto& s : p.sinks()) {
    o << (first ? "" : ",") << json_string(s->target().name()) << ":"
      << s->counters().records_out.get();
    failed << (first ? "" : ",") << json_string(s->target().name()) << ":"
           << s->counters().failed.get();
    latency.merge(s->counters().latency_ns.read());
    confirm_latency.merge(s->counters().confirm_latency_ns.read());
    first = false;
  }
  o << "},\"failed\":{" << failed.str() << "}";
  o << ",\"dead_letters\":" << p.dead_letters().counters().records_out.get() << ",";
  json_number(o, "seconds", seconds);
  o << ",";
  json_number(o, "records_per_second", seconds > 0 ? static_cast<double>(records) / seconds : 0);
  o << ",";
  json_number(o, "input_mb_per_second",
              seconds > 0 ? static_cast<double>(input_bytes) / 1e6 / seconds : 0);
  // What the same window cost: every thread of the process, the client libraries' included
  // (librdkafka's broker threads compress and send), so records/s can be set beside CPU per
  // record (benchmarks/kafka_sink_ab.sh puts a raw producer's beside it).
  o << ",";
  json_number(o, "cpu_seconds",
              static_cast<double>(process_cpu_ns() - p.sources_started_cpu_ns()) / 1e9);
  o << ",\"latency_us\":{\"p50\":" << latency.quantile(0.5) / 1000
    << ",\"p99\":" << latency.quantile(0.99) / 1000 << ",\"max\":" << latency.quantile(1.0) / 1000
    << "}";
  {
    const cpu_placement_snapshot cpus = current_cpu_placement();
    o << ",\"cpus\":{\"mode\":" << json_string(cpus.mode) << ",\"now\":" << json_string(cpus.cpus)
      << ",\"spread\":" << cpus.spread_count << ",\"narrowed\":" << cpus.narrow_count
      << ",\"spinning\":" << (waiter::spinning() ? "true" : "false") << "}";
  }
  if (confirm_latency.total() > 0)  // with the spool: payload received -> a sink confirmed it
    o << ",\"confirm_latency_us\":{\"p50\":" << confirm_latency.quantile(0.5) / 1000
      << ",\"p99\":" << confirm_latency.quantile(0.99) / 1000
      << ",\"max\":" << confirm_latency.quantile(1.0) / 1000 << "}";
  if (p.replay()) {
    const auto& tc = p.replay()->reader().counters();
    o << ",\"trace\":{\"frames\":" << tc.frames << ",\"corrupt_frames\":" << tc.corrupt_frames
      << ",\"torn_tail_bytes\":" << tc.torn_tail_bytes << ",\"oversized\":" << tc.oversized
      << ",\"unknown_source\":" << p.replay()->unknown_source_payloads() << ",\"read_errno\":"
      << (p.replay()->failure().empty() ? 0 : p.replay()->reader().error_code()) << "}";
  }
  if (p.http()) {
    o << ",\"http\":{";
    bool first_source = true;
    for (const auto& c : p.http()->source_counters()) {
      o << (first_source ? "" : ",") << json_string(c->source) << ":{\"polls\":" << c->polls.get()
        << ",\"ok\":" << c->responses_2xx.get() << ",\"not_modified\":" << c->responses_304.get()
        << ",\"http_429\":" << c->responses_429.get() << ",\"http_4xx\":" << c->responses_4xx.get()
        << ",\"http_3xx\":" << c->responses_3xx.get() << ",\"http_5xx\":" << c->responses_5xx.get()
        << ",\"timeouts\":" << c->timeouts.get()
        << ",\"transport_errors\":" << c->transport_errors.get() << "}";
      first_source = false;
    }
    o << "}";
  }
  if (p.spool_state()) {
    const auto& a = p.spool_thread_stage()->appender();
    const auto& rec = p.spool_state()->recovery();
    o << ",\"spool\":{\"appended\":" << a.appended_records() << ",\"bytes\":" << a.appended_bytes()
      << ",\"fsyncs\":" << a.fsyncs();
    const auto fsync_lat = a.fsync_latency().read();
    o << ",\"fsync_us\":{\"p50\":" << fsync_lat.quantile(0.5) / 1000
      << ",\"p99\":" << fsync_lat.quantile(0.99) / 1000
      << ",\"mean\":" << (fsync_lat.total() ? fsync_lat.sum / fsync_lat.total() / 1000 : 0) << "}"
      << ",\"not_spooled\":" << p.spool_thread_stage()->not_spooled()
      << ",\"full_waits\":" << p.spool_thread_stage()->full_waits()
      << ",\"durability_waits\":" << p.spool_thread_stage()->durability_waits()
      << ",\"disk_errors\":" << p.spool_thread_stage()->disk_errors()
      << ",\"disk_full_errors\":" << p.spool_thread_stage()->disk_full_errors()
      << ",\"disk_error_retries\":" << p.spool_thread_stage()->disk_error_retries()
      << ",\"follower_waits\":" << p.spool_thread_stage()->follower_waits()
      << ",\"follower_wait_ms\":" << p.spool_thread_stage()->follower_wait_ns() / 1'000'000
      << ",\"sinks_left_behind\":" << p.spool_thread_stage()->followers_left_behind()
      << ",\"recovered_records\":" << rec.records << ",\"torn_tail_bytes\":" << rec.torn_tail_bytes
      << ",\"sinks\":{";
    for (std::size_t i = 0; i < p.sinks().size(); ++i) {
      const auto& st = *p.sinks()[i];
      o << (i ? "," : "") << json_string(st.target().name()) << ":{\"backlog\":" << st.backlog()
        << ",\"resent\":" << st.counters().retries.get() << ",\"rewinds\":" << st.rewinds()
        << ",\"dropped\":" << p.spool_state()->dropped_records(i)
        << ",\"skipped\":" << st.skipped_records() << ",\"from_memory\":" << st.memory_records()
        << "}";
    }
    o << "}}";
  }
  o << ",\"ring_stalls\":" << p.transform().input_stalls() + p.transform().output_stalls() << "}";
  return o.str();
}

std::string counters_report(const pipeline& p) {
  std::ostringstream o;
  p.counters().for_each([&](const stage_counters& s) {
    const auto lat = s.latency_ns.read();
    o << "{\"stage\":" << json_string(s.name) << ",\"batches_in\":" << s.batches_in.get()
      << ",\"records_in\":" << s.records_in.get() << ",\"records_out\":" << s.records_out.get()
      << ",\"rejected\":" << s.rejected.get() << ",\"filtered\":" << s.filtered.get()
      << ",\"failed\":" << s.failed.get() << ",\"retries\":" << s.retries.get()
      << ",\"duplicates\":" << s.duplicates.get() << ",\"bytes_in\":" << s.bytes_in.get()
      << ",\"bytes_out\":" << s.bytes_out.get();
    if (s.name == "source:replay") o << ",\"ring_stalls\":" << p.replay_ring()->stalls();
    if (s.name == "source:http") o << ",\"ring_stalls\":" << p.http_ring()->stalls();
    if (s.name == "transform") o << ",\"ring_stalls\":" << p.transform().output_stalls();
    // A sink's waits for room: its lead over the brokers (Kafka: max_in_flight, held batches)
    // or its queue full.
    if (s.name.rfind("sink:", 0) == 0) o << ",\"stalls\":" << s.ring_stalls.get();
    if (lat.total() > 0)
      o << ",\"latency_ns\":{\"p50\":" << lat.quantile(0.5) << ",\"p99\":" << lat.quantile(0.99)
        << ",\"max\":" << lat.quantile(1.0) << "}";
    o << "}\n";
  });
  return o.str();
}

}  // namespace edgepipe
