# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build-analysis
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("bench")
subdirs("tests")
