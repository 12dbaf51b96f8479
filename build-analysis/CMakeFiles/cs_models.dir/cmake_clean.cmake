file(REMOVE_RECURSE
  "CMakeFiles/cs_models.dir/models/initializers/initializers.cpp.o"
  "CMakeFiles/cs_models.dir/models/initializers/initializers.cpp.o.d"
  "CMakeFiles/cs_models.dir/models/library.cpp.o"
  "CMakeFiles/cs_models.dir/models/library.cpp.o.d"
  "CMakeFiles/cs_models.dir/models/losses/losses.cpp.o"
  "CMakeFiles/cs_models.dir/models/losses/losses.cpp.o.d"
  "CMakeFiles/cs_models.dir/models/neurons/activations.cpp.o"
  "CMakeFiles/cs_models.dir/models/neurons/activations.cpp.o.d"
  "libcs_models.a"
  "libcs_models.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/cs_models.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
