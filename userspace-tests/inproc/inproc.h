/* SPDX-License-Identifier: GPL-2.0 */
/* What a program linked with inproc.c may ask beyond libspanheap.h. */
#ifndef _SPANHEAP_INPROC_H
#define _SPANHEAP_INPROC_H

#include <stdbool.h>

/* Fail the calling thread's @n-th allocation in the core (0: none). */
void shp_inproc_fail_nth(unsigned long n);
/* Fail the process's @n-th allocation, whichever thread makes it (0: none). */
void shp_inproc_fail_any(unsigned long n);
/* Is the process-wide failure still to come? */
bool shp_inproc_fail_pending(void);
/* chardev.c's event_queue_max parameter: the cap SET_PARAMS may ask for. */
void shp_inproc_set_event_queue_max(unsigned int max);

#endif
