// Waiting for an io_uring completion. io_uring_enter returns -EINTR when a signal with a handler
// arrives while the thread waits (stage threads block every signal, but a tool, a test harness
// such as libFuzzer's SIGALRM, or the main thread before it blocks them may not): that is not an
// I/O error, so every wait of io/ and the spool goes through this one, which waits again.
// Threading: the thread that owns the ring.
#pragma once

#include <liburing.h>

#include <cerrno>

namespace edgepipe {

/// io_uring_wait_cqe, waiting again after an interruption by a signal. 0, or -errno.
inline int wait_cqe_retrying(io_uring* ring, io_uring_cqe** cqe) noexcept {
  int rc = 0;
  do {
    rc = io_uring_wait_cqe(ring, cqe);
  } while (rc == -EINTR);
  return rc;
}

}  // namespace edgepipe
