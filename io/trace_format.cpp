#include "io/trace_format.hpp"

#include <algorithm>
#include <cstring>

#include "core/crc32.hpp"

namespace edgepipe {

namespace {

template <class T>
void put(char*& p, T v) {
  std::memcpy(p, &v, sizeof(T));  // the format is little-endian, like every host we target
  p += sizeof(T);
}
template <class T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

std::uint32_t frame_crc(std::string_view source, std::string_view body) {
  // zlib's CRC-32, computed by ISA-L (core/crc32.hpp): the replay source checks every frame.
  return crc32(crc32(0, source.data(), source.size()), body.data(), body.size());
}

}  // namespace

status trace_writer::open(const std::string& path, bool append) {
  uring_file_writer_options o;
  o.truncate = !append;
  if (status s = out_.open(path, o); !s) return s;
  if (out_.bytes_written() > 0) return status::ok();  // appending after an existing header
  char header[kTraceFileHeaderBytes];
  char* p = header;
  std::memcpy(p, kTraceFileMagic.data(), kTraceFileMagic.size());
  p += kTraceFileMagic.size();
  put<std::uint32_t>(p, kTraceVersion);
  put<std::uint32_t>(p, 0);
  out_.write({header, sizeof header});
  return status::ok();
}

bool trace_writer::write(const trace_frame& f) {
  char header[kTraceFrameHeaderBytes];
  char* p = header;
  put<std::uint32_t>(p, kTraceFrameMagic);
  put<std::uint32_t>(p, static_cast<std::uint32_t>(f.body.size()));
  put<std::int64_t>(p, f.received_unix_ns);
  put<std::uint16_t>(p, f.http_status);
  put<std::uint16_t>(p, static_cast<std::uint16_t>(f.source.size()));
  put<std::uint32_t>(p, frame_crc(f.source, f.body));
  ++frames_;
  return out_.write({header, sizeof header}) && out_.write(f.source) && out_.write(f.body);
}

status trace_writer::close() { return out_.close(); }

status trace_reader::open(const std::string& path, std::size_t max_body_bytes) {
  max_body_ = max_body_bytes;
  if (status s = in_.open(path); !s) return s;
  if (status s = in_.fill(kTraceFileHeaderBytes); !s) return s;
  const std::string_view head = in_.available();
  if (head.size() >= kTraceFileMagic.size() && head.substr(0, 8) == kTraceFileMagic) {
    if (head.size() < kTraceFileHeaderBytes)
      return status::error(path + ": trace header is truncated");
    const auto version = get<std::uint32_t>(head.data() + 8);
    if (version != kTraceVersion)
      return status::error(path + ": unsupported trace version " + std::to_string(version) +
                           " (this edgepipe reads version " + std::to_string(kTraceVersion) + ")");
    in_.consume(kTraceFileHeaderBytes);
    kind_ = trace_kind::frames;
  } else {
    kind_ = trace_kind::json_lines;
  }
  return status::ok();
}

bool trace_reader::next(trace_frame& out) {
  in_.consume(pending_consume_);
  pending_consume_ = 0;
  return kind_ == trace_kind::frames ? next_frame(out) : next_line(out);
}

bool trace_reader::next_frame(trace_frame& out) {
  for (;;) {
    if (status s = in_.fill(kTraceFrameHeaderBytes); !s) {
      error_ = s.message();
      error_code_ = s.code();
      return false;
    }
    std::string_view avail = in_.available();
    if (avail.empty()) return false;
    if (avail.size() < kTraceFrameHeaderBytes) {
      counters_.torn_tail_bytes += avail.size();
      in_.consume(avail.size());
      return false;
    }
    const char* h = avail.data();
    const auto magic = get<std::uint32_t>(h);
    const auto body_len = get<std::uint32_t>(h + 4);
    const auto source_len = get<std::uint16_t>(h + 18);
    if (magic != kTraceFrameMagic) {
      // Resynchronise: skip one byte at a time to the next frame magic. One corrupt region
      // counts once, however many bytes it spans.
      if (!resyncing_) ++counters_.corrupt_frames;
      resyncing_ = true;
      std::size_t skip = 1;
      for (;;) {
        avail = in_.available();
        while (skip + 4 <= avail.size() &&
               get<std::uint32_t>(avail.data() + skip) != kTraceFrameMagic)
          ++skip;
        if (skip + 4 <= avail.size() || in_.file_eof()) break;
        if (status s = in_.fill(avail.size() + 4096); !s) {
          error_ = s.message();
          error_code_ = s.code();
          return false;
        }
      }
      in_.consume(skip < avail.size() ? skip : avail.size());
      continue;
    }
    const std::size_t total = kTraceFrameHeaderBytes + source_len + std::size_t{body_len};
    if (body_len > max_body_) {
      ++counters_.oversized;
      // Skip the frame piecewise so an absurd length never makes us buffer it.
      std::size_t left = total;
      while (left > 0) {
        if (status s = in_.fill(1); !s) {
          error_ = s.message();
          error_code_ = s.code();
          return false;
        }
        const std::size_t have = in_.available().size();
        if (have == 0) {
          counters_.torn_tail_bytes += total - left;
          return false;
        }
        const std::size_t n = std::min(left, have);
        in_.consume(n);
        left -= n;
      }
      continue;
    }
    if (status s = in_.fill(total); !s) {
      error_ = s.message();
      error_code_ = s.code();
      return false;
    }
    avail = in_.available();
    if (avail.size() < total) {
      counters_.torn_tail_bytes += avail.size();
      in_.consume(avail.size());
      return false;
    }
    out.received_unix_ns = get<std::int64_t>(avail.data() + 8);
    out.http_status = get<std::uint16_t>(avail.data() + 16);
    out.source = avail.substr(kTraceFrameHeaderBytes, source_len);
    out.body = avail.substr(kTraceFrameHeaderBytes + source_len, body_len);
    if (get<std::uint32_t>(avail.data() + 20) != frame_crc(out.source, out.body)) {
      ++counters_.corrupt_frames;
      resyncing_ = true;
      in_.consume(4);  // step past this magic and resynchronise on the next one
      continue;
    }
    ++counters_.frames;
    resyncing_ = false;
    pending_consume_ = total;
    return true;
  }
}

bool trace_reader::next_line(trace_frame& out) {
  std::size_t scanned = 0;
  for (;;) {
    std::string_view avail = in_.available();
    const std::size_t nl = avail.find('\n', scanned);
    std::string_view line;
    std::size_t consumed = 0;
    if (nl != std::string_view::npos) {
      line = avail.substr(0, nl);
      consumed = nl + 1;
    } else if (in_.file_eof()) {
      if (avail.empty()) return false;
      line = avail;  // last line without a newline
      consumed = avail.size();
    } else {
      scanned = avail.size();
      if (avail.size() > max_body_ + 1) {  // a line beyond the limit: skip to its end
        ++counters_.oversized;
        in_.consume(avail.size());
        scanned = 0;
        // Swallow the rest of the oversized line.
        for (;;) {
          if (status s = in_.fill(1); !s) {
            error_ = s.message();
            error_code_ = s.code();
            return false;
          }
          std::string_view rest = in_.available();
          if (rest.empty()) return false;
          const std::size_t e = rest.find('\n');
          if (e != std::string_view::npos) {
            in_.consume(e + 1);
            break;
          }
          in_.consume(rest.size());
        }
        continue;
      }
      if (status s = in_.fill(avail.size() + 65536); !s) {
        error_ = s.message();
        error_code_ = s.code();
        return false;
      }
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_body_) {
      ++counters_.oversized;
      in_.consume(consumed);
      scanned = 0;
      continue;
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) {  // blank line
      in_.consume(consumed);
      scanned = 0;
      continue;
    }
    out.source = {};
    out.body = line;
    out.received_unix_ns = 0;
    out.http_status = 200;
    ++counters_.frames;
    pending_consume_ = consumed;
    return true;
  }
}

std::string trace_reader::warnings() const {
  std::string w;
  if (counters_.torn_tail_bytes)
    w += in_.path() + ": torn tail of " + std::to_string(counters_.torn_tail_bytes) +
         " bytes ignored (an incomplete last frame). ";
  if (counters_.corrupt_frames)
    w += in_.path() + ": " + std::to_string(counters_.corrupt_frames) +
         " corrupt frame(s) skipped (bad magic or CRC). ";
  if (counters_.oversized)
    w += in_.path() + ": " + std::to_string(counters_.oversized) +
         " body(ies) above the size limit skipped. ";
  return w;
}

}  // namespace edgepipe
