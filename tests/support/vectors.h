// vectors.h: loads the RFC test-vector files in tests/data/vectors, and runs the independent
// tools (oathtool, coreutils base32) that expected values come from.
//
// Format: one vector per line, fields separated by blanks; lines starting with '#' and blank
// lines are skipped; a field written "..." has its quotes removed ("" is the empty string).
// A file that is missing or holds no vector is a test failure, never a silent pass.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pvetotp_test {

struct vector_row {
  int line = 0;                     // line number in the file, for failure messages
  std::vector<std::string> fields;  // whitespace-separated, quotes stripped
};

inline std::vector<vector_row> load_vectors(const std::string& name, std::size_t columns) {
  const std::string path = std::string(PVETOTP_TEST_DATA_DIR) + "/vectors/" + name;
  std::ifstream in(path);
  std::vector<vector_row> rows;
  if (!in) {
    ADD_FAILURE() << "cannot open " << path;
    return rows;
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    vector_row row{number, {}};
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      if (word.size() >= 2 && word.front() == '"' && word.back() == '"') {
        word = word.substr(1, word.size() - 2);
      }
      row.fields.push_back(word);
    }
    if (row.fields.empty()) {
      continue;
    }
    if (row.fields.size() != columns) {
      ADD_FAILURE() << path << ":" << number << ": expected " << columns << " fields, got "
                    << row.fields.size();
      continue;
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) {
    ADD_FAILURE() << path << " holds no vectors";
  }
  return rows;
}

// Hex text of bytes, the form oathtool takes keys in.
template <class Bytes>
std::string to_hex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out.push_back(kDigits[static_cast<unsigned char>(b) >> 4]);
    out.push_back(kDigits[static_cast<unsigned char>(b) & 0x0f]);
  }
  return out;
}

struct tool_output {
  int exit_status = -1;            // -1 when the command could not be run or was killed
  std::vector<std::string> lines;  // stdout, one entry per line, newline removed
};

// Runs `command` through /bin/sh. Callers build commands only from hex, digits and fixed
// option names, so no quoting is needed.
inline tool_output run_tool(const std::string& command) {
  tool_output out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return out;
  }
  std::string current;
  int c;
  while ((c = std::fgetc(pipe)) != EOF) {
    if (c == '\n') {
      out.lines.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(c));
    }
  }
  if (!current.empty()) {
    out.lines.push_back(current);
  }
  const int status = ::pclose(pipe);
  if (status != -1 && WIFEXITED(status)) {
    out.exit_status = WEXITSTATUS(status);
  }
  return out;
}

}  // namespace pvetotp_test
