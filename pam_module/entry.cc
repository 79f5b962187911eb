// Being written; replaced by the full implementation.
#include <security/pam_modules.h>
extern "C" {
PAM_EXTERN int pam_sm_authenticate(pam_handle_t*, int, int, const char**) { return PAM_AUTH_ERR; }
PAM_EXTERN int pam_sm_setcred(pam_handle_t*, int, int, const char**) { return PAM_SUCCESS; }
}
