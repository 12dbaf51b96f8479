file(REMOVE_RECURSE
  "libcs_analysis.a"
)
