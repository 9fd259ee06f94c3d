// The spool's own cost, through the real code (stages/spool/spool + stages/spool/spool_appender +
// stages/spool/spool_cursor), each beside a plain-syscall ceiling on the very same bytes in the
// same run:
//
//   BM_spool_append/<policy>/<group>   spool_appender::append of the CoinGecko transform output
//                                      (1024-record batches, as stages/transform/transform_stage
//                                      ships them) into a fresh spool directory, committed the way
//                                      stages/spool/spool_stage does for that fsync policy; the
//                                      iteration ends with close(sync) like the end of input.
//                                      group = batch: a commit after every batch (the spool
//                                      thread's ring runs dry after each one: a live pipeline);
//                                      group = 8MiB: a commit every 8 MiB (a saturated one).
//   BM_write_fdatasync/<policy>/<group> the buffered ceiling: the same frame bytes (pre-encoded),
//                                      one ::write per commit group into one file, ::fdatasync
//                                      at the same points (every group / every 10 ms / never)
//                                      and once at the end.
//   BM_write_direct_fdatasync/...      the O_DIRECT ceiling (the spool's default mode): the same
//                                      bytes in whole 4 KiB blocks per group from an aligned
//                                      buffer, fdatasync at the same points.
//   .../off/nosync                     fsync = off, one 1 GiB segment (no roll: a roll syncs the
//                                      old segment whatever the policy) and no final sync, files
//                                      deleted unsynced: the CPU and page-cache cost only (plus
//                                      the new segment's header + directory fsyncs), beside
//                                      write() alone.
//   BM_spool_cursor_read/{warm,cold}   spool_cursor::next over the whole spool (CRC check +
//                                      decode into a record_batch), page cache warm, or cold
//                                      (posix_fadvise DONTNEED on every segment first)
//   BM_pread_ceiling/{warm,cold}       ::pread of the same segment files in 4 MiB chunks
//   BM_spool_open                      spool::open (recovery) of that directory, warm cache
//
// Every directory lives under $TMPDIR (default /tmp) and is removed. Real time is reported
// (the work is mostly in the kernel and on the disk). Env: EDGEPIPE_BENCH_SPOOL_PAYLOADS
// (default 1000 payloads x 250 coins = 250k records, ~83 MB of frames: one segment roll).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmarks/coingecko_batches.hpp"
#include "core/batch.hpp"
#include "platform/clock.hpp"
#include "stages/spool/spool.hpp"
#include "stages/spool/spool_appender.hpp"
#include "stages/spool/spool_cursor.hpp"
#include "stages/spool/spool_format.hpp"

namespace {

using namespace edgepipe;
namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "spool_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return (t != nullptr && *t != '\0') ? t : "/tmp";
}

constexpr std::uint64_t kGroupBytes = std::uint64_t{8} << 20;  // stages/spool/spool_stage.cpp

struct fixture {
  std::string dir;
  std::vector<std::unique_ptr<record_batch>> batches;  // transform output, 1024-record batches
  std::vector<std::string> frames;                     // the same batches encoded as frames
  std::uint64_t records = 0;
  std::uint64_t frame_bytes = 0;
  std::string read_dir;  // a spool written once for the read benchmarks

  ~fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const fixture& get_fixture() {
  static const std::unique_ptr<fixture> f = [] {
    auto fx = std::make_unique<fixture>();
    fx->dir = temp_dir() + "/edgepipe-spool-bench." + std::to_string(::getpid());
    fs::create_directories(fx->dir);
    const char* env = std::getenv("EDGEPIPE_BENCH_SPOOL_PAYLOADS");
    const std::size_t payloads = env ? std::strtoull(env, nullptr, 10) : 1000;

    fx->batches = bench::coingecko_record_batches(payloads);
    std::uint64_t id = 0;
    for (const auto& b : fx->batches) {
      byte_arena a;
      spool_format::encode_frame_prefix(*b, id, a);
      std::string frame(a.data(), a.size());
      frame.append(b->arena().data(), b->arena().size());
      id += b->records().size();
      fx->records += b->records().size();
      fx->frame_bytes += frame.size();
      fx->frames.push_back(std::move(frame));
    }
    return fx;
  }();
  return *f;
}

spool_config make_config(const std::string& dir, fsync_policy policy,
                         std::uint64_t segment_bytes = std::uint64_t{64} << 20) {
  spool_config c;
  c.dir = dir;
  c.fsync = policy;
  c.segment_bytes = segment_bytes;
  return c;  // defaults otherwise: 10 ms interval, 64 MiB segments
}

// What stages/spool/spool_stage::commit decides, for a commit group that just ended.
struct policy_clock {
  fsync_policy policy;
  std::uint64_t interval_ns;
  std::uint64_t last_sync_ns = mono_now_ns();
  bool sync_now() {
    const std::uint64_t now = mono_now_ns();
    const bool due = now - last_sync_ns >= interval_ns;
    const bool sync =
        policy == fsync_policy::every_batch || (policy == fsync_policy::interval && due);
    if (sync) last_sync_ns = now;
    return sync;
  }
};

void set_rates(benchmark::State& state, const fixture& fx) {
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(fx.frame_bytes));
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(fx.records) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}

// ---- append ------------------------------------------------------------------------------------

void BM_spool_append(benchmark::State& state, fsync_policy policy, std::uint64_t group_bytes,
                     bool final_sync) {
  const fixture& fx = get_fixture();
  const std::string dir = fx.dir + "/append";
  std::uint64_t fsyncs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::error_code ec;
    fs::remove_all(dir, ec);
    state.ResumeTiming();
    // Without a final sync, no roll either (a roll syncs the old segment whatever the policy):
    // one segment, so only the CPU and page-cache cost is left.
    spool sp(final_sync ? make_config(dir, policy)
                        : make_config(dir, policy, std::uint64_t{1} << 30));
    if (status s = sp.open({"bench"}); !s) die(s.message());
    spool_appender app(sp, {"coingecko"});
    if (status s = app.start(); !s) die(s.message());
    policy_clock clock{policy, sp.config().fsync_interval_ms * 1'000'000};
    std::uint64_t pending = 0;
    for (const auto& b : fx.batches) {
      if (status s = app.append(*b); !s) die(s.message());
      pending += spool_appender::frame_bytes(*b);
      if (pending >= group_bytes) {
        if (status s = app.commit(clock.sync_now(), policy == fsync_policy::off); !s)
          die(s.message());
        pending = 0;
      }
    }
    if (status s = app.close(final_sync); !s) die(s.message());
    fsyncs = app.fsyncs();
    if (!final_sync) {  // unsynced files: drop them before writeback, inside the timing like
      fs::remove_all(dir, ec);  // the ceiling's unlink
    }
  }
  set_rates(state, fx);
  state.counters["fsyncs"] = static_cast<double>(fsyncs);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

void write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) die("write failed");
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void BM_write_fdatasync(benchmark::State& state, fsync_policy policy, std::uint64_t group_bytes,
                        bool final_sync) {
  const fixture& fx = get_fixture();
  const std::string path = fx.dir + "/ceiling.bin";
  std::string group;
  group.reserve(kGroupBytes + (std::size_t{4} << 20));
  std::uint64_t fsyncs = 0;
  for (auto _ : state) {
    fsyncs = 0;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("cannot open " + path);
    policy_clock clock{policy, spool_config{}.fsync_interval_ms * 1'000'000};
    for (std::size_t i = 0; i < fx.frames.size(); ++i) {
      // The group's bytes are contiguous in the ceiling (one write per group), as the
      // appender's buffers make them; the copy into `group` is the ceiling's only memcpy.
      group.append(fx.frames[i]);
      if (group.size() >= group_bytes || i + 1 == fx.frames.size()) {
        write_all(fd, group.data(), group.size());
        group.clear();
        if (clock.sync_now()) {
          ::fdatasync(fd);
          ++fsyncs;
        }
      }
    }
    if (final_sync) {
      ::fdatasync(fd);
      ++fsyncs;
    }
    ::close(fd);
    if (!final_sync) ::unlink(path.c_str());
  }
  set_rates(state, fx);
  state.counters["fsyncs"] = static_cast<double>(fsyncs);
  ::unlink(path.c_str());
}

// The O_DIRECT ceiling (the spool writes segments with O_DIRECT by default): the same frame
// bytes from one aligned buffer, only whole 4 KiB blocks written at each commit group (the
// partial last block is carried to the next group, the cheapest way to write the same bytes
// with direct I/O), fdatasync at the same points, the last block padded at the end.
void BM_write_direct_fdatasync(benchmark::State& state, fsync_policy policy,
                               std::uint64_t group_bytes) {
  constexpr std::size_t kBlock = 4096;
  const fixture& fx = get_fixture();
  const std::string path = fx.dir + "/ceiling-direct.bin";
  const std::size_t cap = kGroupBytes + (std::size_t{8} << 20);
  std::unique_ptr<char, decltype(&std::free)> buf(
      static_cast<char*>(std::aligned_alloc(kBlock, cap)), &std::free);
  std::uint64_t fsyncs = 0;
  for (auto _ : state) {
    fsyncs = 0;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
    if (fd < 0) {
      state.SkipWithError("O_DIRECT not supported under $TMPDIR");
      return;
    }
    policy_clock clock{policy, spool_config{}.fsync_interval_ms * 1'000'000};
    std::size_t used = 0;
    off_t at = 0;
    for (std::size_t i = 0; i < fx.frames.size(); ++i) {
      const std::string& f = fx.frames[i];
      if (used + f.size() > cap) die("direct ceiling buffer too small");
      std::memcpy(buf.get() + used, f.data(), f.size());
      used += f.size();
      const bool last = i + 1 == fx.frames.size();
      if (used >= group_bytes || last) {
        std::size_t whole = used / kBlock * kBlock;
        if (last && whole < used) {
          std::memset(buf.get() + used, 0, kBlock - used % kBlock);
          whole += kBlock;
          used = whole;
        }
        if (whole != 0 && ::pwrite(fd, buf.get(), whole, at) != static_cast<ssize_t>(whole))
          die("direct write failed");
        at += static_cast<off_t>(whole);
        std::memmove(buf.get(), buf.get() + whole, used - whole);
        used -= whole;
        if (clock.sync_now()) {
          ::fdatasync(fd);
          ++fsyncs;
        }
      }
    }
    ::fdatasync(fd);
    ++fsyncs;
    ::close(fd);
  }
  set_rates(state, fx);
  state.counters["fsyncs"] = static_cast<double>(fsyncs);
  ::unlink(path.c_str());
}

// ---- read back ---------------------------------------------------------------------------------

const std::string& read_dir() {
  static const std::string dir = [] {
    const fixture& fx = get_fixture();
    const std::string d = fx.dir + "/read";
    spool sp(make_config(d, fsync_policy::off));
    if (status s = sp.open({"bench"}); !s) die(s.message());
    spool_appender app(sp, {"coingecko"});
    if (status s = app.start(); !s) die(s.message());
    for (const auto& b : fx.batches)
      if (status s = app.append(*b); !s) die(s.message());
    if (status s = app.close(true); !s) die(s.message());
    return d;
  }();
  return dir;
}

void drop_cache(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

void BM_spool_cursor_read(benchmark::State& state, bool cold) {
  const fixture& fx = get_fixture();
  const std::string& dir = read_dir();
  spool sp(make_config(dir, fsync_policy::off));
  if (status s = sp.open({"bench"}, true); !s) die(s.message());
  record_batch out;
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      drop_cache(dir);
      state.ResumeTiming();
    }
    spool_cursor cursor(sp, {"coingecko"});
    cursor.seek(0);
    std::uint64_t n = 0;
    spool_frame_position pos;
    skip_reason why = skip_reason::none;
    for (;;) {
      const auto r = cursor.next(sp.committed_end(), out, pos, why);
      if (r == spool_cursor::result::none) break;
      if (r == spool_cursor::result::frame) n += out.records().size();
    }
    if (n != fx.records) die("cursor read " + std::to_string(n) + " records");
    benchmark::DoNotOptimize(out.arena().data());
  }
  set_rates(state, fx);
}

void BM_pread_ceiling(benchmark::State& state, bool cold) {
  const fixture& fx = get_fixture();
  const std::string& dir = read_dir();
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".seg") files.push_back(e.path().string());
  std::vector<char> buf(std::size_t{4} << 20);
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      drop_cache(dir);
      state.ResumeTiming();
    }
    for (const std::string& f : files) {
      const int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
      off_t at = 0;
      for (;;) {
        const ssize_t r = ::pread(fd, buf.data(), buf.size(), at);
        if (r <= 0) break;
        at += r;
      }
      ::close(fd);
    }
    benchmark::DoNotOptimize(buf.data());
  }
  set_rates(state, fx);
}

void BM_spool_open(benchmark::State& state) {
  const fixture& fx = get_fixture();
  const std::string& dir = read_dir();
  for (auto _ : state) {
    spool sp(make_config(dir, fsync_policy::off));
    if (status s = sp.open({"bench"}, true); !s) die(s.message());
    if (sp.committed_end() != fx.records) die("open found the wrong end id");
  }
  set_rates(state, fx);
}

void register_all() {
  struct pol {
    const char* name;
    fsync_policy p;
  };
  const pol policies[] = {{"every_batch", fsync_policy::every_batch},
                          {"interval", fsync_policy::interval},
                          {"off", fsync_policy::off}};
  struct grp {
    const char* name;
    std::uint64_t bytes;
  };
  const grp groups[] = {{"batch", 0}, {"8MiB", kGroupBytes}};
  for (const pol& p : policies) {
    for (const grp& g : groups) {
      const std::string suffix = std::string("/") + p.name + "/" + g.name;
      benchmark::RegisterBenchmark(("BM_spool_append" + suffix).c_str(), BM_spool_append, p.p,
                                   g.bytes, true)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_write_fdatasync" + suffix).c_str(), BM_write_fdatasync, p.p,
                                   g.bytes, true)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("BM_write_direct_fdatasync" + suffix).c_str(),
                                   BM_write_direct_fdatasync, p.p, g.bytes)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  benchmark::RegisterBenchmark("BM_spool_append/off/nosync", BM_spool_append, fsync_policy::off,
                               kGroupBytes, false)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_write_fdatasync/off/nosync", BM_write_fdatasync,
                               fsync_policy::off, kGroupBytes, false)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (const bool cold : {false, true}) {
    const std::string t = cold ? "/cold" : "/warm";
    benchmark::RegisterBenchmark(("BM_spool_cursor_read" + t).c_str(), BM_spool_cursor_read, cold)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_pread_ceiling" + t).c_str(), BM_pread_ceiling, cold)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_spool_open", BM_spool_open)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
