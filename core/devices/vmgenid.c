/* SPDX-License-Identifier: Apache-2.0 */
#include "vmgenid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int vmgenid_renew(const struct guest_mem *m, uint64_t gpa, uint8_t id[VMGENID_SIZE])
{
    uint8_t *p = guest_mem_ptr(m, gpa, VMGENID_SIZE);
    if (!p)
        return -EFAULT;
    uint8_t fresh[VMGENID_SIZE];
    /* Up to 256 bytes never come back short once the host's pool is
     * ready (random(7)); filled first so that a failure leaves the old ID. */
    if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh))
        return errno ? -errno : -EIO;
    memcpy(p, fresh, sizeof(fresh));
    if (id)
        memcpy(id, fresh, sizeof(fresh));
    return 0;
}

int vmgenid_notify(const struct plugvm_backend_ops *be, struct plugvm_vm *bvm, uint32_t gsi)
{
    int rc = be->irq_line(bvm, gsi, 1);
    if (rc)
        return rc;
    return be->irq_line(bvm, gsi, 0);
}
