/*
 * Shared by the C files of Native/. In the AOT library these functions are linked in and
 * called by the managed code next to them, so they stay hidden (the library's
 * only exports are the dapper_ipc_* functions of include/dapper_ipc.h). A JIT
 * build (the managed tests) links the same files into libdapper_ipc_shim and
 * defines DAPPER_IPC_SHIM_SHARED, so the runtime can find them there.
 */
#ifndef DAPPER_IPC_SHIM_H
#define DAPPER_IPC_SHIM_H

#ifdef DAPPER_IPC_SHIM_SHARED
#define DAPPER_IPC_SHIM_API __attribute__((visibility("default")))
#else
#define DAPPER_IPC_SHIM_API __attribute__((visibility("hidden")))
#endif

#endif
