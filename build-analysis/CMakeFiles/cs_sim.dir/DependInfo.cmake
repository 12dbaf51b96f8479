
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/sim/backends/cpu/gemm.cpp" "CMakeFiles/cs_sim.dir/sim/backends/cpu/gemm.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/backends/cpu/gemm.cpp.o.d"
  "/work/main/sim/circuit.cpp" "CMakeFiles/cs_sim.dir/sim/circuit.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/circuit.cpp.o.d"
  "/work/main/sim/network.cpp" "CMakeFiles/cs_sim.dir/sim/network.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/network.cpp.o.d"
  "/work/main/sim/recorder.cpp" "CMakeFiles/cs_sim.dir/sim/recorder.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/recorder.cpp.o.d"
  "/work/main/sim/sha256.cpp" "CMakeFiles/cs_sim.dir/sim/sha256.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/sha256.cpp.o.d"
  "/work/main/sim/sonata_report.cpp" "CMakeFiles/cs_sim.dir/sim/sonata_report.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/sonata_report.cpp.o.d"
  "/work/main/sim/stack.cpp" "CMakeFiles/cs_sim.dir/sim/stack.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/stack.cpp.o.d"
  "/work/main/sim/weights_file.cpp" "CMakeFiles/cs_sim.dir/sim/weights_file.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/weights_file.cpp.o.d"
  "/work/main/sim/yaml_view.cpp" "CMakeFiles/cs_sim.dir/sim/yaml_view.cpp.o" "gcc" "CMakeFiles/cs_sim.dir/sim/yaml_view.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
