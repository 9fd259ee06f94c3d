// The postgres_cdc source's stream: START_REPLICATION, each frame through the decoder and the
// envelope to the handler (tables not selected and changes sent again skipped), and the standby
// status updates that confirm to PostgreSQL the LSN the handler reported durable. The class and
// its threading rules: postgres_cdc_source.hpp.
#include "stages/sources/postgres_cdc/postgres_cdc_source.hpp"

#include <poll.h>

#include <algorithm>
#include <string>
#include <vector>

#include "platform/clock.hpp"
#include "platform/log.hpp"
#include "stages/sources/postgres_cdc/postgres_cdc_source_internal.hpp"
// Last: the calls below go through the table loaded at run time.
#include "stages/sources/postgres_cdc/libpq.hpp"

namespace edgepipe::pgcdc {
using namespace source_detail;  // kComponent, now_unix_us, load_key_columns

status postgres_cdc_source::load_primary_key(std::uint32_t relid) {
  std::vector<std::string> key;
  if (auto s = load_key_columns(sql_, relid, key); !s) return s;
  envelope_.set_primary_key(relid, std::move(key));
  return status::ok();
}

status postgres_cdc_source::send_status(bool reply_requested) {
  lsn_t flush = durable_.load(std::memory_order_relaxed);
  // Idle: everything handed over is durable and no transaction is open, so WAL the server has
  // decoded past (keepalives' end, e.g. other databases' writes) can be released too.
  if (!in_transaction_ && flush >= last_commit_lsn_) flush = std::max(flush, received_);
  flush = std::max(flush, sent_flush_);
  const std::int64_t now_pg = now_unix_us() - pg_epoch_unix_us;
  const auto msg =
      encode_standby_status(std::max(received_, flush), flush, flush, now_pg, reply_requested);
  if (PQputCopyData(repl_.raw(), msg.data(), static_cast<int>(msg.size())) != 1 ||
      PQflush(repl_.raw()) != 0) {
    return status::error("postgres: sending standby status failed: " + repl_.error_message());
  }
  sent_flush_ = flush;
  counters_.confirmed_lsn.store(flush, std::memory_order_relaxed);
  counters_.status_updates.fetch_add(1, std::memory_order_relaxed);
  last_status_mono_ns_ = mono_now_ns();
  return status::ok();
}

status postgres_cdc_source::handle_xlog(const replication_frame& f) {
  decoded_message m;
  if (auto s = decoder_.decode(f.payload, m); !s) return s;
  switch (m.kind) {
    case message_kind::begin:
      in_transaction_ = true;
      xid_ = m.xid;
      resend_filter_.begin(m.final_lsn, m.xid);
      commit_unix_us_ = pg_time_to_unix_us(m.commit_time);
      return status::ok();
    case message_kind::commit:
      in_transaction_ = false;
      last_commit_lsn_ = m.end_lsn;
      sequence_commit_ = m.end_lsn;
      resend_filter_.commit();
      received_ = std::max(received_, m.end_lsn);
      counters_.transactions.fetch_add(1, std::memory_order_relaxed);
      counters_.last_commit_unix_us.store(commit_unix_us_, std::memory_order_relaxed);
      handler_.on_commit(m.end_lsn);
      return status::ok();
    case message_kind::relation:
      counters_.relations.fetch_add(1, std::memory_order_relaxed);
      return load_primary_key(m.rel->oid);
    case message_kind::insert:
    case message_kind::update:
    case message_kind::remove:
    case message_kind::truncate: {
      std::vector<std::uint32_t> kept;
      if (m.kind == message_kind::truncate) {
        for (auto id : m.relids) {
          if (table_selected(*decoder_.find_relation(id))) kept.push_back(id);
        }
        if (kept.empty()) {
          counters_.skipped_tables.fetch_add(1, std::memory_order_relaxed);
          return status::ok();
        }
        m.relids = kept;
      } else if (!table_selected(*m.rel)) {
        counters_.skipped_tables.fetch_add(1, std::memory_order_relaxed);
        return status::ok();
      }
      if (resend_filter_.skip(f.wal_start)) {
        // Sent again after a restart or reconnection; edgepipe holds it already.
        counters_.resent_skipped.fetch_add(1, std::memory_order_relaxed);
        return status::ok();
      }
      change_position pos;
      pos.lsn = f.wal_start;
      // source.sequence[0]: the end of the last commit before this transaction; for the first
      // transaction of a connection, where the stream started (a commit end or the slot's
      // consistent point), so every streamed event names a position (resend_filter.hpp).
      pos.last_commit_lsn = sequence_commit_ != 0 ? sequence_commit_ : stream_start_;
      pos.xid = xid_;
      pos.commit_unix_us = commit_unix_us_;
      pos.now_unix_us = now_unix_us();
      arena_.clear();
      events_.clear();
      if (auto s = envelope_.append_change(m, decoder_, pos, arena_, events_); !s) return s;
      handler_.on_events(arena_, events_);
      count(events_);
      held_ = resume_position{pos.last_commit_lsn, xid_, pos.lsn};
      return status::ok();
    }
    default:
      return status::ok();  // type, origin, logical messages: nothing to emit
  }
}

status postgres_cdc_source::stream(lsn_t start) {
  const std::string sql = "START_REPLICATION SLOT " + repl_.quote_identifier(options_.slot) +
                          " LOGICAL " + format_lsn(start) +
                          " (proto_version '1', publication_names " +
                          repl_.quote_literal(repl_.quote_identifier(options_.publication)) + ")";
  if (auto s = repl_.exec(sql, PGRES_COPY_BOTH); !s) return s;
  counters_.streaming.store(true);
  log_line(log_level::info, kComponent,
           "streaming slot " + options_.slot + " publication " + options_.publication);
  const int fd = PQsocket(repl_.raw());
  last_status_mono_ns_ = mono_now_ns();
  while (!stop_.load(std::memory_order_relaxed)) {
    char* buf = nullptr;
    const int n = PQgetCopyData(repl_.raw(), &buf, 1);
    if (n > 0) {
      replication_frame f;
      status s = decode_frame(std::string_view(buf, static_cast<std::size_t>(n)), f);
      if (s) {
        counters_.server_wal_end.store(f.wal_end, std::memory_order_relaxed);
        if (f.kind == frame_kind::xlog_data) {
          counters_.received_lsn.store(f.wal_start, std::memory_order_relaxed);
          s = handle_xlog(f);
        } else {
          if (!in_transaction_) received_ = std::max(received_, f.wal_end);
          if (f.reply_requested) s = send_status(false);
        }
      }
      PQfreemem(buf);
      if (!s) return s;
    } else if (n == 0) {
      handler_.on_idle();
      pollfd p{fd, POLLIN, 0};
      (void)::poll(&p, 1, 100);
      if (PQconsumeInput(repl_.raw()) != 1) {
        return status::error("postgres: connection lost: " + repl_.error_message());
      }
    } else if (n == -1) {
      pg_result r(PQgetResult(repl_.raw()));
      return status::error("postgres: server ended the replication stream: " +
                           repl_.error_message());
    } else {
      return status::error("postgres: reading the replication stream failed: " +
                           repl_.error_message());
    }
    const std::uint64_t now = mono_now_ns();
    const bool timer = now - last_status_mono_ns_ >= options_.status_interval_ms * 1'000'000;
    clear_marker_if_durable();
    const bool news = durable_.load(std::memory_order_relaxed) > sent_flush_ &&
                      now - last_status_mono_ns_ >= 1'000'000'000;
    if (timer || news) {
      if (auto s = send_status(false); !s) return s;
    }
  }
  // Tell the server how far we got before leaving.
  (void)send_status(false);
  return status::ok();
}

}  // namespace edgepipe::pgcdc
