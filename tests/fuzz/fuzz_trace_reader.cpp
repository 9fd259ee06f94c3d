// Fuzz target: the trace reader (io/trace_format). The input is a whole trace file (framed, or
// JSON Lines when it does not start with the trace magic), read three ways:
//  1. plainly, with a large body limit;
//  2. with a body limit of a few bytes (the oversized-frame and oversized-line paths);
//  3. in zero-copy mode with a small window, the way stages/sources/replay_source reads: bodies are
//  kept
//     in the window and handed off with it, sometimes giving the last frame back (pacing).
// Checked besides ASan/UBSan: no body is above the limit or larger than the file; each kept body
// is, after the hand-off, still byte for byte what next() returned; the reader always ends.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/batch.hpp"
#include "fuzz_util.hpp"
#include "io/trace_format.hpp"

namespace {

using namespace edgepipe;

void read_plain(const std::string& path, std::string_view file, std::size_t max_body) {
  trace_reader reader;
  if (!reader.open(path, max_body)) return;
  trace_frame f;
  std::size_t frames = 0;
  while (reader.next(f)) {
    if (f.body.size() > max_body) fuzz::fail("a body above max_body_bytes was returned");
    if (f.body.size() > file.size() || f.source.size() > file.size())
      fuzz::fail("a frame larger than the file");
    if (++frames > file.size() + 1) fuzz::fail("more frames than bytes: the reader loops");
  }
  (void)reader.warnings();
}

struct kept {
  std::size_t at = 0;
  std::string body;
};

void read_zero_copy(const std::string& path, std::string_view file, std::size_t window) {
  trace_reader reader;
  if (!reader.open(path, 1 << 20)) return;
  payload_batch batch;
  std::vector<kept> bodies;
  auto ship = [&](bool give_back_last) {
    if (bodies.empty()) return;
    reader.take_window(batch.arena(), give_back_last);
    for (const kept& k : bodies)
      if (batch.arena().view(k.at, k.body.size()) != k.body)
        fuzz::fail("a kept body changed when the window was handed off");
    bodies.clear();
    batch.clear();
  };
  reader.enable_handoff(window, kPayloadPadding, [&] { ship(false); });
  trace_frame f;
  std::size_t frames = 0;
  std::size_t given_back_at = ~std::size_t{0};
  while (reader.next(f)) {
    if (++frames > 2 * file.size() + 2) fuzz::fail("more frames than bytes: the reader loops");
    // Pacing (replay --speed): every third frame, once, ships what is kept and comes again.
    if (frames % 3 == 0 && given_back_at != frames && !bodies.empty()) {
      given_back_at = frames;
      ship(true);
      --frames;
      continue;
    }
    const std::size_t at = reader.keep(f.body, kPayloadPadding);
    bodies.push_back({at, std::string(f.body)});
    if (bodies.size() >= 4) ship(false);
  }
  ship(false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::scratch_dir() + "/input.trace";
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  fuzz::write_file(path, file);
  read_plain(path, file, std::size_t{1} << 20);
  read_plain(path, file, 1 + size % 61);
  read_zero_copy(path, file, 256 + (size % 7) * 512);
  return 0;
}
