# The README's "From C" section is a complete, correct program: every ```c block in it is
# compiled as it stands (with -Wall -Wextra -Werror), the blocks must be the two halves,
# readme_adapter.c and readme_launcher.c, identical to samples/c/ (the copies a reader can
# build), and the adapter, started with the launcher, must finish cleanly RUNS times in a
# row (the old snippet's send-before-the-client-arrived failed 2 runs in 3).
# Inputs: README, SAMPLES (samples/c), WORK_DIR, CC_BIN, INCLUDE_DIR, LIBRARY_DIR, RUNS.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
file(READ "${README}" text)
string(FIND "${text}" "### From C\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README has no '### From C' section")
endif()
string(SUBSTRING "${text}" ${start} -1 section)
string(SUBSTRING "${section}" 1 -1 rest)
string(FIND "${rest}" "\n##" end) # the next heading ends the section
if(NOT end EQUAL -1)
  math(EXPR end "${end} + 1")
  string(SUBSTRING "${section}" 0 ${end} section)
endif()

# The ```c blocks, in order. Lines are kept as they are (semicolons escaped for CMake lists).
string(REPLACE ";" "\\;" section "${section}")
string(REPLACE "\n" ";" lines "${section}")
set(blocks "")
set(in_block FALSE)
set(index 0)
foreach(line IN LISTS lines)
  if(NOT in_block AND line STREQUAL "```c")
    set(in_block TRUE)
    set(code "")
  elseif(in_block AND line STREQUAL "```")
    set(in_block FALSE)
    math(EXPR index "${index} + 1")
    set(name "block${index}.c")
    if(code MATCHES "^/\\* (readme_[a-z]+\\.c):")
      set(name "${CMAKE_MATCH_1}")
    endif()
    file(WRITE "${WORK_DIR}/${name}" "${code}")
    list(APPEND blocks "${name}")
  elseif(in_block)
    string(APPEND code "${line}\n")
  endif()
endforeach()
if(NOT blocks)
  message(FATAL_ERROR "no ```c block in the README's 'From C' section")
endif()

foreach(name IN LISTS blocks)
  string(REGEX REPLACE "\\.c$" "" exe "${name}")
  execute_process(
    COMMAND "${CC_BIN}" -std=c99 -Wall -Wextra -Werror "-I${INCLUDE_DIR}" "${WORK_DIR}/${name}"
            "-L${LIBRARY_DIR}" -ldapper_ipc "-Wl,-rpath,${LIBRARY_DIR}" -lpthread -o "${WORK_DIR}/${exe}"
    RESULT_VARIABLE rc ERROR_VARIABLE errors)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the README's ${name} does not compile:\n${errors}")
  endif()
endforeach()

if(NOT blocks STREQUAL "readme_adapter.c;readme_launcher.c")
  message(FATAL_ERROR "the 'From C' section's C blocks are [${blocks}], expected the adapter and the launcher (readme_adapter.c, readme_launcher.c)")
endif()
foreach(name IN LISTS blocks)
  file(READ "${WORK_DIR}/${name}" from_readme)
  file(READ "${SAMPLES}/${name}" from_samples)
  if(NOT from_readme STREQUAL from_samples)
    message(FATAL_ERROR "README's ${name} differs from samples/c/${name}: keep them identical")
  endif()
endforeach()

foreach(run RANGE 1 ${RUNS})
  execute_process(COMMAND "${WORK_DIR}/readme_adapter" "${WORK_DIR}/readme_launcher"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "adapter: 1 reply, launcher exited with 0")
    message(FATAL_ERROR "run ${run}: the README's adapter failed (${rc}):\n${out}\n${err}")
  endif()
endforeach()
message(STATUS "the README's C program compiles as it stands and ran ${RUNS} times:\n${out}")
