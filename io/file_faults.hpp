// Fault injection for the file layer (tests only): makes io_uring writes, fdatasyncs or reads of
// matching files complete with an errno, as if the disk had returned it. io_uring bypasses libc,
// so an LD_PRELOAD shim cannot reach these calls; this seam can. Off unless a unit test arms it
// or the daemon starts with EDGEPIPE_FILE_FAULTS set (tests/integration), and then costs one
// relaxed atomic load per completion (one per MiB written or read).
// Threading: arm()/disarm() from any thread; apply() from any I/O thread (a mutex, only while
// armed).
#pragma once

#include <cstdint>
#include <string>

namespace edgepipe::file_faults {

enum class op { write, sync, read };

struct plan {
  op what = op::write;
  int err = 5;                              // EIO
  std::string path_part;                    // only files whose path contains this
  std::uint64_t from = 0;                   // reads: only at or past this file offset
  std::uint64_t skip = 0;                   // let this many matching calls through first
  std::uint64_t count = ~std::uint64_t{0};  // then fail this many
  // Syncs only: a matching completion (its result decided as above) is held back, the sync
  // staying in flight, until release_held(): a disk whose flush lags behind the appends.
  bool hold = false;
};

/// Replaces the plan (one at a time).
void arm(plan p);
void disarm();
/// `res`: the completion's result (bytes or -errno). Returns -err when the plan fires.
int apply(op what, const std::string& path, std::uint64_t offset, int res);
/// Whether completions of `what` on `path` are held back now (plan.hold, not yet released).
bool holding(op what, const std::string& path);
/// Lets the held completions complete; the plan stays armed without holding.
void release_held();
/// Times a plan fired since it was armed.
std::uint64_t fired();
/// Arms from EDGEPIPE_FILE_FAULTS ("op=write,err=EIO,path=spool,skip=2,count=5,from=0";
/// err is EIO, ENOSPC or a number). Returns false on a malformed value (the caller stops).
bool arm_from_env();

}  // namespace edgepipe::file_faults
