/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The functions of QEMU's TCG plugin API (version 1, QEMU 7.2) that
 * tcg_prof_plugin.c calls; the plugin id is a uint64_t.
 */
#ifndef TCG_PROF_QEMU_PLUGIN_V1_H
#define TCG_PROF_QEMU_PLUGIN_V1_H

#include <stddef.h>
#include <stdint.h>

struct qemu_plugin_tb;
struct qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(uint64_t id,
	void (*cb)(uint64_t id, struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
	enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(uint64_t id,
	void (*cb)(uint64_t id, void *userdata), void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

#endif /* TCG_PROF_QEMU_PLUGIN_V1_H */
