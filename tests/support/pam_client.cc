// pvetotp-pamclient: a small PAM application for the integration tests.
//
// It loads a private PAM configuration with pam_start_confdir (libpam >= 1.5), so tests never
// touch /etc/pam.d, and prints everything a test needs to assert on in a line format that is
// trivial to parse:
//   MSG <STYLE> <text>          one line per conversation message, newlines escaped as \n
//   AUTH <name> <number>        result of pam_authenticate
//   ACCT <name> <number>        result of pam_acct_mgmt (only with --pve)
//   RESULT <name> <number>      the overall result of one authentication round
// The exit status is the PAM code of the last round (0 = PAM_SUCCESS), 100 for usage errors and
// 101 when pam_start itself fails, so every outcome is distinct.
//
// This is a test tool: the typed answers are plain strings on purpose, they are test data.

#include <security/pam_appl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct client_options {
  std::string confdir;
  std::string service;
  std::string user;
  std::string rhost;
  bool have_rhost = false;
  std::string authtok;
  bool have_authtok = false;
  std::vector<std::string> answers;
  bool pve = false;
  std::string password;
  int repeat = 1;
  std::string barrier;  // wait until this path exists before authenticating
  // rename(first, second) when the first prompt arrives: a file replaced while the user types.
  std::string replace_from, replace_to;
};

struct conv_state {
  const client_options* options = nullptr;
  size_t next_answer = 0;
  bool replaced = false;
};

const char* style_name(int style) {
  switch (style) {
    case PAM_PROMPT_ECHO_OFF:
      return "PROMPT_ECHO_OFF";
    case PAM_PROMPT_ECHO_ON:
      return "PROMPT_ECHO_ON";
    case PAM_ERROR_MSG:
      return "ERROR_MSG";
    case PAM_TEXT_INFO:
      return "TEXT_INFO";
    default:
      return "UNKNOWN";
  }
}

// Symbolic names make test failures readable; the numbers are printed too because libpam's
// numbering is what the tests ultimately compare against.
const char* code_name(int code) {
  switch (code) {
#define PVETOTP_CODE(c) \
  case c:               \
    return #c;
    PVETOTP_CODE(PAM_SUCCESS)
    PVETOTP_CODE(PAM_OPEN_ERR)
    PVETOTP_CODE(PAM_SYMBOL_ERR)
    PVETOTP_CODE(PAM_SERVICE_ERR)
    PVETOTP_CODE(PAM_SYSTEM_ERR)
    PVETOTP_CODE(PAM_BUF_ERR)
    PVETOTP_CODE(PAM_PERM_DENIED)
    PVETOTP_CODE(PAM_AUTH_ERR)
    PVETOTP_CODE(PAM_CRED_INSUFFICIENT)
    PVETOTP_CODE(PAM_AUTHINFO_UNAVAIL)
    PVETOTP_CODE(PAM_USER_UNKNOWN)
    PVETOTP_CODE(PAM_MAXTRIES)
    PVETOTP_CODE(PAM_NEW_AUTHTOK_REQD)
    PVETOTP_CODE(PAM_ACCT_EXPIRED)
    PVETOTP_CODE(PAM_SESSION_ERR)
    PVETOTP_CODE(PAM_CRED_UNAVAIL)
    PVETOTP_CODE(PAM_CRED_EXPIRED)
    PVETOTP_CODE(PAM_CRED_ERR)
    PVETOTP_CODE(PAM_NO_MODULE_DATA)
    PVETOTP_CODE(PAM_CONV_ERR)
    PVETOTP_CODE(PAM_AUTHTOK_ERR)
    PVETOTP_CODE(PAM_AUTHTOK_RECOVERY_ERR)
    PVETOTP_CODE(PAM_AUTHTOK_LOCK_BUSY)
    PVETOTP_CODE(PAM_AUTHTOK_DISABLE_AGING)
    PVETOTP_CODE(PAM_TRY_AGAIN)
    PVETOTP_CODE(PAM_IGNORE)
    PVETOTP_CODE(PAM_ABORT)
    PVETOTP_CODE(PAM_AUTHTOK_EXPIRED)
    PVETOTP_CODE(PAM_MODULE_UNKNOWN)
    PVETOTP_CODE(PAM_BAD_ITEM)
    PVETOTP_CODE(PAM_CONV_AGAIN)
    PVETOTP_CODE(PAM_INCOMPLETE)
#undef PVETOTP_CODE
    default:
      return "PAM_UNKNOWN_CODE";
  }
}

// One line per message; a test parser splits on the first two spaces, so the text must not
// contain a raw newline.
void print_message(int style, const char* text) {
  std::string escaped;
  for (const char* p = text ? text : "(null)"; *p; ++p) {
    if (*p == '\n') {
      escaped += "\\n";
    } else if (*p == '\\') {
      escaped += "\\\\";
    } else {
      escaped += *p;
    }
  }
  std::printf("MSG %s %s\n", style_name(style), escaped.c_str());
  std::fflush(stdout);
}

void free_responses(pam_response* responses, int count) {
  if (!responses) {
    return;
  }
  for (int i = 0; i < count; ++i) {
    std::free(responses[i].resp);
  }
  std::free(responses);
}

int conversation(int num_msg, const pam_message** msg, pam_response** resp, void* appdata) {
  auto* state = static_cast<conv_state*>(appdata);
  *resp = nullptr;
  if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG) {
    return PAM_CONV_ERR;
  }
  auto* responses = static_cast<pam_response*>(std::calloc(num_msg, sizeof(pam_response)));
  if (!responses) {
    return PAM_BUF_ERR;
  }
  for (int i = 0; i < num_msg; ++i) {
    const pam_message* m = msg[i];
    print_message(m->msg_style, m->msg);
    if (state->options->pve) {
      // Proxmox VE's Authen::PAM callback answers every message of every style with the
      // password (pve-and-peers.md 1.2); reproduce that exactly.
      responses[i].resp = strdup(state->options->password.c_str());
      continue;
    }
    if (m->msg_style == PAM_PROMPT_ECHO_OFF || m->msg_style == PAM_PROMPT_ECHO_ON) {
      if (!state->replaced && !state->options->replace_from.empty()) {
        state->replaced = true;
        const int renamed =
            std::rename(state->options->replace_from.c_str(), state->options->replace_to.c_str());
        std::printf("REPLACED %d\n", renamed == 0 ? 0 : errno);
        std::fflush(stdout);
      }
      if (state->next_answer >= state->options->answers.size()) {
        std::printf("CONV_ERR no answer left\n");
        std::fflush(stdout);
        free_responses(responses, num_msg);
        return PAM_CONV_ERR;
      }
      responses[i].resp = strdup(state->options->answers[state->next_answer++].c_str());
    }
  }
  *resp = responses;
  return PAM_SUCCESS;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "pvetotp-pamclient: %s\n"
               "usage: pvetotp-pamclient --confdir DIR --service NAME --user NAME [--rhost HOST]\n"
               "       [--authtok TEXT] [--answer TEXT]... [--pve --password TEXT]\n"
               "       [--repeat N] [--barrier PATH] [--replace-on-prompt FROM TO]\n",
               why);
  std::exit(100);
}

client_options parse(int argc, char** argv) {
  client_options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage(("missing value for " + arg).c_str());
      }
      return argv[++i];
    };
    if (arg == "--confdir") {
      o.confdir = value();
    } else if (arg == "--service") {
      o.service = value();
    } else if (arg == "--user") {
      o.user = value();
    } else if (arg == "--rhost") {
      o.rhost = value();
      o.have_rhost = true;
    } else if (arg == "--authtok") {
      o.authtok = value();
      o.have_authtok = true;
    } else if (arg == "--answer") {
      o.answers.push_back(value());
    } else if (arg == "--pve") {
      o.pve = true;
    } else if (arg == "--password") {
      o.password = value();
    } else if (arg == "--repeat") {
      o.repeat = std::atoi(value().c_str());
      if (o.repeat < 1) {
        usage("--repeat needs a positive number");
      }
    } else if (arg == "--barrier") {
      o.barrier = value();
    } else if (arg == "--replace-on-prompt") {
      o.replace_from = value();
      o.replace_to = value();
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  if (o.confdir.empty() || o.service.empty()) {
    usage("--confdir and --service are required");
  }
  return o;
}

// The concurrency tests start 40 clients and then create the barrier file, so all of them
// reach pam_authenticate within a millisecond or so instead of trickling in as they are spawned.
void wait_for_barrier(const std::string& path) {
  if (path.empty()) {
    return;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (access(path.c_str(), F_OK) != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

int main(int argc, char** argv) {
  client_options options = parse(argc, argv);
  conv_state state;
  state.options = &options;
  pam_conv conv{conversation, &state};

  pam_handle_t* handle = nullptr;
  int rc = pam_start_confdir(options.service.c_str(),
                             options.user.empty() ? nullptr : options.user.c_str(), &conv,
                             options.confdir.c_str(), &handle);
  if (rc != PAM_SUCCESS) {
    std::printf("START %s %d\n", code_name(rc), rc);
    return 101;
  }
  if (options.have_rhost) {
    pam_set_item(handle, PAM_RHOST, options.rhost.c_str());
  }
  wait_for_barrier(options.barrier);

  int last = PAM_SUCCESS;
  for (int round = 0; round < options.repeat; ++round) {
    state.next_answer = 0;
    if (options.have_authtok) {
      // libpam lets only modules set PAM_AUTHTOK (an application gets PAM_BAD_ITEM); the result
      // is printed so a test relying on it notices. Stacks use pam_exec expose_authtok instead.
      int set = pam_set_item(handle, PAM_AUTHTOK, options.authtok.c_str());
      std::printf("AUTHTOK %s %d\n", code_name(set), set);
    }
    int auth = pam_authenticate(handle, 0);
    std::printf("AUTH %s %d\n", code_name(auth), auth);
    int result = auth;
    if (options.pve && auth == PAM_SUCCESS) {
      int acct = pam_acct_mgmt(handle, 0);
      std::printf("ACCT %s %d\n", code_name(acct), acct);
      result = acct;
    }
    std::printf("RESULT %s %d\n", code_name(result), result);
    std::fflush(stdout);
    last = result;
  }
  pam_end(handle, last);
  return last;
}
