# Empty compiler generated dependencies file for counterstream.
# This may be replaced when dependencies are built.
