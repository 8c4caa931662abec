#include <string>
#include <vector>

#include "consort/cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return consort::cli::RunCli(args);
}
