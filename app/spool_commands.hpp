// `edgepipe spool inspect DIR` and `edgepipe spool replay DIR --sink URI`: the operator's view of
// a spool and a way to send a range of it to another sink. Both open the spool read-only: they
// change no segment and no ledger, so they are safe beside a running daemon.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace edgepipe {

/// Prints one JSON object: segments, committed end, per-sink watermarks and backlog.
int spool_inspect(const std::string& dir);

/// Sends records [from, to) of the spool to the sink `uri`; prints a JSON summary line.
int spool_replay(const std::string& dir, const std::string& uri, std::optional<std::uint64_t> from,
                 std::optional<std::uint64_t> to);

}  // namespace edgepipe
