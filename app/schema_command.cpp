// `edgepipe schema --source NAME [-c CONFIG] --format json-schema|spark|avro`: prints the output
// schema of one source's transform, derived from its compiled spec (stages/transform/
// transform_schema.hpp). Without -c, the embedded default config. For a postgres_cdc source,
// `--table schema.table [--key]` prints the schema of that table's Debezium event values (keys),
// from its columns in the catalog (cdc_table_schema.hpp).
#include <cstdio>

#include "app/cdc_table_schema.hpp"
#include "app/command.hpp"
#include "app/exit_codes.hpp"
#include "app/run_pipeline.hpp"
#include "stages/transform/transform_program.hpp"
#include "stages/transform/transform_schema.hpp"

namespace edgepipe {

namespace {

class schema_command final : public command {
 public:
  explicit schema_command(CLI::App& app) {
    cmd_ = app.add_subcommand(
        "schema", "print the output schema of a source's transform, or of a CDC table's events");
    cmd_->add_option("--source", source_, "source name (its [sources.NAME] table)")->required();
    cmd_->add_option("-c,--config", config_path_, "TOML config file (default: the embedded one)");
    cmd_->add_option("--format", format_, "json-schema (default) | spark | avro");
    cmd_->add_option("--table", table_,
                     "postgres_cdc sources: the table (schema.table, default schema public) "
                     "whose Debezium event schema to print; read from the database");
    cmd_->add_flag("--key", key_, "with --table: the schema of the event key (primary key)");
  }
  bool chosen() const override { return cmd_->parsed(); }
  int run() override {
    if (format_ != "json-schema" && format_ != "spark" && format_ != "avro")
      return config_error("schema: --format must be json-schema, spark or avro, not '" + format_ +
                          "'");
    pipeline_config config;
    if (status s = load_config(config_path_, config); !s) return config_error(s.message());
    const source_spec* spec = nullptr;
    std::string names;
    for (const source_spec& s : config.sources) {
      if (s.name == source_) spec = &s;
      names += (names.empty() ? "" : ", ") + s.name;
    }
    if (!spec)
      return config_error("schema: no source '" + source_ + "' in the config (sources: " + names +
                          ")");
    const std::string where =
        (config_path_.empty() ? std::string("<embedded>") : config_path_) + ": sources." + source_;
    if (spec->cdc) {
      if (table_.empty())
        return config_error("schema: " + where +
                            ": type = \"postgres_cdc\" has no transform schema; its events' "
                            "schema depends on the table: give --table schema.table");
      return print_cdc_table_schema(*spec->cdc, where, table_, key_, format_);
    }
    if (!table_.empty() || key_)
      return config_error("schema: " + where +
                          ": --table and --key are for type = \"postgres_cdc\" sources only");
    transform_program prog;
    if (status s = transform_program::compile(*spec, prog); !s) return config_error(s.message());
    const record_schema schema = derive_schema(*spec, prog);
    const std::string text = format_ == "spark"  ? to_spark_ddl(schema)
                             : format_ == "avro" ? to_avro_schema(schema)
                                                 : to_json_schema(schema);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return kExitOk;
  }

 private:
  CLI::App* cmd_ = nullptr;
  std::string source_, config_path_, format_ = "json-schema", table_;
  bool key_ = false;
};

}  // namespace

std::unique_ptr<command> add_schema_command(CLI::App& app) {
  return std::make_unique<schema_command>(app);
}

}  // namespace edgepipe
