# Empty dependencies file for cs_protocols.
# This may be replaced when dependencies are built.
