file(REMOVE_RECURSE
  "CMakeFiles/cs_protocols.dir/protocols/bench.cpp.o"
  "CMakeFiles/cs_protocols.dir/protocols/bench.cpp.o.d"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/cifar10.cpp.o"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/cifar10.cpp.o.d"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/dataset.cpp.o"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/dataset.cpp.o.d"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/idx.cpp.o"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/idx.cpp.o.d"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/teacher.cpp.o"
  "CMakeFiles/cs_protocols.dir/protocols/datasets/teacher.cpp.o.d"
  "CMakeFiles/cs_protocols.dir/protocols/run_document.cpp.o"
  "CMakeFiles/cs_protocols.dir/protocols/run_document.cpp.o.d"
  "CMakeFiles/cs_protocols.dir/protocols/train.cpp.o"
  "CMakeFiles/cs_protocols.dir/protocols/train.cpp.o.d"
  "libcs_protocols.a"
  "libcs_protocols.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/cs_protocols.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
