# Read by cpack once per generator (CPACK_PROJECT_CONFIG_FILE): the .deb
# and .rpm install under /usr; the .tar.gz holds the tree itself (bin/,
# lib/, share/ under plugvm-VERSION-Linux/), to unpack anywhere: plugvm
# finds its plugins and images from its own path.
if(CPACK_GENERATOR STREQUAL "TGZ")
  set(CPACK_PACKAGING_INSTALL_PREFIX "")
endif()
