// Placeholder until the mongo sink lands: refuses to open, so a config naming it fails clearly.
#include "stages/mongo_sink.hpp"

namespace edgepipe {
namespace {
class unavailable_sink final : public sink {
 public:
  explicit unavailable_sink(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  status open() override { return status::error("sink " + name_ + ": mongo sink not built yet"); }
  void write(const record_batch&, stage_counters&) override {}
  void flush(stage_counters&) override {}
  status close() override { return status::ok(); }
 private:
  std::string name_;
};
}  // namespace
std::unique_ptr<sink> make_mongo_sink(const std::string& name, const mongo_sink_config&,
                                      const std::vector<std::string>&) {
  return std::make_unique<unavailable_sink>(name);
}
}  // namespace edgepipe
