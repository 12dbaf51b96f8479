file(REMOVE_RECURSE
  "CMakeFiles/counterstream.dir/app/main.cpp.o"
  "CMakeFiles/counterstream.dir/app/main.cpp.o.d"
  "counterstream"
  "counterstream.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/counterstream.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
