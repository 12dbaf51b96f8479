# Empty compiler generated dependencies file for kernels.
# This may be replaced when dependencies are built.
