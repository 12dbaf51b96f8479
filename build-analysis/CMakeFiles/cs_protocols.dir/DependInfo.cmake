
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/protocols/bench.cpp" "CMakeFiles/cs_protocols.dir/protocols/bench.cpp.o" "gcc" "CMakeFiles/cs_protocols.dir/protocols/bench.cpp.o.d"
  "/work/main/protocols/datasets/cifar10.cpp" "CMakeFiles/cs_protocols.dir/protocols/datasets/cifar10.cpp.o" "gcc" "CMakeFiles/cs_protocols.dir/protocols/datasets/cifar10.cpp.o.d"
  "/work/main/protocols/datasets/dataset.cpp" "CMakeFiles/cs_protocols.dir/protocols/datasets/dataset.cpp.o" "gcc" "CMakeFiles/cs_protocols.dir/protocols/datasets/dataset.cpp.o.d"
  "/work/main/protocols/datasets/idx.cpp" "CMakeFiles/cs_protocols.dir/protocols/datasets/idx.cpp.o" "gcc" "CMakeFiles/cs_protocols.dir/protocols/datasets/idx.cpp.o.d"
  "/work/main/protocols/datasets/teacher.cpp" "CMakeFiles/cs_protocols.dir/protocols/datasets/teacher.cpp.o" "gcc" "CMakeFiles/cs_protocols.dir/protocols/datasets/teacher.cpp.o.d"
  "/work/main/protocols/run_document.cpp" "CMakeFiles/cs_protocols.dir/protocols/run_document.cpp.o" "gcc" "CMakeFiles/cs_protocols.dir/protocols/run_document.cpp.o.d"
  "/work/main/protocols/train.cpp" "CMakeFiles/cs_protocols.dir/protocols/train.cpp.o" "gcc" "CMakeFiles/cs_protocols.dir/protocols/train.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-analysis/CMakeFiles/cs_models.dir/DependInfo.cmake"
  "/work/main/build-analysis/CMakeFiles/cs_sim.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
