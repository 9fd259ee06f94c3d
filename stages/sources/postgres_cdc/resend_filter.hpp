#pragma once
// Recognises the changes PostgreSQL sends again that edgepipe already holds, so they are not
// handed on twice. After a restart (or a reconnection) the slot streams from its
// confirmed_flush_lsn, which lags what the spool already holds: every transaction between the
// two arrives a second time. The last change the spool holds (or, within one process, the last
// change handed on) is known as a resume_position; changes up to it are skipped and counted.
//
// A position names a change by the commit before its transaction (Debezium's
// `source.sequence[0]`: the end LSN of the last commit handed on before it), its transaction id
// (`source.txId`) and its own LSN (`source.lsn`). Transactions arrive in commit order, so on
// the resent stream:
//   - a transaction whose commit LSN (Begin's final_lsn) is before that previous commit's end
//     was handed on whole: skipped;
//   - the first one at or after it is the position's own transaction (its id must match, else
//     nothing more is skipped): its changes up to the position's LSN are skipped, the rest are
//     new (a large transaction cut mid-way by a crash);
//   - everything after it is new.
// Anything unexpected ends the filtering: the worst case is a duplicate, never a skipped change
// that edgepipe does not hold. A change's events are never split across batches (the stage
// ships between changes), so a position never falls inside a change.
// Threading: plain state, used by the source thread only.
#include <cstdint>
#include <optional>
#include <string_view>

#include "stages/sources/postgres_cdc/pgoutput_decoder.hpp"  // lsn_t

namespace edgepipe::pgcdc {

struct resume_position {
  lsn_t previous_commit_end = 0;  // source.sequence[0]; 0 = unknown (the position is unusable)
  std::uint32_t xid = 0;          // source.txId
  lsn_t lsn = 0;                  // source.lsn
  friend bool operator==(const resume_position&, const resume_position&) = default;
};

/// The position of a Debezium change event value as edgepipe writes it (source.sequence,
/// source.txId, source.lsn); nullopt for a snapshot row (op r: no transaction), a tombstone
/// (empty value) or anything that does not parse.
std::optional<resume_position> position_of_event(std::string_view value);

class resend_filter {
 public:
  /// Starts filtering the stream that follows: changes up to `p` are already held.
  void arm(const resume_position& p) noexcept;
  void disarm() noexcept { state_ = state::off; }
  bool armed() const noexcept { return state_ != state::off; }

  /// A transaction begins (pgoutput Begin: final_lsn = its commit LSN, xid).
  void begin(lsn_t final_lsn, std::uint32_t xid) noexcept;
  /// True when the change at `lsn` of the current transaction was handed on already.
  bool skip(lsn_t lsn) const noexcept;
  /// The current transaction committed.
  void commit() noexcept;

 private:
  enum class state { off, before, whole, up_to_position };
  state state_ = state::off;
  resume_position position_;
};

}  // namespace edgepipe::pgcdc
