# Installs the build into WORK_DIR/prefix and checks the layout the README and
# docs/RELEASING.md describe; then configures, builds and runs the consumer against it with
# find_package, and builds it once more with exactly the flags from pkg-config and runs it
# with LD_LIBRARY_PATH unset (the library must be found through what pkg-config gave).
# VERSION (from the header) and SONAME come from the project.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")

# ---- the installed layout -----------------------------------------------------------
file(GLOB libdir LIST_DIRECTORIES true "${prefix}/lib" "${prefix}/lib64")
if(NOT libdir)
  message(FATAL_ERROR "nothing installed under ${prefix}/lib or lib64")
endif()
list(GET libdir 0 libdir)
set(expected
  "${prefix}/include/dapper_ipc.h"
  "${libdir}/cmake/DapperIpc/DapperIpcConfig.cmake"
  "${libdir}/cmake/DapperIpc/DapperIpcConfigVersion.cmake"
  "${libdir}/pkgconfig/dapper_ipc.pc"
  "${prefix}/share/doc/dapper_ipc/LICENSE")
if(NOT WIN32 AND NOT APPLE)
  string(REGEX MATCH "^[0-9]+" major "${VERSION}")
  list(APPEND expected "${libdir}/libdapper_ipc.so.${VERSION}")
  # name -> what the symlink must point to
  set(links "libdapper_ipc.so.${major}=libdapper_ipc.so.${VERSION}" "libdapper_ipc.so=libdapper_ipc.so.${major}")
  foreach(pair IN LISTS links)
    string(REPLACE "=" ";" pair "${pair}")
    list(GET pair 0 name)
    list(GET pair 1 target)
    if(NOT IS_SYMLINK "${libdir}/${name}")
      message(FATAL_ERROR "${libdir}/${name} is not a symlink")
    endif()
    file(READ_SYMLINK "${libdir}/${name}" points_to)
    if(NOT points_to STREQUAL target)
      message(FATAL_ERROR "${libdir}/${name} -> ${points_to}, expected -> ${target}")
    endif()
  endforeach()
  if(IS_SYMLINK "${libdir}/libdapper_ipc.so.${VERSION}")
    message(FATAL_ERROR "libdapper_ipc.so.${VERSION} must be the file itself")
  endif()
  find_program(READELF readelf)
  if(READELF)
    execute_process(COMMAND ${READELF} -d "${libdir}/libdapper_ipc.so.${VERSION}" OUTPUT_VARIABLE dyn)
    if(NOT dyn MATCHES "\\(SONAME\\)[^\n]*\\[libdapper_ipc\\.so\\.${major}\\]")
      message(FATAL_ERROR "the installed library's SONAME is not libdapper_ipc.so.${major}:\n${dyn}")
    endif()
  endif()
endif()
foreach(path IN LISTS expected)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "not installed: ${path}")
  endif()
endforeach()

# ---- find_package --------------------------------------------------------------------
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build "${WORK_DIR}/build" --config Release) # --config: Visual Studio's generator is multi-config
find_program(consumer consumer PATHS "${WORK_DIR}/build" "${WORK_DIR}/build/Release" NO_DEFAULT_PATH REQUIRED)
if(WIN32)
  # Windows has no rpath: a program finds a DLL next to itself or on PATH, where an
  # installed package's bin folder goes.
  run(${CMAKE_COMMAND} -E env --modify "PATH=path_list_prepend:${prefix}/bin" "${consumer}")
else()
  run(${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH "${consumer}")
endif()

# ---- pkg-config: its flags alone, run without LD_LIBRARY_PATH ------------------------
find_program(PKG_CONFIG pkg-config)
find_program(CC_BIN NAMES cc gcc clang)
if(PKG_CONFIG AND CC_BIN AND NOT WIN32)
  set(ENV{PKG_CONFIG_PATH} "${libdir}/pkgconfig")
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs dapper_ipc OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config does not know dapper_ipc")
  endif()
  execute_process(COMMAND ${PKG_CONFIG} --modversion dapper_ipc OUTPUT_VARIABLE pc_version OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT pc_version STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says version ${pc_version}, the header ${VERSION}")
  endif()
  message(STATUS "pkg-config --cflags --libs dapper_ipc: ${flags}")
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${CC_BIN} "${SOURCE_DIR}/consumer.c" ${flags} -o "${WORK_DIR}/consumer_pc")
  run(${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH "${WORK_DIR}/consumer_pc")
endif()
message(STATUS "installed package: layout as documented; works with find_package and pkg-config")
