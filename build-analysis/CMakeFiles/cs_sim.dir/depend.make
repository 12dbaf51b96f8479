# Empty dependencies file for cs_sim.
# This may be replaced when dependencies are built.
