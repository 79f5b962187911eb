# Debian package through CPack: `cmake --build build --target package` gives
# pam-pvetotp_<version>_<arch>.deb. Depends are computed by dpkg-shlibdeps from the binaries,
# so a package built on Debian 12 depends on libssl3 and one built on Debian 13 on
# libssl3t64: each release gets a package that installs there.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "pam-pvetotp")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "pam_pvetotp maintainers <pam-pvetotp-maintainers@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "TOTP/HOTP second factor for PAM, compatible with google-authenticator files")
set(CPACK_PACKAGE_DESCRIPTION "pam_pvetotp.so is a drop-in replacement for pam_google_authenticator.so:
it reads and writes the same ~/.google_authenticator files and accepts the
same options, but locks each file from read to commit and rewrites it
atomically. Its users=, groups= and services= filters let one line go into
common-auth without breaking the Proxmox VE web login. pvetotp-enroll
creates compatible secret files and shows a QR code; pvetotp-check finds
PAM and sshd configurations that lock administrators out or let attackers in.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libpam-runtime")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://example.invalid/pam_pvetotp")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/debian/postinst;${PROJECT_SOURCE_DIR}/packaging/debian/prerm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Install under /usr like every Debian package; the PAM directory is absolute already.
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
include(CPack)
