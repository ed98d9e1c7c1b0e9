/* SPDX-License-Identifier: MIT */
/*
 * The agent's state directory: small JSON files, each replaced atomically
 * (temporary file, fsync, rename, fsync of the directory), secrets 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

int state_write(const char *dir, const char *name, json_t *j)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	char *txt = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!txt)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(txt);
		return -1;
	}
	size_t n = strlen(txt);
	int ok = write(fd, txt, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
	close(fd);
	free(txt);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

json_t *state_read(const char *dir, const char *name)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	if (!j && access(path, F_OK) == 0)
		fprintf(stderr, "roost-agent: %s: unreadable (%s); ignoring it\n", path, je.text);
	return j;
}
