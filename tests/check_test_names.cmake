# Run after the test binary links (cmake -DTEST_EXECUTABLE=... -P this file).
# ctest registers each doctest case by name, and a name is a CMake list there:
# a ';' splits it into halves that match no case, so ctest would report the
# case passed without running it. Fail the build instead (and remove the
# binary, so the next build checks again).
execute_process(COMMAND "${TEST_EXECUTABLE}" --list-test-cases OUTPUT_VARIABLE output RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(REMOVE "${TEST_EXECUTABLE}")
  message(FATAL_ERROR "cannot list the test cases of ${TEST_EXECUTABLE} (exit ${result}):\n${output}")
endif()
string(REPLACE ";" "\\;" output "${output}")
string(REPLACE "\n" ";" lines "${output}")
set(bad "")
foreach(line IN LISTS lines)
  string(FIND "${line}" ";" at)
  if(NOT at EQUAL -1)
    string(REPLACE "\\;" ";" line "${line}")
    string(APPEND bad "  ${line}\n")
  endif()
endforeach()
if(NOT bad STREQUAL "")
  file(REMOVE "${TEST_EXECUTABLE}")
  message(FATAL_ERROR "test case names must not contain ';' (ctest splits them there and runs nothing):\n${bad}")
endif()
