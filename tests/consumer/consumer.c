#include <dapper_ipc.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    dapper_ipc_manager m;
    if (dapper_ipc_manager_create(&m) != DAPPER_IPC_OK)
        return 1;
    int ok = strcmp(dapper_ipc_version(), DAPPER_IPC_VERSION_STRING) == 0;
    dapper_ipc_manager_destroy(m);
    printf("consumer: library %s, header %s\n", dapper_ipc_version(), DAPPER_IPC_VERSION_STRING);
    return ok ? 0 : 1;
}
