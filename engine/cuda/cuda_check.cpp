#include "cuda/cuda_check.h"

#include <string>

namespace tokamak::cuda {

Error cuda_error(cudaError_t code, const char* call, const char* file, int line) {
  std::string where = file;
  if (const size_t at = where.rfind("engine/"); at != std::string::npos) where = where.substr(at);
  return make_error(ErrorCode::DeviceFault,
                    std::string(call) + " failed at " + where + ":" + std::to_string(line) + ": " +
                        cudaGetErrorString(code) + " (" + cudaGetErrorName(code) + ")");
}

}  // namespace tokamak::cuda
