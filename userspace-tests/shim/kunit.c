// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace KUnit runner: runs every registered suite, printing KTAP in
 * the kernel's layout, and exits non-zero if any case failed.  A case
 * that triggers WARN_ON() fails, as a splat fails the kernel tier.
 * Usage: prog [suite-name-substring]
 */
#include <kunit/test.h>

struct kunit_resource_node {
	struct kunit_resource_node *next;
	void *ptr;
};

static struct kunit_suite *suites[64];
static int nr_suites;

void shim_kunit_register(struct kunit_suite **s, int n)
{
	while (n--) {
		assert(nr_suites < (int)ARRAY_SIZE(suites));
		suites[nr_suites++] = *s++;
	}
}

void *kunit_kmalloc(struct kunit *test, size_t size, gfp_t gfp)
{
	struct kunit_resource_node *r = malloc(sizeof(*r));
	void *p = shim_alloc(size, gfp);

	if (!r || !p) {
		free(r);
		free(p);
		return NULL;
	}
	r->ptr = p;
	r->next = test->resources;
	test->resources = r;
	return p;
}

void shim_kunit_fail(struct kunit *test, const char *file, int line,
		     const char *fmt, ...)
{
	va_list ap;

	test->status = KUNIT_FAILURE;
	printf("    # %s: EXPECTATION FAILED at %s:%d\n        ", test->name, file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void shim_kunit_abort(struct kunit *test)
{
	longjmp(test->abort, 1);
}

static void free_resources(struct kunit *test)
{
	while (test->resources) {
		struct kunit_resource_node *r = test->resources;

		test->resources = r->next;
		free(r->ptr);
		free(r);
	}
}

static void run_case(struct kunit_suite *suite, struct kunit_case *c,
		     struct kunit *test)
{
	int warnings = __atomic_load_n(&shim_warnings, __ATOMIC_RELAXED);

	if (!setjmp(test->abort)) {
		if (suite->init && suite->init(test))
			KUNIT_FAIL(test, "init failed");
		else
			c->run_case(test);
	} else if (shim_sections_held() || shim_pins) {
		/* In the kernel: lockdep's "still has locks held", a CPU pinned. */
		KUNIT_FAIL(test, "case ended holding %u sections, %d migrate_disable()",
			   shim_sections_held(), shim_pins);
	}
	if (suite->exit && !setjmp(test->abort))
		suite->exit(test);
	if (shim_sections_held() || shim_pins) {
		KUNIT_FAIL(test, "case and exit left %u sections, %d migrate_disable()",
			   shim_sections_held(), shim_pins);
		shim_sections_forget();
	}
	free_resources(test);
	if (__atomic_load_n(&shim_warnings, __ATOMIC_RELAXED) != warnings)
		KUNIT_FAIL(test, "WARN_ON fired during the test");
}

static const char *const status_word[] = { "ok", "not ok", "ok" };

/* Returns 0 if no case failed. */
static int run_suite(struct kunit_suite *suite, int index, int *pass, int *fail, int *skip)
{
	struct kunit_case *c;
	int n = 0, i = 0, failed = 0;

	for (c = suite->test_cases; c->run_case; c++)
		n++;
	printf("    KTAP version 1\n    # Subtest: %s\n    1..%d\n", suite->name, n);
	if (suite->suite_init && suite->suite_init(suite)) {
		printf("not ok %d %s # suite_init failed\n", index, suite->name);
		*fail += 1;
		return 1;
	}
	for (c = suite->test_cases; c->run_case; c++) {
		struct kunit test = { .name = c->name };

		run_case(suite, c, &test);
		printf("    %s %d %s%s%s\n", status_word[test.status], ++i, c->name,
		       test.status == KUNIT_SKIPPED ? " # SKIP " : "",
		       test.status == KUNIT_SKIPPED ? test.status_comment : "");
		fflush(stdout);
		*pass += test.status == KUNIT_SUCCESS;
		*fail += test.status == KUNIT_FAILURE;
		*skip += test.status == KUNIT_SKIPPED;
		failed |= test.status == KUNIT_FAILURE;
	}
	if (suite->suite_exit)
		suite->suite_exit(suite);
	printf("%s %d %s\n", failed ? "not ok" : "ok", index, suite->name);
	return failed;
}

void rcu_barrier(void);

int main(int argc, char **argv)
{
	int i, pass = 0, fail = 0, skip = 0, n = 0, index = 0;

	for (i = 0; i < nr_suites; i++)
		n += argc < 2 || strstr(suites[i]->name, argv[1]);
	printf("KTAP version 1\n1..%d\n", n);
	for (i = 0; i < nr_suites; i++)
		if (argc < 2 || strstr(suites[i]->name, argv[1]))
			run_suite(suites[i], ++index, &pass, &fail, &skip);
	rcu_barrier();
	printf("# totals: pass:%d fail:%d skip:%d\n", pass, fail, skip);
	return fail || !n ? 1 : 0;
}
