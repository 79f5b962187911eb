// Issue 4: the module exports only pam_sm_authenticate and pam_sm_setcred.
#include <dlfcn.h>

#include <algorithm>
#include <sstream>

#include "harness.h"

namespace pvetotp::itest {
namespace {

TEST(exports, Only_pam_sm_authenticate_and_pam_sm_setcred_are_exported) {
  // The module's PAM imports resolve against libpam, loaded globally first as a PAM app would.
  void* pam = dlopen("libpam.so.0", RTLD_NOW | RTLD_GLOBAL);
  ASSERT_NE(pam, nullptr) << dlerror();
  void* module = dlopen(PVETOTP_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(module, nullptr) << dlerror();
  EXPECT_NE(dlsym(module, "pam_sm_authenticate"), nullptr);
  EXPECT_NE(dlsym(module, "pam_sm_setcred"), nullptr);
  // Real internal functions of the module and of libtotp (dlsym on a handle also searches the
  // module's dependencies, so C++ runtime names would be found in libstdc++, not in us).
  for (const char* hidden :
       {"pam_sm_open_session", "pam_sm_acct_mgmt", "pam_sm_chauthtok",
        "_ZN7pvetotp20parse_module_optionsESt4spanIKPKcLm18446744073709551615EE",
        "_ZN7pvetotp12authenticateEP10pam_handleiSt4spanIKPKcLm18446744073709551615EE",
        "_ZN4totp13base32_decodeESt17basic_string_viewIcSt11char_traitsIcEE"}) {
    EXPECT_EQ(dlsym(module, hidden), nullptr) << hidden << " must not be exported";
  }
  dlclose(module);

  // Every defined dynamic symbol, not just a few guesses.
  auto nm = run_process({"nm", "-D", "--defined-only", PVETOTP_MODULE_PATH});
  ASSERT_EQ(nm.status, 0) << nm.out;
  std::istringstream lines(nm.out);
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::string addr, type, name;
    f >> addr >> type >> name;
    if (type == "A") {
      continue;  // version node names from the linker script
    }
    names.push_back(name.substr(0, name.find('@')));  // binutils appends @@VERSION
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"pam_sm_authenticate", "pam_sm_setcred"})) << nm.out;
}

}  // namespace
}  // namespace pvetotp::itest
