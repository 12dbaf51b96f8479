
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/models/initializers/initializers.cpp" "CMakeFiles/cs_models.dir/models/initializers/initializers.cpp.o" "gcc" "CMakeFiles/cs_models.dir/models/initializers/initializers.cpp.o.d"
  "/work/main/models/library.cpp" "CMakeFiles/cs_models.dir/models/library.cpp.o" "gcc" "CMakeFiles/cs_models.dir/models/library.cpp.o.d"
  "/work/main/models/losses/losses.cpp" "CMakeFiles/cs_models.dir/models/losses/losses.cpp.o" "gcc" "CMakeFiles/cs_models.dir/models/losses/losses.cpp.o.d"
  "/work/main/models/neurons/activations.cpp" "CMakeFiles/cs_models.dir/models/neurons/activations.cpp.o" "gcc" "CMakeFiles/cs_models.dir/models/neurons/activations.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build-analysis/CMakeFiles/cs_sim.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
