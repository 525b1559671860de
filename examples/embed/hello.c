/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Boots plugvm's hello guest from a program of its own, through
 * libplugvm (plugvm/vm.h), field by field: no config file. The guest's
 * console is this program's stdout; the guest prints a line and resets.
 *
 *   embed-hello [KERNEL]     (default: hello.elf, from plugvm's images)
 *
 * Exit status: the VM's (0 after the guest reset), or 1 with the
 * library's message when something was refused.
 */
#include <stdio.h>
#include <unistd.h>

#include <plugvm/vm.h>

int main(int argc, char **argv)
{
    const char *kernel = argc > 1 ? argv[1] : "hello.elf";
    struct plugvm_vm *vm = NULL;
    struct plugvm_error err;
    int status;

    printf("libplugvm %s\n", plugvm_version());
    fflush(stdout);
    if (plugvm_vm_new(&vm, &err) || plugvm_vm_set_memory_mib(vm, 32, &err) ||
        plugvm_vm_set_kernel(vm, kernel, &err) ||
        plugvm_vm_set_console(vm, -1, STDOUT_FILENO, 0, &err) || plugvm_vm_start(vm, &err) ||
        plugvm_vm_wait(vm, 30000, &status, &err)) {
        fprintf(stderr, "embed-hello: %s (error %d)\n", err.message, err.code);
        plugvm_vm_free(vm);
        return 1;
    }
    printf("the VM ended: status %d, reason %d\n", status, (int)plugvm_vm_stop_reason(vm));
    plugvm_vm_free(vm);
    return status;
}
