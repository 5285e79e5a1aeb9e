/*
 * libsealflow: policy-driven envelope encryption and key lifecycle.
 * Include this umbrella header, or the per-concern headers it lists.
 */
#ifndef SEALFLOW_H
#define SEALFLOW_H

#include "sealflow/audit.h"
#include "sealflow/buf.h"
#include "sealflow/encoding.h"
#include "sealflow/envelope.h"
#include "sealflow/keystore.h"
#include "sealflow/log.h"
#include "sealflow/policy.h"
#include "sealflow/records.h"
#include "sealflow/remote.h"
#include "sealflow/secret.h"
#include "sealflow/status.h"
#include "sealflow/tokens.h"

#endif
