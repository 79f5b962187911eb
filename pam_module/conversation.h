// conversation.h: getting the code from the user or from PAM_AUTHTOK. Replies are moved into
// secret_bytes and the libpam copies are wiped before they are freed.
#pragma once

#include <security/pam_modules.h>

#include <optional>
#include <string>

#include "totp/secret_bytes.h"

namespace pvetotp {

// One prompt of `style` (PAM_PROMPT_ECHO_OFF/ON). nullopt when the conversation failed or
// gave no answer (NULL); an empty answer is returned as empty bytes.
std::optional<totp::secret_bytes> ask_user(pam_handle_t* pamh, int style, const std::string& text);

// PAM_AUTHTOK as left by an earlier module; nullopt when there is none.
std::optional<totp::secret_bytes> current_authtok(pam_handle_t* pamh);

// PAM_ERROR_MSG to the user unless `silent`.
void tell_user_error(pam_handle_t* pamh, bool silent, const std::string& text);

}  // namespace pvetotp
