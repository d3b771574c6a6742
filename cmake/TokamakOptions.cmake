# Build options shared by every target.
include(CheckLanguage)

option(TOKAMAK_BUILD_TESTS "Build the test suite" ON)
option(TOKAMAK_FUZZ "Build libFuzzer targets (needs clang)" OFF)
option(TOKAMAK_SANITIZE "Build with AddressSanitizer and UBSan" OFF)
set(TOKAMAK_SIMD "x86-64-v3" CACHE STRING "CPU baseline: x86-64-v3 (AVX2+FMA+F16C), native, or generic")

# CUDA: on when nvcc is found, unless turned off.
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  option(TOKAMAK_CUDA "Build the CUDA backend" ON)
else()
  option(TOKAMAK_CUDA "Build the CUDA backend" OFF)
endif()

# The desktop app: on when Qt 6 is found.
find_package(Qt6 6.4 QUIET COMPONENTS Quick QuickControls2)
if(Qt6_FOUND)
  option(TOKAMAK_BUILD_APP "Build the Qt desktop app" ON)
else()
  option(TOKAMAK_BUILD_APP "Build the Qt desktop app" OFF)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

add_library(tokamak_flags INTERFACE)
target_compile_options(tokamak_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>)
if(TOKAMAK_SIMD STREQUAL "native")
  target_compile_options(tokamak_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
elseif(TOKAMAK_SIMD STREQUAL "x86-64-v3")
  target_compile_options(tokamak_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=x86-64-v3>)
endif()
if(TOKAMAK_SANITIZE)
  target_compile_options(tokamak_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(tokamak_flags INTERFACE -fsanitize=address,undefined)
endif()
