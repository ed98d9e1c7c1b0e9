/* SPDX-License-Identifier: MIT */
/*
 * The dashboard's static files (docs/dashboard.md): `GET /` redirects to
 * `/ui/`; `/ui/NAME` answers the file NAME, and any other `/ui/...` path
 * index.html (the page routes by its path). The files are embedded at build
 * time (cmake/embed_ui.cmake writes ui_files.c from web/ui/), or read from a
 * directory given with `roostd --ui-dir` (for working on them).
 */
#ifndef ROOSTD_UI_SERVE_H
#define ROOSTD_UI_SERVE_H

#include <stddef.h>

/* One embedded file. The table is sorted by path (strcmp order). */
struct ui_file {
	const char *path;          /* relative to /ui/, e.g. "js/fleet.js" */
	const char *ctype;         /* Content-Type */
	const char *etag;          /* strong, quoted: "\"0123...\"" */
	const unsigned char *data;
	size_t len;
};

extern const struct ui_file ui_files[];
extern const size_t ui_files_count;

/* The embedded file at path (relative to /ui/), or NULL. Thread-safe. */
const struct ui_file *ui_file_find(const char *path);

/* Serve the files from dir instead of the embedded ones (NULL: embedded).
 * The string is kept, not copied. Called once at start. */
void ui_set_dir(const char *dir);

/* Whether a name relative to /ui/ is one the files may have: segments of
 * [A-Za-z0-9._-], none empty or starting with a dot. */
int ui_name_ok(const char *name);

/* The content type for a file name, by its extension (NULL: not served). */
const char *ui_ctype(const char *name);

struct lws;
struct pss;
/* The request is the dashboard's (`/`, `/ui`, `/ui/...`): answered, 1 and
 * *rc what the callback must return. 0: not the dashboard's. Event loop. */
int ui_request(struct lws *wsi, struct pss *p, int *rc);

#endif
