// Hand-off of batch pointers between two threads, after rigtorp/SPSCQueue's benchmark:
//   * throughput: a producer thread pushes pointer-sized values as fast as it can, the benchmark
//     thread pops them; one benchmark iteration = one item popped (items/s is the figure).
//   * round trip: two rings, the benchmark thread sends one token, an echo thread sends it back;
//     one benchmark iteration = one round trip (the Time column is the mean RTT in ns).
// Queues compared:
//   spsc_ring     our cached-index ring (core/spsc_ring.hpp), busy-polling try_push/try_pop
//   boost_spsc    boost::lockfree::spsc_queue<void*> (runtime capacity), busy-polling
//   ring_edge     our pipeline edge (core/ring_edge.hpp): blocking push/pop with the waiter's
//                 spin -> yield -> futex strategy and a notify() (seq_cst fence) per operation
// Threads are not pinned by default (2-vCPU machines: the scheduler decides). To pin, set
//   EDGEPIPE_BENCH_CPUS=A,B   benchmark (consumer / ping) thread on CPU A, the other on CPU B.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "core/ring_edge.hpp"
#include "core/spsc_ring.hpp"

namespace {

using edgepipe::ring_edge;
using edgepipe::spsc_ring;

// ---- optional pinning --------------------------------------------------------------------------

struct cpu_pair {
  int bench = -1;
  int other = -1;
};

const cpu_pair& pinning() {
  static const cpu_pair p = [] {
    cpu_pair r;
    const char* env = std::getenv("EDGEPIPE_BENCH_CPUS");
    if (env == nullptr || *env == '\0') return r;
    if (std::sscanf(env, "%d,%d", &r.bench, &r.other) != 2) {
      std::fprintf(stderr, "ring_bench: EDGEPIPE_BENCH_CPUS must be 'A,B', not '%s'; not pinning\n",
                   env);
      return cpu_pair{};
    }
    return r;
  }();
  return p;
}

void pin_self(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
    std::fprintf(stderr, "ring_bench: cannot pin to CPU %d\n", cpu);
}

void* as_ptr(std::uintptr_t v) { return reinterpret_cast<void*>(v); }
std::uintptr_t as_int(void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// ---- queue adapters ----------------------------------------------------------------------------
// Non-blocking queues expose try_push/try_pop and are busy-polled by the benchmark; the blocking
// edge exposes push/pop directly. `kBlocking` picks the loop.

struct our_ring {
  static constexpr bool kBlocking = false;
  explicit our_ring(std::size_t capacity) : q(capacity) {}
  bool try_push(void* v) noexcept { return q.try_push(v); }
  bool try_pop(void*& v) noexcept { return q.try_pop(v); }
  spsc_ring<void*> q;
};

struct boost_ring {
  static constexpr bool kBlocking = false;
  explicit boost_ring(std::size_t capacity) : q(capacity) {}
  bool try_push(void* v) noexcept { return q.push(v); }
  bool try_pop(void*& v) noexcept { return q.pop(v); }
  boost::lockfree::spsc_queue<void*> q;
};

struct our_edge {
  static constexpr bool kBlocking = true;
  explicit our_edge(std::size_t capacity) : q(capacity) {}
  ring_edge<void*> q;
};

// ---- throughput --------------------------------------------------------------------------------

template <class Q>
void BM_throughput(benchmark::State& state) {
  const auto capacity = static_cast<std::size_t>(state.range(0));
  Q q(capacity);
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    pin_self(pinning().other);
    for (std::uintptr_t i = 1;; ++i) {
      if constexpr (Q::kBlocking) {
        if (!q.q.push(as_ptr(i))) return;  // abandoned by the consumer
      } else {
        while (!q.try_push(as_ptr(i))) {
          if (stop.load(std::memory_order_relaxed)) return;
        }
      }
    }
  });
  pin_self(pinning().bench);

  std::uintptr_t expect = 1;
  bool in_order = true;
  for (auto _ : state) {
    void* v = nullptr;
    if constexpr (Q::kBlocking) {
      q.q.pop(v);
    } else {
      while (!q.try_pop(v)) {
      }
    }
    in_order &= as_int(v) == expect;
    ++expect;
  }
  stop.store(true, std::memory_order_relaxed);
  if constexpr (Q::kBlocking) q.q.abandon();
  producer.join();
  if (!in_order) state.SkipWithError("values arrived out of order");
  state.SetItemsProcessed(state.iterations());
  if constexpr (Q::kBlocking) state.counters["stalls"] = static_cast<double>(q.q.stalls());
}

// ---- round trip --------------------------------------------------------------------------------

template <class Q>
void BM_roundtrip(benchmark::State& state) {
  const auto capacity = static_cast<std::size_t>(state.range(0));
  Q ping(capacity);
  Q pong(capacity);
  std::thread echo([&] {
    pin_self(pinning().other);
    for (;;) {
      void* v = nullptr;
      if constexpr (Q::kBlocking) {
        if (!ping.q.pop(v)) return;  // closed
        pong.q.push(v);
      } else {
        while (!ping.try_pop(v)) {
        }
        if (v == nullptr) return;  // sentinel
        while (!pong.try_push(v)) {
        }
      }
    }
  });
  pin_self(pinning().bench);

  std::uintptr_t token = 1;
  bool echoed = true;
  for (auto _ : state) {
    void* v = nullptr;
    if constexpr (Q::kBlocking) {
      ping.q.push(as_ptr(token));
      pong.q.pop(v);
    } else {
      while (!ping.try_push(as_ptr(token))) {
      }
      while (!pong.try_pop(v)) {
      }
    }
    echoed &= as_int(v) == token;
    ++token;
  }
  if constexpr (Q::kBlocking) {
    ping.q.close();
  } else {
    while (!ping.try_push(nullptr)) {
    }
  }
  echo.join();
  if (!echoed) state.SkipWithError("wrong token echoed");
  state.SetItemsProcessed(state.iterations());  // round trips per second
}

// 64 is the pipeline's default ring_capacity (batches per edge); 1024 shows the bigger-ring case.
#define EDGEPIPE_RING_BENCH(Q)                                             \
  BENCHMARK_TEMPLATE(BM_throughput, Q)->Arg(64)->Arg(1024)->UseRealTime(); \
  BENCHMARK_TEMPLATE(BM_roundtrip, Q)->Arg(64)->UseRealTime()

EDGEPIPE_RING_BENCH(our_ring);
EDGEPIPE_RING_BENCH(boost_ring);
EDGEPIPE_RING_BENCH(our_edge);

}  // namespace

BENCHMARK_MAIN();
