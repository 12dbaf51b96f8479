# Empty compiler generated dependencies file for counterstream_tests.
# This may be replaced when dependencies are built.
