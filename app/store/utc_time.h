// The current time in UTC as the store writes it.
#pragma once

#include <string>

namespace tokamak {

// ISO 8601 ("2026-11-21T10:19:19Z"): benchmark sessions, prompt versions.
std::string utc_timestamp_now();
// ISO 8601 with milliseconds ("2026-11-21T10:19:19.123Z"): conversations
// and messages, whose order within a second matters.
std::string utc_timestamp_ms_now();
// Compact, for file names ("20261121T101919Z").
std::string utc_stamp_now();

}  // namespace tokamak
