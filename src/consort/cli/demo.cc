#include <iostream>

#include "consort/cli/cli.h"

namespace consort::cli {
int RunDemo(const std::vector<std::string>& args) {
  std::cerr << "demo: not yet" << std::endl;
  return 1;
}
}  // namespace consort::cli
