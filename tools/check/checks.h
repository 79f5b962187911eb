// checks.h: the rules of pvetotp-check, run over one system (live or under --root).
//
// Each rule reads the parsed PAM stacks, the effective sshd settings per user, the users'
// secret files and the clock state, and adds findings to a report. The finding ids and
// their meaning are documented in pvetotp-check(8); tests/check asserts them per fixture.
#pragma once

#include <string>
#include <vector>

#include "findings.h"

namespace pvetotp::check {

struct options {
  std::string root;                // "" for the live system
  std::vector<std::string> users;  // --user; empty: derived from the configuration
  bool json = false;
};

struct outcome {
  report findings;
  std::vector<std::string> read_errors;  // non-empty: exit status 2
};

outcome run_checks(const options& opts);

}  // namespace pvetotp::check
