/*
 * Endpoint handlers and the daemon's log. Each handler reads the request
 * (route, token, body) and fills the reply; the pipeline in handler.c has
 * already authenticated, authorised and, for changes, audited it.
 */
#ifndef SFD_HANDLERS_H
#define SFD_HANDLERS_H

#include <stdint.h>

#include "sealflow/log.h"
#include "sfd.h"
#include "transit_input.h"

typedef void (*sfd_handler_fn)(struct sfd_req *rq, struct sfd_reply *r);

/* transit_keys.c */
void sfd_keys_list(struct sfd_req *rq, struct sfd_reply *r);
void sfd_keys_read(struct sfd_req *rq, struct sfd_reply *r);
void sfd_keys_create(struct sfd_req *rq, struct sfd_reply *r);
void sfd_keys_delete(struct sfd_req *rq, struct sfd_reply *r);
void sfd_keys_config(struct sfd_req *rq, struct sfd_reply *r);
void sfd_keys_rotate(struct sfd_req *rq, struct sfd_reply *r);
void sfd_keys_trim(struct sfd_req *rq, struct sfd_reply *r);

/* Creates a key for an encrypt to a missing key (Vault's upsert), after
 * auditing the change; false with the reply set when it cannot. */
bool sfd_keys_upsert(struct sfd_req *rq, struct sfd_reply *r);

/* transit_crypto.c */
void sfd_encrypt(struct sfd_req *rq, struct sfd_reply *r);
void sfd_decrypt(struct sfd_req *rq, struct sfd_reply *r);
void sfd_rewrap(struct sfd_req *rq, struct sfd_reply *r);

/* transit_crypto.c: datakey/plaintext and datakey/wrapped */
void sfd_datakey(struct sfd_req *rq, struct sfd_reply *r);

/* sys.c */
void sfd_sys_health(struct sfd_req *rq, struct sfd_reply *r);
void sfd_sys_mounts(struct sfd_req *rq, struct sfd_reply *r);
void sfd_sys_mount_enable(struct sfd_req *rq, struct sfd_reply *r);
void sfd_sys_metrics(struct sfd_req *rq, struct sfd_reply *r);
void sfd_lookup_self(struct sfd_req *rq, struct sfd_reply *r);

/* dlog.c: one key=value event per line on stderr. */
void sfd_log_init(const char *level);
void sfd_log(enum sf_log_level level, const char *event, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));
void sfd_log_request(const struct sfd_req *rq, const struct sfd_reply *r,
                     uint64_t latency_us);
void sfd_log_audit_failure(const struct sfd_req *rq, const char *why);

#endif
