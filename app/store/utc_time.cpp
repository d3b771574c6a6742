#include "store/utc_time.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

namespace tokamak {
namespace {

using std::chrono::system_clock;

std::string format_utc(system_clock::time_point t, const char* format) {
  const std::time_t secs = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

}  // namespace

std::string utc_timestamp_now() { return format_utc(system_clock::now(), "%Y-%m-%dT%H:%M:%SZ"); }

std::string utc_timestamp_ms_now() {
  const auto now = system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{}.{:03d}Z", format_utc(now, "%Y-%m-%dT%H:%M:%S"), ms);
}

std::string utc_stamp_now() { return format_utc(system_clock::now(), "%Y%m%dT%H%M%SZ"); }

}  // namespace tokamak
