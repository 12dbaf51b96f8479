file(REMOVE_RECURSE
  "CMakeFiles/cs_sim.dir/sim/backends/cpu/gemm.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/backends/cpu/gemm.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/circuit.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/circuit.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/network.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/network.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/recorder.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/recorder.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/sha256.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/sha256.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/sonata_report.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/sonata_report.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/stack.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/stack.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/weights_file.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/weights_file.cpp.o.d"
  "CMakeFiles/cs_sim.dir/sim/yaml_view.cpp.o"
  "CMakeFiles/cs_sim.dir/sim/yaml_view.cpp.o.d"
  "libcs_sim.a"
  "libcs_sim.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/cs_sim.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
