#include "consort/coordinator/job_state.h"

#include <gtest/gtest.h>

namespace consort::coordinator {
namespace {

constexpr JobState kAll[] = {JobState::kProposed,  JobState::kApproved, JobState::kScheduled,
                             JobState::kRunning,   JobState::kSucceeded, JobState::kFailed,
                             JobState::kRejected,  JobState::kCancelled};

TEST(JobState, NamesRoundTrip) {
  for (JobState s : kAll) {
    auto back = ParseJobState(JobStateName(s));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(ParseJobState("done").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JobState, AllowedTransitionsAreExactlyTheLifecycle) {
  auto allowed = [](JobState f, JobState t) {
    using S = JobState;
    if (IsTerminal(f)) return false;
    switch (t) {
      case S::kApproved: case S::kRejected: return f == S::kProposed;
      case S::kScheduled: return f == S::kApproved;
      case S::kRunning: return f == S::kScheduled;
      case S::kSucceeded: return f == S::kRunning;
      case S::kFailed: return f == S::kApproved || f == S::kScheduled || f == S::kRunning;
      case S::kCancelled: return true;
      case S::kProposed: return false;
    }
    return false;
  };
  int ok = 0;
  for (JobState from : kAll) {
    for (JobState to : kAll) {
      Status st = CheckTransition(from, to);
      EXPECT_EQ(st.ok(), allowed(from, to)) << JobStateName(from) << " -> " << JobStateName(to);
      if (st.ok()) ++ok;
      else EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
    }
  }
  EXPECT_EQ(ok, 12);
}

TEST(JobState, TerminalStatesNeverChange) {
  for (JobState s : {JobState::kSucceeded, JobState::kFailed, JobState::kRejected, JobState::kCancelled}) {
    EXPECT_TRUE(IsTerminal(s));
    EXPECT_EQ(CheckTransition(s, JobState::kCancelled).code(), absl::StatusCode::kFailedPrecondition);
  }
  Status st = CheckTransition(JobState::kSucceeded, JobState::kRunning);
  EXPECT_EQ(std::string(st.message()), "job cannot go from succeeded to running");
}

}  // namespace
}  // namespace consort::coordinator
