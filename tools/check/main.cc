// pvetotp-check: finds the PAM, sshd and secret-file configurations that lock admins out
// or let attackers in. See pvetotp-check(8); exit status 0 (no errors), 1 (errors found),
// 2 (could not read what it needs, or bad usage).
#include <getopt.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "checks.h"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: pvetotp-check [--root DIR] [--json] [--user NAME]...\n"
      "  --root DIR   check the system installed under DIR instead of /\n"
      "  --json       print the findings as one JSON object\n"
      "  --user NAME  check NAME (repeatable); default: members of the module's groups=\n"
      "               filter plus root\n"
      "  --version    print the version\n"
      "  --help       this text\n",
      out);
}

}  // namespace

int main(int argc, char** argv) {
  pvetotp::check::options opts;
  static const option longopts[] = {
      {"root", required_argument, nullptr, 'r'}, {"json", no_argument, nullptr, 'j'},
      {"user", required_argument, nullptr, 'u'}, {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},    {nullptr, 0, nullptr, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "r:ju:hV", longopts, nullptr)) != -1) {
    switch (c) {
      case 'r':
        opts.root = optarg;
        while (opts.root.size() > 1 && opts.root.back() == '/')
          opts.root.pop_back();
        if (opts.root == "/")
          opts.root.clear();
        break;
      case 'j':
        opts.json = true;
        break;
      case 'u':
        opts.users.emplace_back(optarg);
        break;
      case 'h':
        usage(stdout);
        return 0;
      case 'V':
        std::printf("pvetotp-check %s\n", PVETOTP_VERSION);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }

  auto out = pvetotp::check::run_checks(opts);
  for (const auto& e : out.read_errors)
    std::cerr << "pvetotp-check: " << e << "\n";
  if (opts.json)
    std::cout << out.findings.to_json(opts.root.empty() ? "/" : opts.root);
  else
    std::cout << out.findings.to_text();
  if (!out.read_errors.empty())
    return 2;
  return out.findings.count(pvetotp::check::severity::error) > 0 ? 1 : 0;
}
