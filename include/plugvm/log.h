/* SPDX-License-Identifier: Apache-2.0 */
/* Log levels shared by the core, backends and devices. */
#ifndef PLUGVM_LOG_H
#define PLUGVM_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/* Severity of a log line. The core prints ERROR and WARN always, INFO with
 * --verbose, DEBUG with -vv. Lines go to stderr, prefixed with the source
 * (plugin name and instance). */
enum plugvm_log_level {
    PLUGVM_LOG_ERROR = 0,
    PLUGVM_LOG_WARN = 1,
    PLUGVM_LOG_INFO = 2,
    PLUGVM_LOG_DEBUG = 3,
};

#ifdef __cplusplus
}
#endif

#endif
