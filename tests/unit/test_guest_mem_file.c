/* SPDX-License-Identifier: Apache-2.0 */
/* Guest RAM to a snapshot's memory file and back: sparse where RAM is
 * zero, mapped copy-on-write so a restored guest never writes the file,
 * a file of the wrong size refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memory/guest_mem.h"

#define RAM (8u << 20)

static void round_trip_sparse_private(void **state)
{
    (void)state;
    struct guest_mem m;
    assert_int_equal(guest_mem_init(&m, RAM), 0);
    memset(m.base + 4096, 0xab, 4096);
    memset(m.base + RAM - 10, 0xcd, 10);
    strcpy((char *)m.base + (3u << 20) + 5, "counter");
    char path[] = "/tmp/plugvm-mem-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char err[256];
    assert_int_equal(guest_mem_save(&m, fd, path, err, sizeof(err)), 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, RAM);
    assert_true((uint64_t)st.st_blocks * 512 <= 64u << 10); /* 3 pages of data, not 8 MiB */

    struct guest_mem r;
    assert_int_equal(guest_mem_init_file(&r, RAM, fd, path, err, sizeof(err)), 0);
    assert_int_equal((uintptr_t)r.base & ((2u << 20) - 1), 0);
    assert_memory_equal(r.base, m.base, RAM);
    /* The guest's writes stay private. */
    memset(r.base + 4096, 0x11, 4096);
    uint8_t page[4096];
    assert_int_equal(pread(fd, page, sizeof(page), 4096), (ssize_t)sizeof(page));
    assert_int_equal(page[0], 0xab);
    /* Two restores of one file are independent. */
    struct guest_mem r2;
    assert_int_equal(guest_mem_init_file(&r2, RAM, fd, path, err, sizeof(err)), 0);
    assert_int_equal(r2.base[4096], 0xab);
    guest_mem_fini(&r2);
    guest_mem_fini(&r);

    /* A snapshot of the restored RAM: pages the guest never touched since
     * the restore are not in memory (they are the first file's), yet must
     * be in the second file; a page written since, too. */
    struct guest_mem r3;
    assert_int_equal(guest_mem_init_file(&r3, RAM, fd, path, err, sizeof(err)), 0);
    r3.base[5u << 20] = 0x5a;
    char path2[] = "/tmp/plugvm-mem2-XXXXXX";
    int fd2 = mkstemp(path2);
    assert_true(fd2 >= 0);
    assert_int_equal(guest_mem_save(&r3, fd2, path2, err, sizeof(err)), 0);
    uint8_t *copy = malloc(RAM);
    assert_int_equal(pread(fd2, copy, RAM, 0), (ssize_t)RAM);
    assert_memory_equal(copy, r3.base, RAM);
    assert_int_equal(copy[4096], 0xab);
    assert_int_equal(copy[RAM - 1], 0xcd);
    assert_int_equal(fstat(fd2, &st), 0);
    assert_true((uint64_t)st.st_blocks * 512 <= 64u << 10);
    free(copy);
    close(fd2);
    unlink(path2);
    guest_mem_fini(&r3);

    /* The wrong size: refused, naming the file. */
    assert_int_equal(guest_mem_init_file(&r, RAM * 2, fd, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "8388608 bytes"));
    close(fd);
    unlink(path);
    guest_mem_fini(&m);
}

/* The memory file truncated under a running VM: touching a page it lost
 * ends plugvm with status 1 and a line naming the file (it died of SIGBUS
 * without a word). In a child process, as it exits. */
static void truncated_file_named_not_crash(void **state)
{
    (void)state;
    char path[] = "/tmp/plugvm-mem-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, RAM), 0);
    int out[2];
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(out[1], STDERR_FILENO);
        struct guest_mem m;
        char err[256];
        if (guest_mem_init_file(&m, RAM, fd, path, err, sizeof(err)))
            _exit(3);
        if (ftruncate(fd, 0))
            _exit(4);
        volatile uint8_t v = m.base[4096];
        (void)v;
        _exit(5); /* the page was still there: no test */
    }
    close(out[1]);
    char buf[1024] = "";
    ssize_t n = read(out[0], buf, sizeof(buf) - 1);
    close(out[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        fail_msg("killed by signal %d", WTERMSIG(st));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_true(n > 0);
    assert_non_null(strstr(buf, path));
    assert_non_null(strstr(buf, "truncated or replaced under the running VM"));
    close(fd);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_sparse_private),
        cmocka_unit_test(truncated_file_named_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
