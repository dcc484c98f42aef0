/* seed: `objectd seed`, the standard workload into an empty store. */
#ifndef OBJECTD_SEED_H
#define OBJECTD_SEED_H

#include <stddef.h>

#include "store.h"
#include "workload.h"

/* Writes workload |w| into |st| (opened and migrated), blocking the
 * calling thread on a loop of its own. Returns 0, or -1 with |err|. */
int seed_run(store *st, const workload *w, char *err, size_t errlen);

#endif
