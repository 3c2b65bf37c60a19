/*
 * names.h - the names imgpool gives to the files it keeps beside the user's.
 *
 * One place for every name a run creates that is not an output: the master
 * sweeps temporaries by this prefix, the worker creates them, the state and
 * lock modules build their files under IMGPOOL_STATE_DIR.  Changing one of
 * these changes what older runs left behind is recognised as: don't.
 */
#ifndef IMGPOOL_NAMES_H
#define IMGPOOL_NAMES_H

/* A temporary output: IMGPOOL_TMP_PREFIX "<pid>-<n>", in the directory of
 * the file it will replace. */
#define IMGPOOL_TMP_PREFIX ".imgpool-tmp-"

/* Below the output directory: the state database and the lock. */
#define IMGPOOL_STATE_DIR ".imgpool"

#endif
