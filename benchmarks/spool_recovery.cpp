// Recovery of a spool backlog, for benchmarks/spool_e2e.sh (not a Google Benchmark: one
// measurement of a ~1 GB directory is seconds long and wants its own cold/warm control).
//
//   spool_recovery make DIR BYTES     fills DIR with BYTES (e.g. 1000000000) of segments through
//                                     spool + spool_appender: the CoinGecko transform output
//                                     (1024-record batches) appended again and again, source
//                                     "coingecko", no ledger (so nothing is confirmed: every
//                                     sink starts at the oldest segment), synced, then dropped
//                                     from the page cache.
//   spool_recovery measure DIR        one JSON line:
//     open_cold_s / open_warm_s       spool::open (what the daemon runs at start: list, check
//                                     every header, scan every frame of the last segment),
//                                     after posix_fadvise(DONTNEED) on every segment (as after a
//                                     reboot) / right after, page cache warm (as after kill -9)
//     read_cold_s / read_warm_s       a spool_cursor reading the whole backlog from the oldest
//                                     record (CRC check + decode of every frame), cold / warm
//     pread_cold_s / pread_warm_s     the ceiling: ::pread of the same files in 4 MiB chunks
//     records, bytes, segments
// Cold means "not in this machine's page cache"; the virtual disk's host may still cache.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmarks/coingecko_batches.hpp"
#include "core/batch.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_appender.hpp"
#include "stages/spool/spool_cursor.hpp"

namespace {

using namespace edgepipe;
namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "spool_recovery: %s\n", message.c_str());
  std::exit(1);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> segment_files(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".seg") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

void drop_cache(const std::string& dir) {
  for (const std::string& f : segment_files(dir)) {
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

spool_config make_config(const std::string& dir) {
  spool_config c;
  c.dir = dir;
  c.fsync = fsync_policy::off;
  c.max_bytes = std::uint64_t{1} << 40;  // the default limit does not apply to `make`
  return c;
}

int make(const std::string& dir, std::uint64_t target) {
  const auto batches = bench::coingecko_record_batches(1000);

  std::error_code ec;
  fs::remove_all(dir, ec);
  spool sp(make_config(dir));
  if (status s = sp.open({}); !s) die(s.message());
  spool_appender app(sp, {"coingecko"});
  if (status s = app.start(); !s) die(s.message());
  while (app.appended_bytes() < target) {
    for (const auto& b : batches) {
      if (status s = app.append(*b); !s) die(s.message());
      if (app.appended_bytes() >= target) break;
    }
    if (status s = app.commit(false, true); !s) die(s.message());
  }
  if (status s = app.close(true); !s) die(s.message());
  drop_cache(dir);
  std::printf("{\"records\":%llu,\"frame_bytes\":%llu,\"segments\":%zu}\n",
              static_cast<unsigned long long>(app.appended_records()),
              static_cast<unsigned long long>(app.appended_bytes()), segment_files(dir).size());
  return 0;
}

double time_open(const std::string& dir, std::uint64_t& records) {
  const auto t0 = std::chrono::steady_clock::now();
  spool sp(make_config(dir));
  if (status s = sp.open({"file"}); !s) die(s.message());
  const double t = seconds_since(t0);
  records = sp.committed_end() - sp.watermark(0);
  return t;
}

double time_read(const std::string& dir, std::uint64_t& records) {
  spool sp(make_config(dir));
  if (status s = sp.open({"file"}, true); !s) die(s.message());
  const auto t0 = std::chrono::steady_clock::now();
  spool_cursor cursor(sp, {"coingecko"});
  cursor.seek(sp.watermark(0));
  record_batch out;
  spool_frame_position pos;
  skip_reason why = skip_reason::none;
  records = 0;
  for (;;) {
    const auto r = cursor.next(sp.committed_end(), out, pos, why);
    if (r == spool_cursor::result::none) break;
    if (r == spool_cursor::result::skipped) die("cursor skipped records");
    records += out.records().size();
  }
  return seconds_since(t0);
}

double time_pread(const std::string& dir, std::uint64_t& bytes) {
  std::vector<char> buf(std::size_t{4} << 20);
  const auto t0 = std::chrono::steady_clock::now();
  bytes = 0;
  for (const std::string& f : segment_files(dir)) {
    const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("cannot open " + f);
    std::uint64_t at = 0;
    for (;;) {
      const ssize_t r = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(at));
      if (r <= 0) break;
      at += static_cast<std::uint64_t>(r);
    }
    ::close(fd);
    bytes += at;
  }
  return seconds_since(t0);
}

int measure(const std::string& dir) {
  std::uint64_t open_records = 0, read_records = 0, bytes = 0, total = 0;
  drop_cache(dir);
  const double open_cold = time_open(dir, open_records);
  const double open_warm = time_open(dir, open_records);
  drop_cache(dir);
  const double read_cold = time_read(dir, read_records);
  const double read_warm = time_read(dir, read_records);
  drop_cache(dir);
  const double pread_cold = time_pread(dir, total);
  const double pread_warm = time_pread(dir, bytes);
  if (open_records != read_records) die("open and cursor disagree on the record count");
  std::printf(
      "{\"open_cold_s\":%.6f,\"open_warm_s\":%.6f,\"read_cold_s\":%.6f,\"read_warm_s\":%.6f,"
      "\"pread_cold_s\":%.6f,\"pread_warm_s\":%.6f,\"records\":%llu,\"bytes\":%llu,"
      "\"segments\":%zu}\n",
      open_cold, open_warm, read_cold, read_warm, pread_cold, pread_warm,
      static_cast<unsigned long long>(read_records), static_cast<unsigned long long>(total),
      segment_files(dir).size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "make" && argc == 4) return make(argv[2], std::strtoull(argv[3], nullptr, 10));
  if (mode == "measure" && argc == 3) return measure(argv[2]);
  std::fprintf(stderr, "usage: spool_recovery make DIR BYTES | spool_recovery measure DIR\n");
  return 2;
}
