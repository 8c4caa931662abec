#pragma once
// Per-epoch training checkpoints in a party's job scratch directory (engine::Session::
// ScratchDir), so that a retried job resumes where every party got to. One JSON file per
// completed epoch, the last two kept (parties can be one epoch apart when a job dies);
// `digest` binds a file to the party's role, data shape, parameters and options.
// The files hold this party's weights: they stay in its private scratch directory.

#include <string>
#include <vector>

#include "consort/common/json.h"
#include "consort/common/status.h"

namespace consort::fl::internal {

struct LrCheckpoint {
  int epochs_done = 0;
  std::vector<double> w, best_w;
  Json stop = Json::object();  // StopRule::State()
  std::vector<double> monitored_loss;
};

// Completed-epoch counts of the readable checkpoints in `dir` with this digest (ascending).
std::vector<int> ListCheckpoints(const std::string& dir, const std::string& digest);
// NotFound if absent; InvalidArgument if malformed or for another digest.
StatusOr<LrCheckpoint> LoadCheckpoint(const std::string& dir, const std::string& digest,
                                      int epochs_done);
// Writes the checkpoint atomically, then removes those older than the previous epoch.
Status SaveCheckpoint(const std::string& dir, const std::string& digest, const LrCheckpoint& c);

}  // namespace consort::fl::internal
