#include "stages/pipeline/stage_checks.hpp"

#include "stages/sources/cron_schedule.hpp"
#include "stages/transform/transform_program.hpp"

namespace edgepipe {

namespace {

class compiled_stage_checks final : public stage_checks {
 public:
  status check_transform(const source_spec& source) const override {
    transform_program program;
    return transform_program::compile(source, program);
  }
  bool check_schedule(std::string_view expression, std::string& why) const override {
    return cron_schedule::parse(expression, why).has_value();
  }
};

}  // namespace

const stage_checks& pipeline_stage_checks() noexcept {
  static const compiled_stage_checks checks;
  return checks;
}

}  // namespace edgepipe
