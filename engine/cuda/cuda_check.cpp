#include "cuda/cuda_check.h"

#include <string>

namespace tokamak::cuda {
namespace {

std::string short_path(const char* file) {
  std::string where = file;
  if (const size_t at = where.rfind("engine/"); at != std::string::npos) where = where.substr(at);
  return where;
}

}  // namespace

Error cuda_error(cudaError_t code, const char* call, const char* file, int line) {
  const std::string where = short_path(file);
  return make_error(ErrorCode::DeviceFault,
                    std::string(call) + " failed at " + where + ":" + std::to_string(line) + ": " +
                        cudaGetErrorString(code) + " (" + cudaGetErrorName(code) + ")");
}

Error cublas_error(cublasStatus_t code, const char* call, const char* file, int line) {
  return make_error(ErrorCode::DeviceFault, std::string(call) + " failed at " + short_path(file) +
                                                ":" + std::to_string(line) + ": " +
                                                cublasGetStatusString(code) + " (" +
                                                cublasGetStatusName(code) + ")");
}

}  // namespace tokamak::cuda
