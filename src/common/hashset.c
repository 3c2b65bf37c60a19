/*
 * hashset.c - open addressing with linear probing; see hashset.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <xxhash.h>

#include "hashset.h"

uint64_t
hashset_hash(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

uint64_t
hashset_hash2(uint64_t a, uint64_t b)
{
    uint64_t h = b * 0x9e3779b97f4a7c15ULL ^ (a + 0x632be59bd9b4e019ULL);

    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    return h;
}

void
hashset_init(struct hashset *s)
{
    s->slots = NULL;
    s->mask = 0;
    s->n = 0;
}

void
hashset_release(struct hashset *s)
{
    free(s->slots);
    hashset_init(s);
}

/* Move every value into a table of @cap slots (a power of two). */
static int
rehash(struct hashset *s, size_t cap)
{
    struct hashset_slot *slots = calloc(cap, sizeof(*slots));
    size_t i, pos;

    if (!slots) {
        errno = ENOMEM;
        return -1;
    }
    for (i = 0; s->slots && i <= s->mask; i++) {
        if (s->slots[i].value1 == 0)
            continue;
        pos = (size_t)s->slots[i].hash & (cap - 1);
        while (slots[pos].value1 != 0)
            pos = (pos + 1) & (cap - 1);
        slots[pos] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->mask = cap - 1;
    return 0;
}

int
hashset_reserve(struct hashset *s, size_t n)
{
    size_t cap = s->slots ? s->mask + 1 : 0, want = 64;

    if (n > SIZE_MAX / 4) {
        errno = ENOMEM;
        return -1;
    }
    while (want < 2 * n)
        want <<= 1;
    return want > cap ? rehash(s, want) : 0;
}

uint32_t
hashset_find(const struct hashset *s, uint64_t hash, const void *key,
             hashset_eq_fn eq, void *ctx)
{
    size_t pos;

    if (!s->slots)
        return HASHSET_NONE;
    for (pos = (size_t)hash & s->mask;; pos = (pos + 1) & s->mask) {
        const struct hashset_slot *sl = &s->slots[pos];
        if (sl->value1 == 0)
            return HASHSET_NONE;
        if (sl->hash == hash && eq(sl->value1 - 1, key, ctx))
            return sl->value1 - 1;
    }
}

int
hashset_insert(struct hashset *s, uint64_t hash, uint32_t value,
               const void *key, hashset_eq_fn eq, void *ctx,
               uint32_t *existing)
{
    uint32_t old = hashset_find(s, hash, key, eq, ctx);
    size_t pos;

    if (old != HASHSET_NONE) {
        if (existing)
            *existing = old;
        return HASHSET_PRESENT;
    }
    if (value == HASHSET_NONE) {
        errno = EINVAL;
        return -1;
    }
    if (hashset_reserve(s, s->n + 1) < 0)
        return -1;
    pos = (size_t)hash & s->mask;
    while (s->slots[pos].value1 != 0)
        pos = (pos + 1) & s->mask;
    s->slots[pos].hash = hash;
    s->slots[pos].value1 = value + 1;
    s->n++;
    return HASHSET_ADDED;
}
