file(REMOVE_RECURSE
  "libcs_protocols.a"
)
