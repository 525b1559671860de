/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libplugvm's VM handle (include/plugvm/vm.h), shared by its two files:
 * lifecycle.c (new, start, wait, stop, pause, snapshot, free) and
 * settings.c (the setters, before start).
 */
#ifndef PLUGVM_CORE_LIB_HANDLE_H
#define PLUGVM_CORE_LIB_HANDLE_H

#include <pthread.h>
#include <stdbool.h>

#include <plugvm/vm.h>

#include "config/config.h"
#include "loader/loader.h"
#include "vm/vm.h"

enum handle_state { HANDLE_NEW, HANDLE_RUNNING, HANDLE_ENDED };

struct plugvm_vm {
    /* One caller at a time per VM (vm.h): serializes what changes `state`
     * and the calls that need the VM running. plugvm_vm_stop and the event
     * fd take it only briefly, so they work while another thread waits. */
    pthread_mutex_t lock;
    enum handle_state state;
    struct vm_config cfg;
    bool has_cfg;       /* cfg to be freed (config_load frees its own failures) */
    char *dir;          /* where relative names in cfg resolve */
    bool changed;       /* a setter ran: cfg is checked again at start */
    char *restore_dir;  /* plugvm_vm_new_from_snapshot's folder */
    char *api_path;
    int console_in, console_out;
    bool console_terminal;
    struct plugin_set *plugins;
    /* The VM while HANDLE_RUNNING. Freed under stop_lock too, which
     * plugvm_vm_stop takes instead of `lock`. */
    pthread_mutex_t stop_lock;
    struct vm *vm;
    int stop_fd;        /* the eventfd the VM signals its stop on (vm_options);
                         * plugvm_vm_event_fd's once started */
    int status;         /* after HANDLE_ENDED */
    enum vm_stop why;
};

/* plugvm_vm_stop with the core's reason `why`: the CLI's SIGINT, SIGTERM
 * and --timeout keep their exit statuses and words (core/vm/run.c). */
int handle_stop_for(struct plugvm_vm *vm, enum vm_stop why, struct plugvm_error *err);

/* Fills err (may be NULL) with code and a formatted message; returns code. */
int handle_fail(struct plugvm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
