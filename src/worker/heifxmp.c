/*
 * heifxmp.c - the XMP blocks of every image of a HEIF file gathered into
 * one packet; see heifxmp.h.
 */
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

#include "heifxmp.h"

struct packets {
    char *p[HEIFXMP_MAX_PACKETS];
    size_t len[HEIFXMP_MAX_PACKETS];
    int n;
};

/* Keep @p (@len bytes, malloc()ed: ownership passes) unless an equal
 * packet is there already or the set is full. */
static void
add_packet(struct packets *x, char *p, size_t len)
{
    for (int i = 0; i < x->n; i++)
        if (x->len[i] == len && memcmp(x->p[i], p, len) == 0) {
            free(p);
            return;
        }
    if (x->n == HEIFXMP_MAX_PACKETS) {
        free(p);
        return;
    }
    x->p[x->n] = p;
    x->len[x->n++] = len;
}

/* The XMP blocks of the image @h. */
static void
handle_xmp(const struct heif_image_handle *h, struct packets *x)
{
    heif_item_id ids[HEIFXMP_MAX_PACKETS];
    int n = heif_image_handle_get_list_of_metadata_block_IDs(h, "mime", ids,
                                                             HEIFXMP_MAX_PACKETS);

    for (int i = 0; i < n; i++) {
        const char *ct = heif_image_handle_get_metadata_content_type(h,
                                                                     ids[i]);
        size_t sz = heif_image_handle_get_metadata_size(h, ids[i]);
        char *data;

        if (!ct || strcmp(ct, "application/rdf+xml") != 0 || sz == 0 ||
            sz > HEIFXMP_MAX_BYTES)
            continue;
        data = malloc(sz);
        if (!data)
            continue;
        if (heif_image_handle_get_metadata(h, ids[i], data).code ==
            heif_error_Ok)
            add_packet(x, data, sz);
        else
            free(data);
    }
}

/* The XMP of the images @h refers to: its auxiliary images (alpha,
 * depth, an HDR gain map) with @aux, else its thumbnails. */
static void
linked_xmp(const struct heif_image_handle *h, int aux, struct packets *x)
{
    heif_item_id ids[HEIFXMP_MAX_PACKETS];
    struct heif_image_handle *a;
    int n = aux ? heif_image_handle_get_list_of_auxiliary_image_IDs(
                      h, 0, ids, HEIFXMP_MAX_PACKETS)
                : heif_image_handle_get_list_of_thumbnail_IDs(
                      h, ids, HEIFXMP_MAX_PACKETS);

    for (int i = 0; i < n; i++) {
        struct heif_error e;
        a = NULL;
        e = aux ? heif_image_handle_get_auxiliary_image_handle(h, ids[i], &a)
                : heif_image_handle_get_thumbnail(h, ids[i], &a);
        if (e.code != heif_error_Ok)
            continue;
        handle_xmp(a, x);
        heif_image_handle_release(a);
    }
}

/* The XMP of the top-level image @id and of the images linked to it. */
static void
image_xmp(struct heif_context *ctx, heif_item_id id, struct packets *x)
{
    struct heif_image_handle *h = NULL;

    if (heif_context_get_image_handle(ctx, id, &h).code != heif_error_Ok)
        return;
    handle_xmp(h, x);
    linked_xmp(h, 1, x);
    linked_xmp(h, 0, x);
    heif_image_handle_release(h);
}

/* The last occurrence of @needle in @hay, or NULL. */
static const char *
last_of(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    const char *found = NULL, *p = hay;

    while ((p = memmem(p, n - (size_t)(p - hay), needle, k)) != NULL) {
        found = p;
        p++;
    }
    return found;
}

char *
heifxmp_join(const char *a, size_t alen, const char *b, size_t blen,
             size_t *len)
{
    const char *ins = last_of(a, alen, "</rdf:RDF>");
    const char *open = memmem(b, blen, "<rdf:RDF", 8);
    const char *close = last_of(b, blen, "</rdf:RDF>");
    const char *start;
    size_t head, body;
    char *out;

    if (!ins || !memmem(a, alen, "<rdf:RDF", 8) || !open || !close ||
        close < open)
        return NULL;
    start = memchr(open, '>', (size_t)(close - open));
    if (!start)
        return NULL;
    start++;
    head = (size_t)(ins - a);
    body = (size_t)(close - start);
    out = malloc(alen + body);
    if (!out)
        return NULL;
    memcpy(out, a, head);
    memcpy(out + head, start, body);
    memcpy(out + head + body, ins, alen - head);
    *len = alen + body;
    return out;
}

/* Read the container and gather its packets into @x: 0, or -1. */
static int
gather(const void *buf, size_t len, struct packets *x)
{
    struct heif_context *ctx = heif_context_alloc();
    heif_item_id primary, ids[HEIFXMP_MAX_PACKETS];
    int n;

    if (!ctx)
        return -1;
    if (heif_context_read_from_memory_without_copy(ctx, buf, len, NULL).code
            != heif_error_Ok ||
        heif_context_get_primary_image_ID(ctx, &primary).code !=
            heif_error_Ok) {
        heif_context_free(ctx);
        return -1;
    }
    image_xmp(ctx, primary, x);
    n = heif_context_get_list_of_top_level_image_IDs(ctx, ids,
                                                     HEIFXMP_MAX_PACKETS);
    for (int i = 0; i < n; i++)
        if (ids[i] != primary)
            image_xmp(ctx, ids[i], x);
    heif_context_free(ctx);
    return 0;
}

int
heifxmp_gather(const void *buf, size_t len, const void *have,
               size_t have_len, char **out, size_t *out_len, int *dropped)
{
    struct packets x;
    char *cur = NULL;
    size_t cur_len = 0;
    int rc = 0;

    memset(&x, 0, sizeof(x));
    if (dropped)
        *dropped = 0;
    if (have && have_len) {
        char *copy = malloc(have_len);
        if (!copy)
            return 0;
        memcpy(copy, have, have_len);
        add_packet(&x, copy, have_len);
    }
    if (gather(buf, len, &x) < 0)
        rc = -1;
    for (int i = 0; i < x.n; i++) {
        char *j;
        if (!cur) {
            cur = x.p[i];
            cur_len = x.len[i];
            x.p[i] = NULL;
            continue;
        }
        j = heifxmp_join(cur, cur_len, x.p[i], x.len[i], &cur_len);
        if (j) {
            free(cur);
            cur = j;
        } else if (dropped) {
            (*dropped)++;
        }
    }
    for (int i = 0; i < x.n; i++)
        free(x.p[i]);
    if (rc < 0 || !cur || (have && cur_len == have_len &&
                           memcmp(cur, have, have_len) == 0)) {
        free(cur);
        return rc;
    }
    *out = cur;
    *out_len = cur_len;
    return 1;
}
