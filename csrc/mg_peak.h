/* mg_peak.h -- the machine's multiply-add rate, measured (mg_peak.c). */
#ifndef MICROGRAD_MG_PEAK_H
#define MICROGRAD_MG_PEAK_H

#include <stddef.h>

/* Multiply-adds one mg_mac_loop iteration makes. */
#define MG_PEAK_MACS 96

/* iters x MG_PEAK_MACS separate multiplies and adds on the widest vectors
 * this CPU has; returns a value that depends on all of them. */
double mg_mac_loop(size_t iters);

#endif
