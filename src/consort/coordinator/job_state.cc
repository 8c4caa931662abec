#include "consort/coordinator/job_state.h"

namespace consort::coordinator {

std::string JobStateName(JobState s) {
  switch (s) {
    case JobState::kProposed: return "proposed";
    case JobState::kApproved: return "approved";
    case JobState::kScheduled: return "scheduled";
    case JobState::kRunning: return "running";
    case JobState::kSucceeded: return "succeeded";
    case JobState::kFailed: return "failed";
    case JobState::kRejected: return "rejected";
    case JobState::kCancelled: return "cancelled";
  }
  return "unknown";
}

StatusOr<JobState> ParseJobState(const std::string& name) {
  for (JobState s : {JobState::kProposed, JobState::kApproved, JobState::kScheduled,
                     JobState::kRunning, JobState::kSucceeded, JobState::kFailed,
                     JobState::kRejected, JobState::kCancelled}) {
    if (JobStateName(s) == name) return s;
  }
  return absl::InvalidArgumentError("unknown job state '" + name + "'");
}

bool IsTerminal(JobState s) {
  return s == JobState::kSucceeded || s == JobState::kFailed || s == JobState::kRejected ||
         s == JobState::kCancelled;
}

Status CheckTransition(JobState from, JobState to) {
  bool ok = false;
  if (!IsTerminal(from)) {
    switch (to) {
      case JobState::kApproved: ok = from == JobState::kProposed; break;
      case JobState::kRejected: ok = from == JobState::kProposed; break;
      case JobState::kScheduled: ok = from == JobState::kApproved; break;
      case JobState::kRunning: ok = from == JobState::kScheduled; break;
      case JobState::kSucceeded: ok = from == JobState::kRunning; break;
      case JobState::kFailed: ok = from != JobState::kProposed; break;
      case JobState::kCancelled: ok = true; break;
      case JobState::kProposed: ok = false; break;
    }
  }
  if (ok) return OkStatus();
  return absl::FailedPreconditionError("job cannot go from " + JobStateName(from) + " to " +
                                       JobStateName(to));
}

}  // namespace consort::coordinator
