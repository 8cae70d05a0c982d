// SPDX-License-Identifier: GPL-2.0
/*
 * A QEMU TCG plugin counting the guest instructions executed per
 * translation block in kernel space, for tcg-prof.sh: TCG has no PMU to
 * sample, but every block it runs passes through code it generated, so
 * an inline add per block counts exactly.  Output (plugin argument
 * out=<file>, written at exit): "<vaddr hex> <insns> <executions>" per
 * translated block; a block translated again gets a line of its own.
 *
 * Built against the QEMU 7.2 plugin ABI (API version 1), whose few
 * functions used here are declared in qemu_plugin_v1.h: Debian ships
 * the plugin loader in qemu-system-x86 but not qemu-plugin.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_plugin_v1.h"

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define KERNEL_START	0xffff800000000000ULL

struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t count;		/* racy adds from two vCPUs: a profile */
	struct block *next;
};

static struct block *blocks;
static char *out_path;

/* Translation: called under QEMU's translation lock, one at a time. */
static void tb_trans(uint64_t id, struct qemu_plugin_tb *tb)
{
	uint64_t va = qemu_plugin_tb_vaddr(tb);
	struct block *b;

	if (va < KERNEL_START)
		return;
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->vaddr = va;
	b->insns = qemu_plugin_tb_n_insns(tb);
	b->next = blocks;
	blocks = b;
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &b->count, 1);
}

static void at_exit(uint64_t id, void *unused)
{
	FILE *f = fopen(out_path, "w");
	struct block *b;

	if (!f)
		return;
	for (b = blocks; b; b = b->next)
		if (b->count)
			fprintf(f, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
				b->vaddr, b->insns, b->count);
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(uint64_t id, const struct qemu_info_t *info,
			int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out_path = strdup(argv[i] + 4);
	if (!out_path)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
	qemu_plugin_register_atexit_cb(id, at_exit, NULL);
	return 0;
}
