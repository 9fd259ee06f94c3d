// The replay path's I/O stages in isolation, one thread each, to compare with the transform:
//
//   BM_crc32/isal             edgepipe::crc32 (core/crc32.hpp: ISA-L's crc32_gzip_refl), what the
//                             trace reader checks every frame with and the spool writes per batch
//   BM_crc32/zlib             zlib's crc32(): the same CRC-32 (same polynomial, same values)
//   BM_crc32/libdeflate       libdeflate_crc32() (PCLMULQDQ folding; what edgepipe used before
//                             ISA-L). Loaded with dlopen("libdeflate.so.0") so no -dev package is
//                             needed; skipped when the library is absent.
//   BM_trace_read             trace_reader::next over a CoinGecko trace file (io_uring read,
//                             window copy/compaction, CRC check): the source thread minus batching
//   BM_trace_read_to_batches  the same plus payload_batch::add into 1 MB batches, i.e. all of the
//                             replay source's per-byte work (no ring hand-off)
//   BM_file_sink_write        file_sink (value format) writing the transform's output records for
//                             the same trace, then flush: the sink thread's per-byte work
//
// The trace lives in $TMPDIR (default /tmp), so reads come from the page cache after the first.
// EDGEPIPE_BENCH_TRACE_PAYLOADS (default 100 x 250 coins, ~20 MB) sets its size.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmarks/coingecko_batches.hpp"
#include "config/config_loader.hpp"
#include "core/batch.hpp"
#include "core/crc32.hpp"
#include "core/stage_counters.hpp"
#include "io/synth_payloads.hpp"
#include "io/trace_format.hpp"
#include "stages/sinks/file/file_sink.hpp"
#include "stages/transform/transform_engine.hpp"

namespace {

using namespace edgepipe;
namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "io_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return (t != nullptr && *t != '\0') ? t : "/tmp";
}

// ---- fixtures ----------------------------------------------------------------------------------

struct fixture {
  std::string dir;
  std::string trace_path;
  std::uint64_t trace_bytes = 0;
  std::uint64_t body_bytes = 0;
  std::string sample;                                  // the first body, for the CRC benchmarks
  std::vector<std::unique_ptr<record_batch>> records;  // transform output, 1024-record batches
  std::uint64_t record_count = 0;
  std::uint64_t record_bytes = 0;

  ~fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const fixture& get_fixture() {
  static const std::unique_ptr<fixture> f = [] {
    auto fx = std::make_unique<fixture>();
    fx->dir = temp_dir() + "/edgepipe-io-bench." + std::to_string(::getpid());
    fs::create_directories(fx->dir);
    fx->trace_path = fx->dir + "/coingecko.trace";
    const char* env = std::getenv("EDGEPIPE_BENCH_TRACE_PAYLOADS");
    const std::size_t payloads = env ? std::strtoull(env, nullptr, 10) : 100;

    trace_writer w;
    if (status s = w.open(fx->trace_path); !s) die(s.message());
    bool first = true;
    fx->records = bench::coingecko_record_batches(
        payloads, [&](std::string_view body, std::int64_t received) {
          trace_frame fr;
          fr.received_unix_ns = received;
          fr.source = "coingecko";
          fr.body = body;
          if (!w.write(fr)) die("cannot write " + fx->trace_path + ": " + w.error());
          if (first) fx->sample = std::string(body);
          first = false;
          fx->body_bytes += body.size();
        });
    if (status s = w.close(); !s) die(s.message());
    fx->trace_bytes = fs::file_size(fx->trace_path);
    for (const auto& b : fx->records) {
      fx->record_count += b->records().size();
      for (const record& r : b->records()) fx->record_bytes += r.value_length + 1u;  // + '\n'
    }
    return fx;
  }();
  return *f;
}

// ---- CRC-32 ------------------------------------------------------------------------------------

std::uint32_t zlib_crc(std::string_view s) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  return static_cast<std::uint32_t>(
      ::crc32(c, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
}

void BM_crc32_zlib(benchmark::State& state) {
  const std::string& s = get_fixture().sample;
  for (auto _ : state) benchmark::DoNotOptimize(zlib_crc(s));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(s.size()));
}

void BM_crc32_isal(benchmark::State& state) {
  const std::string& s = get_fixture().sample;
  if (edgepipe::crc32(0, s.data(), s.size()) != zlib_crc(s)) {
    state.SkipWithError("edgepipe::crc32 disagrees with zlib crc32");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(edgepipe::crc32(0, s.data(), s.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(s.size()));
}

using deflate_crc_fn = std::uint32_t (*)(std::uint32_t, const void*, std::size_t);

deflate_crc_fn libdeflate_crc() {
  static const deflate_crc_fn fn = []() -> deflate_crc_fn {
    void* h = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) return nullptr;
    return reinterpret_cast<deflate_crc_fn>(dlsym(h, "libdeflate_crc32"));
  }();
  return fn;
}

void BM_crc32_libdeflate(benchmark::State& state) {
  const deflate_crc_fn fn = libdeflate_crc();
  if (fn == nullptr) {
    state.SkipWithError("libdeflate.so.0 not found (apt-get install libdeflate0)");
    return;
  }
  const std::string& s = get_fixture().sample;
  if (fn(0, s.data(), s.size()) != zlib_crc(s)) {
    state.SkipWithError("libdeflate_crc32 disagrees with zlib crc32");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(fn(0, s.data(), s.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(s.size()));
}

// ---- trace reading -----------------------------------------------------------------------------

template <bool kBatches>
void BM_trace_read(benchmark::State& state) {
  const fixture& fx = get_fixture();
  payload_batch batch;
  std::uint64_t frames = 0;
  for (auto _ : state) {
    trace_reader reader;
    if (status s = reader.open(fx.trace_path, std::size_t{16} << 20); !s) {
      state.SkipWithError(s.message().c_str());
      return;
    }
    trace_frame f;
    frames = 0;
    while (reader.next(f)) {
      ++frames;
      if constexpr (kBatches) {
        batch.add(f.body, 0, f.http_status, f.received_unix_ns, 0);
        if (batch.bytes() >= (std::size_t{1} << 20)) batch.clear();
      } else {
        benchmark::DoNotOptimize(f.body.data());
      }
    }
    batch.clear();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(fx.trace_bytes));
  state.counters["frames"] = static_cast<double>(frames);
}

// ---- file sink ---------------------------------------------------------------------------------

void BM_file_sink_write(benchmark::State& state) {
  const fixture& fx = get_fixture();
  const std::string path = fx.dir + "/out.jsonl";
  stage_counters counters("bench");
  for (auto _ : state) {
    state.PauseTiming();
    std::error_code ec;
    fs::remove(path, ec);
    file_sink_config c;
    c.path = path;
    c.rotate_bytes = 0;
    auto sink = std::make_unique<file_sink>("bench", c, std::vector<std::string>{"coingecko"});
    if (status s = sink->open(); !s) {
      state.SkipWithError(s.message().c_str());
      return;
    }
    state.ResumeTiming();
    for (const auto& b : fx.records) {
      sink->write(*b, counters);
      sink->flush(counters);  // as sink_stage does when its ring is empty
    }
    if (status s = sink->close(); !s) state.SkipWithError(s.message().c_str());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(fx.record_bytes));
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(fx.record_count),
      benchmark::Counter::kIsRate);
}

BENCHMARK(BM_crc32_isal)->Name("BM_crc32/isal");
BENCHMARK(BM_crc32_zlib)->Name("BM_crc32/zlib");
BENCHMARK(BM_crc32_libdeflate)->Name("BM_crc32/libdeflate");
BENCHMARK_TEMPLATE(BM_trace_read, false)->Name("BM_trace_read")->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_trace_read, true)
    ->Name("BM_trace_read_to_batches")
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_file_sink_write)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
