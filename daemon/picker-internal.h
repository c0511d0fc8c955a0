/*
 * picker-internal: what picker.c (queues, jobs) and picker_prio.c
 * (priorities, the claim's choice) share. Loop thread only.
 */
#ifndef BTD_PICKER_INTERNAL_H
#define BTD_PICKER_INTERNAL_H

#include "picker.h"

/*
 * Adds piece to (add) or takes it from (!add) every count that depends on
 * its state, priority and availability: call with false before changing
 * one of them and with true after.
 */
void btd__picker_tally(struct btd_picker *p, uint32_t piece, bool add);
/* Replaces the runs of every band by those of prio (piece_count entries). 0 or -ENOMEM. */
int btd__picker_build_runs(struct btd_picker *p, const uint8_t *prio);
/* The piece a new job should take for peer, or -1: see picker.h. */
int64_t btd__picker_pick(struct btd_picker *p, const struct btd_picker_peer *peer);

#endif
