file(REMOVE_RECURSE
  "CMakeFiles/counterstream_tests.dir/analysis/matrix_metrics_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/analysis/matrix_metrics_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/main.cpp.o"
  "CMakeFiles/counterstream_tests.dir/main.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/models/losses_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/models/losses_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/protocols/datasets_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/protocols/datasets_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/protocols/train_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/protocols/train_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/sim/plasticity_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/sim/plasticity_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/sim/recorder_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/sim/recorder_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/sim/sonata_report_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/sim/sonata_report_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/sim/threads_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/sim/threads_test.cpp.o.d"
  "CMakeFiles/counterstream_tests.dir/sim/yaml_errors_test.cpp.o"
  "CMakeFiles/counterstream_tests.dir/sim/yaml_errors_test.cpp.o.d"
  "counterstream_tests"
  "counterstream_tests.pdb"
  "counterstream_tests_tests-b858cb2.cmake"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/counterstream_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
