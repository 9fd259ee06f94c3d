# Turns config/default.toml into a C++ string so the binary carries its default config.
file(READ ${IN} CONTENT)
file(WRITE ${OUT} "// Generated from config/default.toml by config/embed.cmake. Do not edit.\n")
file(APPEND ${OUT} "#include <string_view>\nnamespace edgepipe {\n")
file(APPEND ${OUT} "extern const std::string_view kEmbeddedDefaultConfig;\n")
file(APPEND ${OUT} "const std::string_view kEmbeddedDefaultConfig = R\"edgepipe_toml(${CONTENT})edgepipe_toml\";\n}\n")
