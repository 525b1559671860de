/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plugin ABI as abigail sees it. Plugins link nothing of plugvm's, so
 * the ABI is the layout of the types in include/plugvm/, not a library's
 * symbols: this shared object exports one function per public type,
 * taking it, so that `abidw` records every struct, member offset, enum
 * value and function-pointer signature reachable from them. abi.plugin
 * (tests/abi/check.sh) compares what this build gives with the record
 * kept in tests/abi/plugin-abi.xml (docs/ABI.md).
 */
#include <plugvm/backend.h>
#include <plugvm/device.h>
#include <plugvm/host.h>
#include <plugvm/log.h>
#include <plugvm/plugin.h>
#include <plugvm/plugvm.h>
#include <plugvm/record.h>
#include <plugvm/settings.h>

#define PROBE(name, type)                                                                         \
    PLUGVM_EXPORT void plugvm_abi_##name(const type *p);                                           \
    PLUGVM_EXPORT void plugvm_abi_##name(const type *p) { (void)p; }

PROBE(plugin, struct plugvm_plugin)
PROBE(plugin_kind, enum plugvm_plugin_kind)
PROBE(log_level, enum plugvm_log_level)
PROBE(host, struct plugvm_host)
PROBE(chain, struct plugvm_chain)
PROBE(iov, struct plugvm_iov)
PROBE(device_info, struct plugvm_device_info)
PROBE(device_ops, struct plugvm_device_ops)
PROBE(backend_ops, struct plugvm_backend_ops)
PROBE(cpuid_mask, struct plugvm_cpuid_mask)
PROBE(mem_region, struct plugvm_mem_region)
PROBE(vm_params, struct plugvm_vm_params)
PROBE(x86_regs, struct plugvm_x86_regs)
PROBE(exit, struct plugvm_exit)
PROBE(exit_reason, enum plugvm_exit_reason)
PROBE(record_writer, struct plugvm_record_writer)
PROBE(record_reader, struct plugvm_record_reader)
PROBE(setting_spec, struct plugvm_setting_spec)
PROBE(setting_type, enum plugvm_setting_type)
PROBE(settings, struct plugvm_settings)
