# Empty dependencies file for cs_analysis.
# This may be replaced when dependencies are built.
