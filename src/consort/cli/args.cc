#include "consort/cli/args.h"

#include <sstream>

namespace consort::cli {

StatusOr<Args> Args::Parse(const CommandSpec& spec, const std::vector<std::string>& argv) {
  Args a;
  std::map<std::string, const FlagSpec*> flags;
  for (const auto& f : spec.flags) flags[f.name] = &f;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (arg == "-o") arg = "--output";
    if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
      std::string name = arg.substr(2), value;
      bool inline_value = false;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      auto it = flags.find(name);
      if (it == flags.end()) {
        return absl::InvalidArgumentError("unknown flag --" + name + " for `consort " + spec.path +
                                          "` (see --help)");
      }
      if (it->second->boolean) {
        a.values_[name] = inline_value ? value : "true";
        continue;
      }
      if (!inline_value) {
        if (i + 1 >= argv.size()) return absl::InvalidArgumentError("--" + name + " needs a value");
        value = argv[++i];
      }
      a.values_[name] = value;
    } else {
      a.positional_.push_back(arg);
    }
  }
  if (a.positional_.size() < spec.min_positional || a.positional_.size() > spec.max_positional) {
    return absl::InvalidArgumentError("usage: consort " + spec.path + " " + spec.usage);
  }
  if (a.Has("output") && a.Get("output") != "json" && a.Get("output") != "text") {
    return absl::InvalidArgumentError("-o/--output must be json or text");
  }
  return a;
}

std::string Args::Get(const std::string& flag, const std::string& def) const {
  auto it = values_.find(flag);
  return it == values_.end() ? def : it->second;
}

StatusOr<std::string> Args::Require(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end() || it->second.empty()) {
    return absl::InvalidArgumentError("--" + flag + " is required");
  }
  return it->second;
}

std::string HelpText(const CommandSpec& spec) {
  std::ostringstream out;
  out << "usage: consort " << spec.path << (spec.usage.empty() ? "" : " " + spec.usage) << "\n\n"
      << spec.summary << "\n";
  if (!spec.details.empty()) out << "\n" << spec.details << "\n";
  if (!spec.flags.empty()) {
    out << "\nflags:\n";
    for (const auto& f : spec.flags) {
      std::string left = "  --" + f.name + (f.boolean ? "" : " VALUE");
      out << left << std::string(left.size() < 26 ? 26 - left.size() : 1, ' ') << f.help << "\n";
    }
  }
  return out.str();
}

std::vector<std::string> SplitList(const std::string& csv) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : csv) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace consort::cli
