file(REMOVE_RECURSE
  "libcs_sim.a"
)
