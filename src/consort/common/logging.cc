#include "consort/common/logging.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <mutex>

#include <sys/time.h>

namespace consort {
namespace {
LogLevel InitialLevel() {
  const char* env = std::getenv("CONSORT_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  if (std::strcmp(env, "debug") == 0) return LogLevel::kDebug;
  if (std::strcmp(env, "warning") == 0) return LogLevel::kWarning;
  if (std::strcmp(env, "error") == 0) return LogLevel::kError;
  return LogLevel::kInfo;
}
std::atomic<int> g_level{static_cast<int>(InitialLevel())};
std::mutex g_mu;
std::string& Component() {
  static std::string c;
  return c;
}
const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "D";
    case LogLevel::kInfo: return "I";
    case LogLevel::kWarning: return "W";
    case LogLevel::kError: return "E";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }
void SetLogComponent(const std::string& component) {
  std::lock_guard<std::mutex> lock(g_mu);
  Component() = component;
}

LogMessage::LogMessage(LogLevel level, const char* file, int line) : level_(level) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
  const char* base = std::strrchr(file, '/');
  stream_ << LevelName(level) << " " << buf << "." << (tv.tv_usec / 1000 + 1000) % 1000 << " ";
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (!Component().empty()) stream_ << "[" << Component() << "] ";
  }
  stream_ << (base ? base + 1 : file) << ":" << line << "] ";
}

LogMessage::~LogMessage() {
  stream_ << "\n";
  std::lock_guard<std::mutex> lock(g_mu);
  std::cerr << stream_.str() << std::flush;
}

}  // namespace consort
