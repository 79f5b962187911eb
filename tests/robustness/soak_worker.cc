// pvetotp-soakworker: one of the concurrency soak's processes (tests only).
//
// It runs many logins through real libpam in one process, phase by phase. The script file has
// one login per line, "<phase> <epoch> <answer>", in phase order. Before the logins of phase P
// the worker waits for <sync-dir>/go.P (created by the test once every worker has finished
// phase P-1), pins the clock to <epoch> through the test shim's PVETOTP_TEST_TIME (the shim
// reads it on every call), and after them creates <sync-dir>/done.<id>.P. So all workers share
// one clock that only moves forward, as a real host's does, while they hammer one file.
//
// Output, one line per login: "R <phase> <index> <pam code> <answer>". Answers are test data.
#include <security/pam_appl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct login {
  int phase = 0;
  long long epoch = 0;
  std::string answer;
};

struct options {
  std::string confdir, service, user, script, sync_dir, id;
};

const std::string* current_answer = nullptr;

int conversation(int num_msg, const pam_message** msg, pam_response** resp, void*) {
  *resp = nullptr;
  if (num_msg <= 0 || num_msg > PAM_MAX_NUM_MSG) {
    return PAM_CONV_ERR;
  }
  auto* responses = static_cast<pam_response*>(std::calloc(num_msg, sizeof(pam_response)));
  if (responses == nullptr) {
    return PAM_BUF_ERR;
  }
  for (int i = 0; i < num_msg; ++i) {
    const int style = msg[i]->msg_style;
    if (style == PAM_PROMPT_ECHO_OFF || style == PAM_PROMPT_ECHO_ON) {
      responses[i].resp = strdup(current_answer->c_str());
    }
  }
  *resp = responses;
  return PAM_SUCCESS;
}

bool wait_for(const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (access(path.c_str(), F_OK) != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

void touch(const std::string& path) {
  std::ofstream(path).put('\n');
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--confdir") {
      o.confdir = value;
    } else if (key == "--service") {
      o.service = value;
    } else if (key == "--user") {
      o.user = value;
    } else if (key == "--script") {
      o.script = value;
    } else if (key == "--sync-dir") {
      o.sync_dir = value;
    } else if (key == "--id") {
      o.id = value;
    } else {
      std::fprintf(stderr, "pvetotp-soakworker: unknown argument %s\n", key.c_str());
      return 100;
    }
  }
  std::vector<login> logins;
  std::ifstream in(o.script);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    login l;
    if (fields >> l.phase >> l.epoch >> l.answer) {
      logins.push_back(l);
    }
  }
  if (logins.empty()) {
    std::fprintf(stderr, "pvetotp-soakworker: empty script %s\n", o.script.c_str());
    return 100;
  }

  pam_conv conv{conversation, nullptr};
  std::size_t next = 0;
  const int last_phase = logins.back().phase;
  for (int phase = 0; phase <= last_phase; ++phase) {
    if (!wait_for(o.sync_dir + "/go." + std::to_string(phase))) {
      std::fprintf(stderr, "pvetotp-soakworker: timed out waiting for phase %d\n", phase);
      return 102;
    }
    for (int index = 0; next < logins.size() && logins[next].phase == phase; ++next, ++index) {
      const login& l = logins[next];
      setenv("PVETOTP_TEST_TIME", std::to_string(l.epoch).c_str(), 1);
      current_answer = &l.answer;
      pam_handle_t* handle = nullptr;
      int rc =
          pam_start_confdir(o.service.c_str(), o.user.c_str(), &conv, o.confdir.c_str(), &handle);
      if (rc == PAM_SUCCESS) {
        rc = pam_authenticate(handle, 0);
        pam_end(handle, rc);
      } else {
        rc = 1000 + rc;  // never a pam_authenticate result
      }
      std::printf("R %d %d %d %s\n", phase, index, rc, l.answer.c_str());
    }
    std::fflush(stdout);
    touch(o.sync_dir + "/done." + o.id + "." + std::to_string(phase));
  }
  return 0;
}
