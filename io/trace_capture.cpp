#include "io/trace_capture.hpp"

#include <filesystem>
#include <fstream>

namespace edgepipe {

namespace fs = std::filesystem;

status trace_capture::open(const std::string& path, std::uint64_t rotate_bytes) {
  path_ = path;
  rotate_bytes_ = rotate_bytes;
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  // A capture never overwrites anything: an existing trace is continued (a restarted or
  // reloaded daemon keeps one capture; a torn tail left by a crash is skipped by readers,
  // which resynchronise on the next frame), and a file that is not a trace is moved aside.
  while (fs::exists(path + "." + std::to_string(next_rotation_), ec)) ++next_rotation_;
  bool append = false;
  if (fs::exists(path, ec) && fs::file_size(path, ec) > 0) {
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {};
    in.read(magic, sizeof magic);
    append = in.gcount() == 8 && std::string_view(magic, 8) == kTraceFileMagic;
    if (!append) fs::rename(path, path + "." + std::to_string(next_rotation_++), ec);
  }
  return writer_.open(path, append);
}

bool trace_capture::write(const trace_frame& frame) {
  if (!error_.empty()) return false;
  if (!writer_.write(frame)) {
    error_ = "capture " + path_ + ": " + writer_.error();
    return false;
  }
  ++frames_;
  if (rotate_bytes_ != 0 && writer_.bytes() >= rotate_bytes_) {
    if (status s = writer_.close(); !s) {
      error_ = "capture " + path_ + ": " + s.message();
      return false;
    }
    std::error_code ec;
    fs::rename(path_, path_ + "." + std::to_string(next_rotation_++), ec);
    if (status s = writer_.open(path_); !s) {
      error_ = "capture " + path_ + ": " + s.message();
      return false;
    }
  }
  return true;
}

status trace_capture::close() { return writer_.close(); }

}  // namespace edgepipe
