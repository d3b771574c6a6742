#include "core/result.h"

namespace tokamak {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::Cancelled: return "cancelled";
    case ErrorCode::InvalidRequest: return "invalid request";
    case ErrorCode::ContextFull: return "context full";
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::NotFound: return "not found";
    case ErrorCode::IoError: return "I/O error";
    case ErrorCode::BadFormat: return "bad format";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::OutOfMemory: return "out of memory";
    case ErrorCode::DeviceFault: return "device fault";
    case ErrorCode::Internal: return "internal error";
  }
  return "unknown error";
}

}  // namespace tokamak
