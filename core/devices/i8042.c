/* SPDX-License-Identifier: Apache-2.0 */
#include "i8042.h"

#include <string.h>

#define I8042_DATA 0x60
#define I8042_CMD 0x64
#define STATUS_OBF 0x01  /* output buffer full */
#define STATUS_SYS 0x04  /* system flag: POST passed */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_AUX_TEST 0xa9
#define CMD_RESET 0xfe

static void put_out(struct i8042 *k, uint8_t v)
{
    k->out = v;
    k->out_full = true;
}

static void data_read(void *opaque, uint16_t port, uint8_t *data, uint8_t size)
{
    (void)port;
    struct i8042 *k = opaque;
    pthread_mutex_lock(&k->lock);
    memset(data, 0, size);
    data[0] = k->out;
    k->out_full = false;
    pthread_mutex_unlock(&k->lock);
}

static void data_write(void *opaque, uint16_t port, const uint8_t *data, uint8_t size)
{
    (void)port;
    (void)size;
    struct i8042 *k = opaque;
    pthread_mutex_lock(&k->lock);
    if (k->pending_cmd == CMD_WRITE_CTR)
        k->ctr = data[0];
    k->pending_cmd = 0;
    pthread_mutex_unlock(&k->lock);
}

static void cmd_read(void *opaque, uint16_t port, uint8_t *data, uint8_t size)
{
    (void)port;
    struct i8042 *k = opaque;
    pthread_mutex_lock(&k->lock);
    memset(data, 0, size);
    data[0] = STATUS_SYS | (k->out_full ? STATUS_OBF : 0);
    pthread_mutex_unlock(&k->lock);
}

static void cmd_write(void *opaque, uint16_t port, const uint8_t *data, uint8_t size)
{
    (void)port;
    (void)size;
    struct i8042 *k = opaque;
    bool reset = false;
    pthread_mutex_lock(&k->lock);
    switch (data[0]) {
    case CMD_READ_CTR: put_out(k, k->ctr); break;
    case CMD_WRITE_CTR: k->pending_cmd = CMD_WRITE_CTR; break;
    case CMD_SELF_TEST: put_out(k, 0x55); break;
    case CMD_KBD_TEST:
    case CMD_AUX_TEST: put_out(k, 0x00); break;
    case CMD_RESET: reset = true; break;
    }
    pthread_mutex_unlock(&k->lock);
    if (reset && k->reset)
        k->reset(k->reset_arg);
}

void i8042_init(struct i8042 *k, void (*reset)(void *), void *arg)
{
    memset(k, 0, sizeof(*k));
    pthread_mutex_init(&k->lock, NULL);
    k->reset = reset;
    k->reset_arg = arg;
    k->ctr = 0x30; /* keyboard and aux clocks disabled, no interrupts */
}

struct io_device i8042_data_device(struct i8042 *k)
{
    return (struct io_device){.name = "i8042 data", .base = I8042_DATA, .len = 1,
                              .read = data_read, .write = data_write, .opaque = k};
}

struct io_device i8042_cmd_device(struct i8042 *k)
{
    return (struct io_device){.name = "i8042 command", .base = I8042_CMD, .len = 1,
                              .read = cmd_read, .write = cmd_write, .opaque = k};
}
