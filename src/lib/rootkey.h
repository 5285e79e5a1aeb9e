/*
 * Internal: the root key file parser, callable on bytes in memory so it
 * can be fuzzed without files (sf_root_key_load reads the file, checks its
 * mode, then calls this).
 */
#ifndef SF_ROOTKEY_H
#define SF_ROOTKEY_H

#include <stddef.h>

#include "sealflow/secret.h"
#include "sealflow/status.h"

/* Parses root key file text (len bytes; need not be NUL-terminated; may
 * hold NUL bytes, which are refused). where names the source in error
 * messages. SF_ERR_ROOT_KEY when the text is not in the format. */
sf_status rootkey_parse(const char *where, const char *text, size_t len,
                        struct sf_secret **out);

#endif
