/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal kselftest-style TAP output. */
#ifndef _SPANHEAP_TAP_H
#define _SPANHEAP_TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define tap_plan(n)	printf("TAP version 13\n1..%d\n", (n))
#define tap_ok(cond, ...) do {						\
	int __c = !!(cond);						\
	printf("%s %d - ", __c ? "ok" : "not ok", ++tap_n);		\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!__c) {							\
		tap_failed++;						\
		printf("# failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	}								\
	fflush(stdout);							\
	} while (0)
#define tap_diag(...)	do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)
#define tap_exit()	return tap_failed ? 1 : 0

#endif
