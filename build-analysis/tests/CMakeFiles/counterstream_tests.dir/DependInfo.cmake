
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tests/analysis/matrix_metrics_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/analysis/matrix_metrics_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/analysis/matrix_metrics_test.cpp.o.d"
  "/work/main/tests/main.cpp" "tests/CMakeFiles/counterstream_tests.dir/main.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/main.cpp.o.d"
  "/work/main/tests/models/losses_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/models/losses_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/models/losses_test.cpp.o.d"
  "/work/main/tests/protocols/datasets_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/protocols/datasets_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/protocols/datasets_test.cpp.o.d"
  "/work/main/tests/protocols/train_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/protocols/train_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/protocols/train_test.cpp.o.d"
  "/work/main/tests/sim/plasticity_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/sim/plasticity_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/sim/plasticity_test.cpp.o.d"
  "/work/main/tests/sim/recorder_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/sim/recorder_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/sim/recorder_test.cpp.o.d"
  "/work/main/tests/sim/sonata_report_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/sim/sonata_report_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/sim/sonata_report_test.cpp.o.d"
  "/work/main/tests/sim/threads_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/sim/threads_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/sim/threads_test.cpp.o.d"
  "/work/main/tests/sim/yaml_errors_test.cpp" "tests/CMakeFiles/counterstream_tests.dir/sim/yaml_errors_test.cpp.o" "gcc" "tests/CMakeFiles/counterstream_tests.dir/sim/yaml_errors_test.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-analysis/CMakeFiles/cs_protocols.dir/DependInfo.cmake"
  "/work/main/build-analysis/CMakeFiles/cs_analysis.dir/DependInfo.cmake"
  "/work/main/build-analysis/CMakeFiles/cs_models.dir/DependInfo.cmake"
  "/work/main/build-analysis/CMakeFiles/cs_sim.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
