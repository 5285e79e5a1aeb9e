/*
 * The HTTP front end: listening, TLS, connection threads, draining.
 */
#ifndef SFD_SERVER_H
#define SFD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "sfd.h"

struct sfd_http_server;

/* Parses "host:port" (IPv4 literal, "[IPv6 literal]" or "localhost";
 * port 0 lets the system choose). */
SF_MUST_CHECK sf_status sfd_listen_parse(const char *text,
                                         struct sockaddr_storage *ss,
                                         socklen_t *ss_len,
                                         bool *is_loopback, char *err,
                                         size_t err_max);

/* Starts serving srv on its configured address. Refuses plain HTTP on a
 * non-loopback address unless insecure_plain_http is set. */
SF_MUST_CHECK sf_status sfd_http_start(struct sfd_server *srv,
                                       struct sfd_http_server **out,
                                       char *err, size_t err_max);

/* The port actually bound (useful with port 0). */
unsigned sfd_http_port(const struct sfd_http_server *hs);

/* Stops accepting connections, waits up to timeout_s seconds for
 * requests in progress to finish, then closes everything. */
void sfd_http_stop(struct sfd_http_server *hs, unsigned timeout_s);

#endif
