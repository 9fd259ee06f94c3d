# edgepipe_layer(NAME DIRS dir... [DEPS layer...] [LIBS lib...] [EXTRA_SOURCES f...]
#                [EXCLUDE f...])
# A static library of every .cpp under DIRS, compiled against an include view that holds
# symlinks to DIRS and to the folders of every layer in DEPS (transitively) and nothing else:
# an #include of a higher layer's header is "file not found". The view's folders are recorded
# on the target (EDGEPIPE_VIEW_DIRS) for the layers above it and for tests/layering/.

function(edgepipe_layer name)
  cmake_parse_arguments(L "" "" "DIRS;DEPS;LIBS;EXTRA_SOURCES;EXCLUDE" ${ARGN})
  set(sources ${L_EXTRA_SOURCES})
  foreach(dir ${L_DIRS})
    file(GLOB_RECURSE found CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.cpp)
    list(APPEND sources ${found})
  endforeach()
  foreach(ex ${L_EXCLUDE})
    list(REMOVE_ITEM sources ${CMAKE_SOURCE_DIR}/${ex})
  endforeach()

  set(visible ${L_DIRS})
  foreach(dep ${L_DEPS})
    get_target_property(dep_dirs ${dep} EDGEPIPE_VIEW_DIRS)
    list(APPEND visible ${dep_dirs})
  endforeach()
  list(REMOVE_DUPLICATES visible)

  set(view ${CMAKE_BINARY_DIR}/layers/${name})
  file(REMOVE_RECURSE ${view})
  foreach(dir ${visible})
    get_filename_component(parent ${view}/${dir} DIRECTORY)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${dir} ${view}/${dir} SYMBOLIC)
  endforeach()

  add_library(${name} STATIC ${sources})
  set_target_properties(${name} PROPERTIES EDGEPIPE_VIEW_DIRS "${visible}"
                                           EDGEPIPE_VIEW "${view}")
  target_include_directories(${name} PUBLIC ${view})
  target_compile_options(${name} PRIVATE ${EDGEPIPE_WARNINGS})
  target_compile_definitions(${name} PUBLIC EDGEPIPE_VERSION="${PROJECT_VERSION}")
  target_link_libraries(${name} PUBLIC ${L_DEPS} ${L_LIBS})
endfunction()
