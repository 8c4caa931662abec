#pragma once
// The `consort` command line: every user-facing action of the platform.
// RunCli returns the process exit code (0 ok, 1 error, 2 usage error).

#include <string>
#include <vector>

namespace consort::cli {

int RunCli(const std::vector<std::string>& args);

// `consort demo` (demo.cc).
int RunDemo(const std::vector<std::string>& args);

// The path of the running executable (to start coordinator and node processes).
std::string SelfExecutable();

}  // namespace consort::cli
