/* SPDX-License-Identifier: MIT */
/* Server URLs for the HTTPS client (lib/net/http_url.c); internal to lib/net. */
#ifndef ROOST_NET_HTTP_URL_H
#define ROOST_NET_HTTP_URL_H

#include <stddef.h>

#include "roost/error.h"

/* https://HOST[:PORT][/PREFIX] into its parts (port 443 by default, the
 * prefix without trailing slashes); a clear error for anything else. */
enum roost_err http_parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap,
                              char *prefix, size_t xcap, struct roost_errbuf *eb);

#endif
