#pragma once
// A file that exists from just before a slot is created with a snapshot until the snapshot's
// events are durable. A start that finds it knows the last snapshot was cut short (kill -9
// during the snapshot, or before its events were durable): the slot it left must be dropped and
// the snapshot taken again, or the rows it had not delivered would be a silent gap.
// runs on: the source thread. Durable: written and removed with fsync of file and directory.
#include <string>

#include "core/status.hpp"

namespace edgepipe::pgcdc {

bool snapshot_marker_exists(const std::string& path);
/// Creates (or replaces) the marker naming `slot`, synced, and syncs its directory.
status write_snapshot_marker(const std::string& path, const std::string& slot);
/// Removes the marker and syncs its directory; a missing marker is not an error.
status remove_snapshot_marker(const std::string& path);

}  // namespace edgepipe::pgcdc
