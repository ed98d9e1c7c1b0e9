/* SPDX-License-Identifier: MIT */
/* ROOST_FAULT: failures injected at named sites (see fault.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

#define FAULT_SITES 8

struct fault {
	char site[32];
	unsigned long nth; /* the first call that fails */
	int onward;        /* and every call after it */
	char flag[256];    /* SITE@FILE: every call fails while FILE exists */
	atomic_ulong calls;
};

static struct fault faults[FAULT_SITES];
static int nfaults;

int fault_init(const char *spec, char *msg, unsigned long msgcap)
{
	nfaults = 0;
	if (!spec || !*spec)
		return 0;
	char buf[512];
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(msg, msgcap, "ROOST_FAULT is too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	int n = 0;
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *at = strchr(item, '@');
		if (at) { /* SITE@FILE */
			if (at == item || (size_t)(at - item) >= sizeof(faults[0].site) || at[1] != '/' ||
			    strlen(at + 1) >= sizeof(faults[0].flag) || n == FAULT_SITES) {
				snprintf(msg, msgcap, "ROOST_FAULT: expected SITE@/ABSOLUTE/FILE, got "
				                      "\"%.64s\"", item);
				return -1;
			}
			struct fault *f = &faults[n++];
			memset(f, 0, sizeof(*f));
			memcpy(f->site, item, (size_t)(at - item));
			snprintf(f->flag, sizeof(f->flag), "%s", at + 1);
			continue;
		}
		char *colon = strchr(item, ':');
		char *end = NULL;
		unsigned long nth = colon ? strtoul(colon + 1, &end, 10) : 0;
		int onward = end && *end == '+';
		if (onward)
			end++;
		if (!colon || colon == item || (size_t)(colon - item) >= sizeof(faults[0].site) ||
		    !nth || end == colon + 1 || *end || n == FAULT_SITES) {
			snprintf(msg, msgcap, "ROOST_FAULT: expected SITE:N or SITE:N+, got \"%.64s\"",
			         item);
			return -1;
		}
		struct fault *f = &faults[n++];
		memset(f->site, 0, sizeof(f->site));
		f->flag[0] = 0;
		memcpy(f->site, item, (size_t)(colon - item));
		f->nth = nth;
		f->onward = onward;
		atomic_store(&f->calls, 0);
	}
	nfaults = n;
	return 0;
}

int fault_hit(const char *site)
{
	for (int i = 0; i < nfaults; i++) {
		struct fault *f = &faults[i];
		if (strcmp(f->site, site))
			continue;
		if (f->flag[0])
			return access(f->flag, F_OK) == 0;
		unsigned long c = atomic_fetch_add(&f->calls, 1) + 1;
		return c == f->nth || (f->onward && c > f->nth);
	}
	return 0;
}
