/* SPDX-License-Identifier: MIT */
/*
 * The files of roostd's data directory that main.c makes on a first start
 * and reads on later ones: the self-signed TLS certificate and its key, the
 * certificate's fingerprint, and secrets (admin and metrics tokens, the
 * repository password), each written whole or not at all.
 */
#ifndef ROOSTD_DATADIR_H
#define ROOSTD_DATADIR_H

#include <stddef.h>
#include <sys/types.h>

#include "auth.h"

/* a/b, malloc'd (NULL: out of memory) */
char *path_join(const char *a, const char *b);
/* Writes data to path atomically with mode (fsync'd); fails if it exists. */
int write_new_file(const char *path, const void *data, size_t len, mode_t mode);
/* A small text file's content without trailing blanks, malloc'd; NULL with errno. */
char *read_small(const char *path);
/* A new P-256 key (key_path, 0600) and a self-signed certificate for
 * localhost, this host's name, 127.0.0.1 and ::1 (cert_path). */
int make_self_signed(const char *cert_path, const char *key_path);
/* The SHA-256 of the certificate in cert_path, 64 hex digits. */
int cert_fingerprint(const char *cert_path, char out[65]);
/* The secret in path, or a new one written there (*created 1). */
int load_or_make_secret(const char *path, char text[AUTH_TEXT_LEN + 1], int *created);

#endif
