#include "bench/common/flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace consort::bench {

std::vector<FlagArg> SplitFlags(int argc, char** argv,
                                const std::function<void(const std::string& arg)>& bad,
                                const std::vector<std::string>& bare) {
  std::vector<FlagArg> out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq == std::string::npos &&
        std::find(bare.begin(), bare.end(), a.substr(2)) != bare.end()) {
      out.push_back({a.substr(2), ""});
      continue;
    }
    if (a.rfind("--", 0) != 0 || eq == std::string::npos) {
      bad(a);
      std::abort();  // bad() must not return
    }
    out.push_back({a.substr(2, eq - 2), a.substr(eq + 1)});
  }
  return out;
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

void ExitWithUsage(std::string_view usage, std::string_view why) {
  if (why.empty()) {
    std::printf("%.*s\n", static_cast<int>(usage.size()), usage.data());
    std::exit(0);
  }
  std::fprintf(stderr, "error: %.*s\n%.*s\n", static_cast<int>(why.size()), why.data(),
               static_cast<int>(usage.size()), usage.data());
  std::exit(2);
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) out.push_back(t);
  return out;
}

std::vector<int> IntList(const std::string& s, int lo, int hi, const std::function<void()>& bad) {
  std::vector<int> out;
  for (const std::string& t : SplitList(s)) {
    const int k = std::atoi(t.c_str());
    if (k < lo || k > hi) {
      bad();
      std::abort();  // bad() must not return
    }
    out.push_back(k);
  }
  return out;
}

}  // namespace consort::bench
