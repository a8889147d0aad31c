# The .NET runtime identifier of the machine CMake targets: Native AOT builds for the
# OS it runs on, so the default is the host's.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(_dapper_arch x64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(_dapper_arch arm64)
else()
  message(FATAL_ERROR "libdapper_ipc: unsupported processor ${CMAKE_SYSTEM_PROCESSOR}; set DAPPER_IPC_RID")
endif()

if(WIN32)
  set(DAPPER_IPC_DEFAULT_RID "win-${_dapper_arch}")
elseif(APPLE)
  set(DAPPER_IPC_DEFAULT_RID "osx-${_dapper_arch}")
else()
  set(DAPPER_IPC_DEFAULT_RID "linux-${_dapper_arch}")
endif()
