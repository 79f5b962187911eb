#include "conversation.h"

#include <security/pam_ext.h>
#include <string.h>

#include <cstdlib>

namespace pvetotp {

std::optional<totp::secret_bytes> ask_user(pam_handle_t* pamh, int style, const std::string& text) {
  char* reply = nullptr;
  const int rc = pam_prompt(pamh, style, &reply, "%s", text.c_str());
  if (rc != PAM_SUCCESS || reply == nullptr) {
    if (reply != nullptr) {
      explicit_bzero(reply, strlen(reply));
      free(reply);
    }
    return std::nullopt;
  }
  const std::size_t length = strlen(reply);
  totp::secret_bytes answer(reply, length);
  explicit_bzero(reply, length);
  free(reply);
  return answer;
}

std::optional<totp::secret_bytes> current_authtok(pam_handle_t* pamh) {
  const void* item = nullptr;
  if (pam_get_item(pamh, PAM_AUTHTOK, &item) != PAM_SUCCESS || item == nullptr)
    return std::nullopt;
  const char* text = static_cast<const char*>(item);
  return totp::secret_bytes(text, strlen(text));
}

void tell_user_error(pam_handle_t* pamh, bool silent, const std::string& text) {
  if (silent)
    return;
  pam_error(pamh, "%s", text.c_str());
}

}  // namespace pvetotp
