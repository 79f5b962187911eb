# FindPAM: Linux-PAM headers and library, without pkg-config's module check.
#
# Debian 13's pam.pc names audit.pc in Requires.private, and libpam0g-dev does not pull in
# libaudit-dev, so `pkg_check_modules(pam)` fails there although everything needed to build
# a module is installed. Headers and library are found directly; pkg-config is only asked
# for variables, which works on both releases.
#   PAM::PAM            imported target
#   PAM_VERSION         e.g. 1.5.2
#   PAM_MODULE_DIR      where libpam's own modules live (<libdir>/security)
find_path(PAM_INCLUDE_DIR security/pam_appl.h)
find_library(PAM_LIBRARY pam)

find_package(PkgConfig QUIET)
if(PKG_CONFIG_EXECUTABLE)
  execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --variable=libdir pam
                  OUTPUT_VARIABLE _pam_libdir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  execute_process(COMMAND ${PKG_CONFIG_EXECUTABLE} --modversion pam
                  OUTPUT_VARIABLE PAM_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(NOT _pam_libdir AND PAM_LIBRARY)
  # No pkg-config data: use the directory holding pam_unix.so next to the library.
  get_filename_component(_pam_libdir "${PAM_LIBRARY}" DIRECTORY)
endif()
if(_pam_libdir)
  set(PAM_MODULE_DIR "${_pam_libdir}/security")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(PAM REQUIRED_VARS PAM_LIBRARY PAM_INCLUDE_DIR PAM_MODULE_DIR
                                  VERSION_VAR PAM_VERSION)
if(PAM_FOUND AND NOT TARGET PAM::PAM)
  add_library(PAM::PAM UNKNOWN IMPORTED)
  set_target_properties(PAM::PAM PROPERTIES
    IMPORTED_LOCATION "${PAM_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${PAM_INCLUDE_DIR}")
endif()
mark_as_advanced(PAM_INCLUDE_DIR PAM_LIBRARY)
