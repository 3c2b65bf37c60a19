/*
 * hashset.h - the one hash set: open addressing over 32-bit values whose
 * keys live elsewhere.
 *
 * Call sequence:
 *   struct hashset s;
 *   hashset_init(&s);
 *   rc = hashset_insert(&s, hashset_hash(key, len), idx, key, eq, ctx, &old);
 *   idx = hashset_find(&s, hashset_hash(key, len), key, eq, ctx);
 *   hashset_release(&s);
 *
 * The set stores a value (typically an index into the caller's array) and
 * the key's 64-bit hash; it never sees the key itself.  Equality is the
 * caller's @eq(value, key, ctx), called only when the hashes match, so one
 * set serves strings, (dev, ino) pairs or prefixes of a task's path without
 * copying them.  A slot costs 16 bytes; the table stays at most half full.
 */
#ifndef IMGPOOL_HASHSET_H
#define IMGPOOL_HASHSET_H

#include <stddef.h>
#include <stdint.h>

#define HASHSET_NONE UINT32_MAX   /* "no value"; never store it */

struct hashset_slot {
    uint64_t hash;
    uint32_t value1;              /* value + 1; 0 marks an empty slot */
};

struct hashset {
    struct hashset_slot *slots;   /* NULL until the first insert */
    size_t mask;                  /* capacity - 1 */
    size_t n;                     /* values stored */
};

/* Does the key stored as @value equal @key?  Nonzero when it does. */
typedef int (*hashset_eq_fn)(uint32_t value, const void *key, void *ctx);

/* XXH3 of @len bytes at @p: the hash the callers use for byte keys. */
uint64_t hashset_hash(const void *p, size_t len);

/* Mix two 64-bit words (a (dev, ino) pair) into one hash. */
uint64_t hashset_hash2(uint64_t a, uint64_t b);

void hashset_init(struct hashset *s);     /* allocates nothing */
void hashset_release(struct hashset *s);  /* frees the table; keys are yours */

/* Room for @n values without growing.  0, or -1 with errno ENOMEM. */
int hashset_reserve(struct hashset *s, size_t n);

/* The value whose key equals @key, or HASHSET_NONE. */
uint32_t hashset_find(const struct hashset *s, uint64_t hash, const void *key,
                      hashset_eq_fn eq, void *ctx);

/* What hashset_insert() did, when it did not fail. */
enum hashset_put {
    HASHSET_ADDED = 0,            /* @value stored under @key */
    HASHSET_PRESENT = 1,          /* an equal key was there: set unchanged */
};

/*
 * Add @value under @key unless an equal key is there already.  Returns
 * HASHSET_ADDED, HASHSET_PRESENT (the present key's value in *@existing
 * when that is not NULL), or -1 with errno ENOMEM (EINVAL for the value
 * HASHSET_NONE).
 */
int hashset_insert(struct hashset *s, uint64_t hash, uint32_t value,
                   const void *key, hashset_eq_fn eq, void *ctx,
                   uint32_t *existing);

#endif
