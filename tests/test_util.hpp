// Shared helpers for tests: a temporary directory, running the edgepipe binary, reading files,
// and waiting on a condition with a deadline (never a fixed sleep).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace edgepipe::testing {

class temp_dir {
 public:
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "edgepipe-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct command_result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs `args` (shell-quoted by the caller) with the edgepipe binary, in `cwd`.
inline command_result run_edgepipe(const std::string& args, const std::string& cwd = ".") {
  // stderr goes to a file of its own in the temp directory, never into the caller's cwd.
  static int calls = 0;
  const std::string err_file =
      (std::filesystem::temp_directory_path() /
       ("edgepipe-test-stderr-" + std::to_string(getpid()) + "-" + std::to_string(++calls)))
          .string();
  const std::string cmd =
      "cd '" + cwd + "' && '" EDGEPIPE_BINARY "' " + args + " 2>'" + err_file + "'";
  command_result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  std::filesystem::remove(err_file);
  return r;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// Polls `cond` until it holds or `timeout` passes; returns the last value of cond.
template <class F>
bool wait_until(F&& cond, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::yield();
  }
  return cond();
}

/// Extracts the integer after "key": in a flat-ish JSON text (test convenience).
inline long long json_int(const std::string& json, const std::string& key) {
  const auto pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) return -1;
  return std::stoll(json.substr(pos + key.size() + 3));
}

/// Extracts the number after "key": as a double; NaN when the key is absent (test convenience).
inline double json_double(const std::string& json, const std::string& key) {
  const auto pos = json.find("\"" + key + "\":");
  if (pos == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::stod(json.substr(pos + key.size() + 3));
}

/// A random plain JSON decimal heavy in zeros, where the fixed and scientific forms of the
/// shortest round trip compete: "-95000000000.00", "0.0000123", "4400.5". `max_zeros` bounds the
/// run of zeros after the leading digits (and before the fraction digits).
inline std::string zero_heavy_decimal(std::mt19937_64& rng, unsigned max_zeros) {
  std::string t = rng() % 3 == 0 ? "-" : "";
  if (rng() % 2 == 0) {
    t += static_cast<char>('1' + rng() % 9);
    for (int k = static_cast<int>(rng() % 5); k > 0; --k) t += static_cast<char>('0' + rng() % 10);
    t += std::string(rng() % (max_zeros + 1), '0');
    if (rng() % 2 == 0) t += "." + std::string(1 + rng() % 3, rng() % 2 ? '0' : '5');
  } else {
    t += "0." + std::string(rng() % (max_zeros + 1), '0');
    for (int k = 1 + static_cast<int>(rng() % 6); k > 0; --k)
      t += static_cast<char>('0' + rng() % 10);
  }
  return t;
}

}  // namespace edgepipe::testing
