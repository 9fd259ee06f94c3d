# Included by the top-level CMakeLists.txt when EDGEPIPE_FUZZ is on, before any target: every
# target (the project's libraries included) is compiled with the fuzzer's coverage
# instrumentation and ASan+UBSan. UBSan does not recover, so undefined behaviour is a crash the
# fuzzer reports. The fuzz executables add -fsanitize=fuzzer at link time (tests/fuzz).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "EDGEPIPE_FUZZ needs Clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++-16 "
                      "-DCMAKE_C_COMPILER=clang-16 (scripts/fuzz.sh does this)")
endif()
set(EDGEPIPE_FUZZ_SANITIZERS address,undefined)
add_compile_options(-fsanitize=fuzzer-no-link,${EDGEPIPE_FUZZ_SANITIZERS}
                    -fno-sanitize-recover=all -fno-omit-frame-pointer)
add_link_options(-fsanitize=${EDGEPIPE_FUZZ_SANITIZERS})
