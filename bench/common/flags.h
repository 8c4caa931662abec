#pragma once
// Command-line helpers shared by the benchmarks: "--key=value" arguments and comma lists. Each
// benchmark keeps its own flags, checks and usage text.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace consort::bench {

struct FlagArg {
  std::string key, value;
};

// argv[1..] as --key=value pairs, in order; a key listed in `bare` may also stand alone
// ("--keep-files", value ""). Calls bad(arg), which must not return, for any other argument.
std::vector<FlagArg> SplitFlags(int argc, char** argv,
                                const std::function<void(const std::string& arg)>& bad,
                                const std::vector<std::string>& bare = {});

// True when an argument is --help or -h.
bool WantsHelp(int argc, char** argv);

// Prints `usage` ("usage: ...") and exits: with an empty `why` (--help) on stdout, status 0;
// otherwise after "error: <why>" on stderr, status 2.
[[noreturn]] void ExitWithUsage(std::string_view usage, std::string_view why);

// "a,b,c" -> {"a", "b", "c"} (std::getline on ','; "" -> {}).
std::vector<std::string> SplitList(const std::string& s);

// "16,20" -> {16, 20} (std::atoi each); calls bad(), which must not return, for a number
// outside [lo, hi].
std::vector<int> IntList(const std::string& s, int lo, int hi, const std::function<void()>& bad);

}  // namespace consort::bench
