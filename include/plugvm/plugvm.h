/* SPDX-License-Identifier: Apache-2.0 */
/* Everything a plugin includes: the descriptor, host services, settings,
 * records, and the backend and device ops. */
#ifndef PLUGVM_PLUGVM_H
#define PLUGVM_PLUGVM_H
#include <plugvm/plugin.h>
#include <plugvm/log.h>
#include <plugvm/settings.h>
#include <plugvm/record.h>
#include <plugvm/host.h>
#include <plugvm/backend.h>
#include <plugvm/device.h>
#endif
