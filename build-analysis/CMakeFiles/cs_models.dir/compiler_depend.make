# Empty compiler generated dependencies file for cs_models.
# This may be replaced when dependencies are built.
