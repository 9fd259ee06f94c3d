// `edgepipe synth --api NAME --payloads N --out FILE`: writes a realistic synthetic trace (or
// JSON Lines) of one seed API, the same bytes for the same seed (io/synth_payloads.hpp).
#include <filesystem>

#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "io/synth_payloads.hpp"
#include "io/trace_format.hpp"
#include "io/uring_file_writer.hpp"

namespace edgepipe {

namespace {

status write_trace(synth_generator& gen, synth_api api, std::uint64_t payloads,
                   const std::string& out) {
  trace_writer w;
  if (status st = w.open(out); !st) return st;
  std::string body;
  for (std::uint64_t i = 0; i < payloads; ++i) {
    trace_frame f;
    f.received_unix_ns = static_cast<std::int64_t>(gen.next(body));
    f.source = synth_api_name(api);
    f.body = body;
    f.http_status = 200;
    if (!w.write(f)) break;
  }
  return w.close();
}

status write_jsonl(synth_generator& gen, std::uint64_t payloads, const std::string& out) {
  uring_file_writer w;
  if (status st = w.open(out); !st) return st;
  std::string body;
  for (std::uint64_t i = 0; i < payloads; ++i) {
    gen.next(body);
    w.write(body);
    if (!w.write("\n")) break;
  }
  return w.close();
}

class synth_command final : public command {
 public:
  explicit synth_command(CLI::App& app) {
    cmd_ = app.add_subcommand("synth", "write a realistic synthetic trace of one API");
    cmd_->add_option("--api", api_, "coingecko | iss | randomuser")->required();
    cmd_->add_option("--payloads", payloads_, "number of API responses")->required();
    cmd_->add_option("--out", out_, "output path")->required();
    cmd_->add_option("--seed", seed_, "PRNG seed (same seed, same bytes)");
    cmd_->add_option("--format", format_, "trace (default) or jsonl");
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    const auto api = parse_synth_api(api_);
    if (!api)
      return config_error("synth: --api must be coingecko, iss or randomuser, not '" + api_ +
                          "'");
    if (format_ != "trace" && format_ != "jsonl")
      return config_error("synth: --format must be trace or jsonl, not '" + format_ + "'");
    const std::filesystem::path path(out_);
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    synth_generator gen(*api, seed_);
    const status st = format_ == "trace" ? write_trace(gen, *api, payloads_, out_)
                                         : write_jsonl(gen, payloads_, out_);
    if (!st) return runtime_error("synth: " + st.message());
    std::printf("{\"api\":\"%s\",\"payloads\":%llu,\"bytes\":%llu,\"out\":\"%s\"}\n",
                std::string(synth_api_name(*api)).c_str(),
                static_cast<unsigned long long>(payloads_),
                static_cast<unsigned long long>(std::filesystem::file_size(out_)), out_.c_str());
    return kExitOk;
  }

 private:
  CLI::App* cmd_ = nullptr;
  std::string api_, out_, format_ = "trace";
  std::uint64_t payloads_ = 100, seed_ = 1;
};

}  // namespace

std::unique_ptr<command> add_synth_command(CLI::App& app) {
  return std::make_unique<synth_command>(app);
}

}  // namespace edgepipe
