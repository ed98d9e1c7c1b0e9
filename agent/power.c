/* SPDX-License-Identifier: MIT */
/*
 * The host's power and network as the server's deferral rules see them
 * (docs/policies.md): on battery, and on a metered network. Polled from the
 * connection's tick on the main thread; a change is sent at once as a
 * `status` message (conn.c), the current state goes with every hello.
 *
 *   on battery  some supply in ROOST_AGENT_POWER_SUPPLY_DIR (default
 *               /sys/class/power_supply) of type Battery has status
 *               Discharging, and no supply of type Mains or USB has online 1
 *   metered     ROOST_AGENT_METERED=1|0 when set; else NetworkManager's
 *               GENERAL.METERED ("yes...") of the default route's device,
 *               asked with `nmcli -t -f GENERAL.METERED dev show DEV` at most
 *               every 30 s in a child process that is never waited for on
 *               the event loop (its answer is collected by a later poll);
 *               no nmcli, no default route or no answer: not metered
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"

#define NMCLI_EVERY_MS 30000
#define NMCLI_MAX_MS 10000 /* a child slower than this is killed: not metered */

struct power {
	const char *dir;
	int64_t poll_ms, next_poll_ms;
	int on_battery, metered;
	int metered_env;           /* -1: not set, ask nmcli */
	pid_t nm_pid;              /* the nmcli child, 0 if none */
	int nm_fd;                 /* its stdout */
	int64_t nm_started_ms, nm_next_ms;
	char nm_out[256];
	size_t nm_len;
};

/* DIR/name/file's first line into buf; 0, or -1 if unreadable. */
static int read_attr(const char *dir, const char *name, const char *file, char *buf, size_t cap)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s/%s", dir, name, file);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	int ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\r\n")] = 0;
	return 0;
}

int power_read_battery(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0; /* no supplies known: a desktop or a server */
	int discharging = 0, mains = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char type[64], v[64];
		if (read_attr(dir, e->d_name, "type", type, sizeof(type)))
			continue;
		if (!strcmp(type, "Battery")) {
			if (!read_attr(dir, e->d_name, "status", v, sizeof(v)) && !strcmp(v, "Discharging"))
				discharging = 1;
		} else if (!strcmp(type, "Mains") || !strncmp(type, "USB", 3)) {
			if (!read_attr(dir, e->d_name, "online", v, sizeof(v)) && !strcmp(v, "1"))
				mains = 1;
		}
	}
	closedir(d);
	return discharging && !mains;
}

/* The interface of the default IPv4 route (/proc/net/route) into buf; 0 or -1. */
static int default_iface(char *buf, size_t cap)
{
	FILE *f = fopen("/proc/net/route", "re");
	if (!f)
		return -1;
	char line[512], ifc[64], dst[16];
	int rc = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %15s", ifc, dst) == 2 && !strcmp(dst, "00000000")) {
			snprintf(buf, cap, "%s", ifc);
			rc = 0;
			break;
		}
	fclose(f);
	return rc;
}

static void nm_spawn(struct power *p, int64_t now)
{
	char ifc[64];
	p->nm_next_ms = now + NMCLI_EVERY_MS;
	if (default_iface(ifc, sizeof(ifc))) {
		p->metered = 0;
		return;
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 2);
		}
		execlp("nmcli", "nmcli", "-t", "-f", "GENERAL.METERED", "dev", "show", ifc,
		       (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	p->nm_pid = pid;
	p->nm_fd = fds[0];
	p->nm_len = 0;
	p->nm_started_ms = now;
}

/* Collects the child's answer once it has exited; never blocks. */
static void nm_collect(struct power *p, int64_t now)
{
	ssize_t r;
	while (p->nm_len < sizeof(p->nm_out) - 1 &&
	       (r = read(p->nm_fd, p->nm_out + p->nm_len, sizeof(p->nm_out) - 1 - p->nm_len)) > 0)
		p->nm_len += (size_t)r;
	int st;
	pid_t w = waitpid(p->nm_pid, &st, WNOHANG);
	if (w == 0 && now - p->nm_started_ms < NMCLI_MAX_MS)
		return;
	if (w == 0) {
		kill(p->nm_pid, SIGKILL);
		waitpid(p->nm_pid, &st, 0);
		st = -1;
	}
	p->nm_out[p->nm_len] = 0;
	const char *v = strchr(p->nm_out, ':');
	p->metered = st == 0 && v && !strncmp(v + 1, "yes", 3);
	close(p->nm_fd);
	p->nm_pid = 0;
	p->nm_fd = -1;
}

struct power *power_new(void)
{
	struct power *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	const char *d = getenv("ROOST_AGENT_POWER_SUPPLY_DIR");
	p->dir = d && *d ? d : "/sys/class/power_supply";
	const char *ms = getenv("ROOST_AGENT_POWER_POLL_MS");
	p->poll_ms = ms && atoi(ms) >= 10 ? atoi(ms) : 2000;
	const char *m = getenv("ROOST_AGENT_METERED");
	p->metered_env = m && (!strcmp(m, "1") || !strcmp(m, "0")) ? m[0] == '1' : -1;
	p->nm_fd = -1;
	p->on_battery = power_read_battery(p->dir);
	p->metered = p->metered_env > 0;
	return p;
}

int power_poll(struct power *p, int64_t now_ms)
{
	if (p->nm_pid)
		nm_collect(p, now_ms);
	if (now_ms < p->next_poll_ms)
		return 0;
	p->next_poll_ms = now_ms + p->poll_ms;
	int b = p->on_battery, m = p->metered;
	p->on_battery = power_read_battery(p->dir);
	if (p->metered_env >= 0)
		p->metered = p->metered_env;
	else if (!p->nm_pid && now_ms >= p->nm_next_ms)
		nm_spawn(p, now_ms);
	return b != p->on_battery || m != p->metered;
}

void power_state(const struct power *p, int *on_battery, int *metered)
{
	*on_battery = p->on_battery;
	*metered = p->metered;
}

void power_free(struct power *p)
{
	if (!p)
		return;
	if (p->nm_pid) {
		kill(p->nm_pid, SIGKILL);
		waitpid(p->nm_pid, NULL, 0);
	}
	if (p->nm_fd >= 0)
		close(p->nm_fd);
	free(p);
}
