#include "stages/report/metrics_text.hpp"

#include <sstream>

#include "platform/clock.hpp"
#include "platform/cpu_placement.hpp"
#include "platform/text_escape.hpp"

namespace edgepipe {

namespace {
void metric(std::ostringstream& o, const char* name, const std::string& labels, std::uint64_t v) {
  o << "edgepipe_" << name;
  if (!labels.empty()) o << "{" << labels << "}";
  o << " " << v << "\n";
}
void histogram(std::ostringstream& o, const char* name, const std::string& labels,
               const latency_histogram::snapshot& h) {
  // Prometheus gets the powers of two (le = 2^p - 1 ns): a stable, short bucket list; the fine
  // sub-buckets serve the percentiles of the summary and /api/status.
  const auto powers = h.powers();
  const std::uint64_t total = h.total();
  std::uint64_t cumulative = 0;
  for (int p = 0; p < latency_histogram::kPowers; ++p) {
    const std::uint64_t c = powers[static_cast<std::size_t>(p)];
    if (c == 0 && cumulative == 0) continue;
    cumulative += c;
    o << "edgepipe_" << name << "_bucket{" << labels << ",le=\""
      << static_cast<double>(latency_histogram::power_upper_bound(p)) / 1e9 << "\"} " << cumulative
      << "\n";
    if (cumulative == total) break;
  }
  o << "edgepipe_" << name << "_bucket{" << labels << ",le=\"+Inf\"} " << total << "\n";
  o << "edgepipe_" << name << "_sum{" << labels << "} " << static_cast<double>(h.sum) / 1e9 << "\n";
  o << "edgepipe_" << name << "_count{" << labels << "} " << total << "\n";
}
}  // namespace

double cdc_lag_seconds(const pgcdc::postgres_cdc_stage& c) {
  const auto& k = c.source_counters();
  // Nothing received is waiting for a confirmation: no lag, however old the last commit is.
  if (k.confirmed_lsn.load() >= k.received_lsn.load()) return 0;
  const std::int64_t commit = k.last_commit_unix_us.load();
  if (commit == 0) return 0;
  const std::int64_t age = unix_now_ns() / 1000 - commit;
  return age > 0 ? static_cast<double>(age) / 1e6 : 0;
}

std::string prometheus_text(const pipeline& p) {
  std::ostringstream o;
  o << "# TYPE edgepipe_records_in_total counter\n# TYPE edgepipe_records_out_total counter\n"
       "# TYPE edgepipe_rejected_total counter\n# TYPE edgepipe_failed_total counter\n"
       "# TYPE edgepipe_latency_seconds histogram\n# TYPE edgepipe_confirm_latency_seconds "
       "histogram\n";
  p.counters().for_each([&](const stage_counters& s) {
    const std::string l = prometheus_label("stage", s.name);
    metric(o, "records_in_total", l, s.records_in.get());
    metric(o, "records_out_total", l, s.records_out.get());
    metric(o, "rejected_total", l, s.rejected.get());
    metric(o, "filtered_total", l, s.filtered.get());
    metric(o, "failed_total", l, s.failed.get());
    metric(o, "bytes_in_total", l, s.bytes_in.get());
    metric(o, "bytes_out_total", l, s.bytes_out.get());
    if (s.name.rfind("sink:", 0) == 0) {
      metric(o, "sink_retries_total", l, s.retries.get());
      metric(o, "sink_duplicates_skipped_total", l, s.duplicates.get());
      metric(o, "sink_in_flight", l, s.in_flight.get());
      metric(o, "sink_transactions_open", l, s.transactions_open.get());
      metric(o, "sink_transactions_committed_total", l, s.transactions_committed.get());
      metric(o, "sink_transactions_aborted_total", l, s.transactions_aborted.get());
    }
    const auto lat = s.latency_ns.read();
    if (lat.total() > 0) histogram(o, "latency_seconds", l, lat);
    const auto confirmed = s.confirm_latency_ns.read();
    if (confirmed.total() > 0) histogram(o, "confirm_latency_seconds", l, confirmed);
  });
  // Every ring that carries data, and only those: with a spool the transform feeds the spool
  // thread and the sinks read the spool, so their own input rings stay empty and are not shown.
  auto ring = [&](const std::string& edge, const auto* r) {
    if (!r) return;
    const std::string l = prometheus_label("edge", edge);
    metric(o, "ring_occupancy", l, r->occupancy());
    metric(o, "ring_capacity", l, r->capacity());
    metric(o, "ring_stalls_total", l, r->stalls());
  };
  ring("replay->transform", p.replay_ring());
  ring("http->transform", p.http_ring());
  if (p.spool_thread_stage()) {
    ring("transform->spool", &p.spool_thread_stage()->input());
  } else {
    for (const auto& s : p.sinks()) ring("transform->" + s->target().name(), &s->input());
  }
  ring("transform->dead-letter", &p.dead_letters().input());
  if (p.spool_state()) {
    const auto& a = p.spool_thread_stage()->appender();
    o << "# TYPE edgepipe_spool_fsync_seconds histogram\n";
    metric(o, "spool_appended_records_total", "", a.appended_records());
    metric(o, "spool_appended_bytes_total", "", a.appended_bytes());
    metric(o, "spool_bytes", "", p.spool_state()->total_bytes());
    metric(o, "spool_segments", "", p.spool_state()->segments().size());
    metric(o, "spool_committed_id", "", p.spool_state()->committed_end());
    metric(o, "spool_fsyncs_total", "", a.fsyncs());
    metric(o, "spool_full_waits_total", "", p.spool_thread_stage()->full_waits());
    metric(o, "spool_durability_waits_total", "", p.spool_thread_stage()->durability_waits());
    metric(o, "spool_blocked", "", p.spool_thread_stage()->blocked() ? 1 : 0);
    metric(o, "spool_not_spooled_total", "", p.spool_thread_stage()->not_spooled());
    metric(o, "spool_disk_errors_total", "", p.spool_thread_stage()->disk_errors());
    metric(o, "spool_disk_full_errors_total", "", p.spool_thread_stage()->disk_full_errors());
    metric(o, "spool_disk_error_retries_total", "", p.spool_thread_stage()->disk_error_retries());
    metric(o, "spool_disk_error", "", p.spool_thread_stage()->faulted() ? 1 : 0);
    metric(o, "spool_follower_waits_total", "", p.spool_thread_stage()->follower_waits());
    metric(o, "spool_follower_wait_ms_total", "",
           p.spool_thread_stage()->follower_wait_ns() / 1'000'000);
    metric(o, "spool_sinks_left_behind_total", "", p.spool_thread_stage()->followers_left_behind());
    metric(o, "spool_dropped_segments_total", "", p.spool_state()->dropped_segments());
    metric(o, "spool_undeleted_bytes", "", p.spool_state()->undeleted_bytes());
    metric(o, "spool_torn_tail_bytes", "", p.spool_state()->recovery().torn_tail_bytes);
    metric(o, "spool_recovered_records", "", p.spool_state()->recovery().records);
    const auto fs = a.fsync_latency().read();
    if (fs.total() > 0) histogram(o, "spool_fsync_seconds", "stage=\"spool\"", fs);
    for (std::size_t i = 0; i < p.sinks().size(); ++i) {
      const std::string l = prometheus_label("sink", p.sinks()[i]->target().name());
      metric(o, "spool_watermark", l, p.spool_state()->watermark(i));
      metric(o, "spool_backlog_records", l, p.sinks()[i]->backlog());
      metric(o, "spool_dropped_records_total", l, p.spool_state()->dropped_records(i));
      metric(o, "spool_skipped_records_total", l, p.sinks()[i]->skipped_records());
      metric(o, "spool_rewinds_total", l, p.sinks()[i]->rewinds());
      metric(o, "spool_memory_records_total", l, p.sinks()[i]->memory_records());
    }
    metric(o, "spool_memory_tail_bytes", "", p.spool_thread_stage()->memory_tail().bytes());
  }
  const auto& pc = p.transform().payload_counters();
  metric(o, "payloads_total", "", pc.payloads.get());
  metric(o, "payloads_rejected_total", "", pc.payloads_rejected.get());
  metric(o, "payloads_non_2xx_total", "", pc.skipped_status.get());
  for (std::size_t i = 0; i < p.source_names().size(); ++i)
    metric(o, "payloads_invalid_total", prometheus_label("source", p.source_names()[i]),
           p.transform().invalid_bodies(static_cast<source_id>(i)));
  if (p.http()) {
    o << "# TYPE edgepipe_http_polls_total counter\n# TYPE edgepipe_http_responses_total counter\n"
         "# TYPE edgepipe_http_request_seconds histogram\n";
    for (const auto& c : p.http()->source_counters()) {
      const std::string l = prometheus_label("source", c->source);
      metric(o, "http_polls_total", l, c->polls.get());
      metric(o, "http_responses_total", l + ",class=\"2xx\"", c->responses_2xx.get());
      metric(o, "http_responses_total", l + ",class=\"304\"", c->responses_304.get());
      metric(o, "http_responses_total", l + ",class=\"3xx\"", c->responses_3xx.get());
      metric(o, "http_responses_total", l + ",class=\"429\"", c->responses_429.get());
      metric(o, "http_responses_total", l + ",class=\"4xx\"", c->responses_4xx.get());
      metric(o, "http_responses_total", l + ",class=\"5xx\"", c->responses_5xx.get());
      metric(o, "http_transport_errors_total", l, c->transport_errors.get());
      metric(o, "http_truncated_total", l, c->truncated.get());
      metric(o, "http_timeouts_total", l, c->timeouts.get());
      metric(o, "http_redirects_total", l, c->redirects.get());
      metric(o, "http_budget_aborts_total", l, c->budget_aborts.get());
      metric(o, "http_oversized_total", l, c->oversized.get());
      metric(o, "http_bytes_total", l, c->bytes.get());
      metric(o, "http_retries_scheduled_total", l, c->retries_scheduled.get());
      const auto lat = c->latency_ns.read();
      if (lat.total() > 0) histogram(o, "http_request_seconds", l, lat);
    }
    metric(o, "capture_frames_total", "", p.http()->captured_frames());
  }
  if (!p.cdc_sources().empty())
    o << "# TYPE edgepipe_cdc_events_total counter\n# TYPE edgepipe_cdc_lag_bytes gauge\n"
         "# TYPE edgepipe_cdc_lag_seconds gauge\n# TYPE edgepipe_cdc_confirmed_lsn gauge\n";
  for (const auto& c : p.cdc_sources()) {
    const auto& k = c->source_counters();
    const std::string l =
        prometheus_label("source", c->name()) + "," + prometheus_label("slot", c->slot());
    metric(o, "cdc_streaming", l, k.streaming.load() ? 1 : 0);
    metric(o, "cdc_events_total", l + ",op=\"c\"", k.inserts.load());
    metric(o, "cdc_events_total", l + ",op=\"u\"", k.updates.load());
    metric(o, "cdc_events_total", l + ",op=\"d\"", k.deletes.load());
    metric(o, "cdc_events_total", l + ",op=\"t\"", k.truncates.load());
    metric(o, "cdc_events_total", l + ",op=\"r\"", k.reads.load());
    metric(o, "cdc_events_total", l + ",op=\"tombstone\"", k.tombstones.load());
    metric(o, "cdc_transactions_total", l, k.transactions.load());
    metric(o, "cdc_lag_bytes", l, c->lag_bytes());
    o << "edgepipe_cdc_lag_seconds{" << l << "} " << cdc_lag_seconds(*c) << "\n";
    metric(o, "cdc_confirmed_lsn", l, k.confirmed_lsn.load());
    metric(o, "cdc_received_lsn", l, k.received_lsn.load());
    metric(o, "cdc_server_wal_end", l, k.server_wal_end.load());
    metric(o, "cdc_pending_commits", l, c->pending_commits());
    metric(o, "cdc_merged_commits_total", l, c->merged_commits());
    metric(o, "cdc_reconnects_total", l, k.reconnects.load());
    metric(o, "cdc_errors_total", l, k.errors.load());
    metric(o, "cdc_slots_lost_total", l, k.slots_lost.load());
    metric(o, "cdc_snapshots_redone_total", l, k.snapshots_redone.load());
    metric(o, "cdc_resent_skipped_total", l, k.resent_skipped.load());
    metric(o, "cdc_unknown_type_values_total", l, k.unknown_type_values.load());
    metric(o, "cdc_fallback_values_total", l, k.fallback_values.load());
    metric(o, "cdc_relations_total", l, k.relations.load());
    metric(o, "cdc_skipped_changes_total", l, k.skipped_tables.load());
    metric(o, "cdc_status_updates_total", l, k.status_updates.load());
  }
  // [pipeline] cpus: the set in use as a label (a gauge of 1), and "auto"'s moves.
  const cpu_placement_snapshot cpus = current_cpu_placement();
  metric(o, "cpus_in_use",
         prometheus_label("mode", cpus.mode) + "," + prometheus_label("cpus", cpus.cpus), 1);
  metric(o, "cpus_spread_total", "", cpus.spread_count);
  metric(o, "cpus_narrowed_total", "", cpus.narrow_count);
  return o.str();
}

}  // namespace edgepipe
