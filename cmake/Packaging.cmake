# Packages (issue 18): `cpack` in the build folder makes a .deb, an .rpm
# and a .tar.gz of what `cmake --install` puts in the tree, under /usr
# (the .tar.gz relative: it unpacks anywhere, and plugvm finds its plugins
# from its own path). The .deb's dependencies come from dpkg-shlibdeps;
# libarchive13, which plugvm dlopen()s to decompress a kernel, is among
# them because plugvm-image links it (tests/install/packages.sh checks it
# is there). The .rpm's come from rpm's own scan, plus libarchive. tests/install/packages.sh
# builds all three and runs lintian on the .deb.
set(CPACK_PACKAGE_NAME plugvm)
set(CPACK_PACKAGE_VENDOR "The plugvm developers")
set(CPACK_PACKAGE_CONTACT "The plugvm developers <plugvm@plugvm.dev>")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/plugvm/plugvm")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "microVM monitor with a stable plugin ABI")
set(CPACK_PACKAGE_DESCRIPTION "plugvm runs Linux guests and OCI images in hardware-isolated
microVMs described by one config file. The hypervisor backend (KVM) and the
virtio devices (blk, fs, vsock, balloon) are plugins loaded at run time, and
device plugins written out of tree load without rebuilding plugvm.")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_GENERATOR "DEB;RPM;TGZ")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_SOURCE_DIR}/packaging/cpack-generator.cmake)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_IGNORE_FILES "/build/;/\\\\.git/")

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libplugvm.so.0: a shlibs file for programs built against it, and the
# ldconfig trigger Debian's policy asks of a package with a public library
# (CPack also writes postinst/postrm calling ldconfig: lintian-overrides).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_SOURCE_DIR}/packaging/triggers)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)

set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "Apache-2.0")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Base")
set(CPACK_RPM_PACKAGE_REQUIRES "libarchive")
# The guest images and the guest's static init are not host code: no
# build-id links, no debuginfo, no dependency scan of them.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none\n%global __requires_exclude_from ^/usr/(share/plugvm/images|libexec/plugvm/plugvm-init).*$")
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION /usr/libexec /usr/share/man /usr/share/man/man1
  /usr/share/man/man5 /usr/share/man/man7 /usr/share/lintian /usr/share/lintian/overrides
  /usr/lib/cmake /usr/${CMAKE_INSTALL_LIBDIR}/pkgconfig /usr/include)

# What a .deb must carry for Debian's policy: the copyright file, a
# changelog, and the overrides that explain the tags lintian is told to
# accept (packaging/lintian-overrides says why each is there).
configure_file(${CMAKE_SOURCE_DIR}/packaging/changelog.in ${CMAKE_BINARY_DIR}/packaging/changelog @ONLY)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  COMMAND gzip -9nc ${CMAKE_BINARY_DIR}/packaging/changelog > ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog)
add_custom_target(packaging_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/copyright ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/lintian-overrides
  DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME plugvm)
include(CPack)
