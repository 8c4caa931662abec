#pragma once
// A small, strict command-line parser: positional arguments plus "--flag value",
// "--flag=value", boolean "--flag" and "-o json". Unknown flags are errors that name the flag.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "consort/common/status.h"

namespace consort::cli {

struct FlagSpec {
  std::string name;  // without dashes
  std::string help;
  bool boolean = false;
};

struct CommandSpec {
  std::string path;       // "job submit"
  std::string usage;      // "SPEC.json"
  std::string summary;    // one line
  std::string details;    // paragraphs for --help
  std::vector<FlagSpec> flags;
  size_t min_positional = 0;
  size_t max_positional = 0;
};

class Args {
 public:
  // InvalidArgument naming an unknown flag, a missing value or a wrong argument count.
  static StatusOr<Args> Parse(const CommandSpec& spec, const std::vector<std::string>& argv);

  bool Has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& def = "") const;
  // InvalidArgument "--flag is required".
  StatusOr<std::string> Require(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool json() const { return Get("output") == "json"; }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

std::string HelpText(const CommandSpec& spec);
std::vector<std::string> SplitList(const std::string& csv);

}  // namespace consort::cli
