file(REMOVE_RECURSE
  "libcs_models.a"
)
