#pragma once
// The job lifecycle (ARCHITECTURE.md):
//   proposed -> approved -> scheduled -> running -> succeeded | failed(reason)
//   proposed -> rejected;  any non-terminal -> cancelled;  approved|scheduled -> failed
// Terminal states never change again.

#include <string>

#include "consort/common/status.h"

namespace consort::coordinator {

enum class JobState { kProposed, kApproved, kScheduled, kRunning, kSucceeded, kFailed, kRejected, kCancelled };

std::string JobStateName(JobState s);
// InvalidArgument for an unknown name.
StatusOr<JobState> ParseJobState(const std::string& name);
bool IsTerminal(JobState s);
// FailedPrecondition naming both states if `from -> to` is not an allowed transition.
Status CheckTransition(JobState from, JobState to);

}  // namespace consort::coordinator
