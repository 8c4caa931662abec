#pragma once
// Minimal leveled logging to stderr. Never log data values, keys or tokens.
//   CONSORT_LOG(INFO) << "job " << id << " scheduled";

#include <sstream>
#include <string>

namespace consort {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Process-wide; thread-safe. Defaults to kInfo, or CONSORT_LOG_LEVEL=debug|info|warning|error.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// A short tag printed on each line (e.g. "coordinator", "node bank").
void SetLogComponent(const std::string& component);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};

}  // namespace consort

#define CONSORT_LOG_LEVEL_DEBUG ::consort::LogLevel::kDebug
#define CONSORT_LOG_LEVEL_INFO ::consort::LogLevel::kInfo
#define CONSORT_LOG_LEVEL_WARNING ::consort::LogLevel::kWarning
#define CONSORT_LOG_LEVEL_ERROR ::consort::LogLevel::kError
// A one-iteration loop rather than if/else, so that `if (x) CONSORT_LOG(INFO) << ...; else ...`
// binds as written (no dangling else).
#define CONSORT_LOG(level)                                                                 \
  for (bool _consort_log_on = CONSORT_LOG_LEVEL_##level >= ::consort::GetLogLevel();       \
       _consort_log_on; _consort_log_on = false)                                           \
  ::consort::LogMessage(CONSORT_LOG_LEVEL_##level, __FILE__, __LINE__).stream()
