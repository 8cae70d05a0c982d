// SPDX-License-Identifier: GPL-2.0
/*
 * Runs a fuzz target on files and directories without libFuzzer: the
 * corpus and regression replay of the gcc (coverage) build.  Prints one
 * line per input run; a failing input aborts, as under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	static uint8_t buf[1 << 20];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		perror(path);
		return 1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

static int run(const char *path, unsigned long *count)
{
	struct dirent **names;
	struct stat st;
	char sub[4096];
	int n, i, bad = 0;

	if (stat(path, &st)) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		++*count;
		return run_file(path);
	}
	n = scandir(path, &names, NULL, alphasort);	/* a stable order */
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			bad |= run(sub, count);
		}
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long count = 0;
	int i, bad = 0;

	for (i = 1; i < argc; i++)
		bad |= run(argv[i], &count);
	printf("standalone: %lu inputs run\n", count);
	return bad;
}
