#include "consort/fl/internal/checkpoint.h"

#include <cmath>
#include <filesystem>

#include "consort/common/files.h"

namespace consort::fl::internal {
namespace {

constexpr char kPrefix[] = "fl-hetero-lr-";

std::string PathFor(const std::string& dir, int epochs_done) {
  return dir + "/" + kPrefix + std::to_string(epochs_done) + ".json";
}

bool FiniteVector(const Json& j, std::vector<double>* out) {
  if (!j.is_array()) return false;
  out->clear();
  for (const Json& v : j) {
    if (!v.is_number() || !std::isfinite(v.get<double>())) return false;
    out->push_back(v.get<double>());
  }
  return true;
}

}  // namespace

std::vector<int> ListCheckpoints(const std::string& dir, const std::string& digest) {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || name.size() <= sizeof(kPrefix) + 4) continue;
    const std::string num = name.substr(sizeof(kPrefix) - 1, name.size() - (sizeof(kPrefix) - 1) - 5);
    if (num.empty() || num.size() > 6 || num.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const int e = std::stoi(num);
    if (LoadCheckpoint(dir, digest, e).ok()) out.push_back(e);
  }
  std::sort(out.begin(), out.end());
  return out;
}

StatusOr<LrCheckpoint> LoadCheckpoint(const std::string& dir, const std::string& digest,
                                      int epochs_done) {
  CONSORT_ASSIGN_OR_RETURN(std::string text, ReadFile(PathFor(dir, epochs_done)));
  auto j = ParseJson(text, "checkpoint");
  if (!j.ok() || !j->is_object()) return absl::InvalidArgumentError("checkpoint: malformed");
  LrCheckpoint c;
  if (j->value("digest", "") != digest) return absl::InvalidArgumentError("checkpoint: digest");
  if (!j->contains("epochs_done") || !(*j)["epochs_done"].is_number_integer() ||
      (*j)["epochs_done"].get<int>() != epochs_done || !j->contains("w") ||
      !FiniteVector((*j)["w"], &c.w) || !j->contains("best_w") ||
      !FiniteVector((*j)["best_w"], &c.best_w) || !j->contains("monitored_loss") ||
      !FiniteVector((*j)["monitored_loss"], &c.monitored_loss) || !j->contains("stop")) {
    return absl::InvalidArgumentError("checkpoint: malformed");
  }
  c.epochs_done = epochs_done;
  c.stop = (*j)["stop"];
  return c;
}

Status SaveCheckpoint(const std::string& dir, const std::string& digest, const LrCheckpoint& c) {
  const Json j = {{"digest", digest},         {"epochs_done", c.epochs_done}, {"w", c.w},
                  {"best_w", c.best_w},       {"stop", c.stop},
                  {"monitored_loss", c.monitored_loss}};
  CONSORT_RETURN_IF_ERROR(WriteFileAtomic(PathFor(dir, c.epochs_done), j.dump(), 0600));
  for (int e : ListCheckpoints(dir, digest)) {
    if (e < c.epochs_done - 1) {
      std::error_code ec;
      std::filesystem::remove(PathFor(dir, e), ec);
    }
  }
  return OkStatus();
}

}  // namespace consort::fl::internal
