// The only symbols pam_pvetotp.so exports (see pam_pvetotp.map). They stay thin: every
// decision is in authenticate.cc, and no C++ exception may cross into libpam.
#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>

#include <new>
#include <span>

#include "authenticate.h"

extern "C" {

PAM_EXTERN __attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t* pamh,
                                                                          int flags, int argc,
                                                                          const char** argv) {
  try {
    return pvetotp::authenticate(
        pamh, flags,
        std::span<const char* const>(argv, argc > 0 ? static_cast<std::size_t>(argc) : 0));
  } catch (const std::bad_alloc&) {
    pam_syslog(pamh, LOG_CRIT, "Out of memory; denying");
    return PAM_BUF_ERR;
  } catch (...) {
    pam_syslog(pamh, LOG_CRIT, "Internal error; denying");
    return PAM_AUTH_ERR;
  }
}

PAM_EXTERN __attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t*, int, int,
                                                                     const char**) {
  return PAM_SUCCESS;
}

}  // extern "C"
