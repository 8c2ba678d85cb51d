/* srtp.c - SRTP/SRTCP on OpenSSL 3 EVP: AES-CM + HMAC-SHA1-80 (RFC 3711) and AES-GCM
 * (RFC 7714), per-SSRC rollover counters and replay windows in a bounded table, and
 * inbound, where the last removed SSRCs stood in a second one of the same size.
 *
 * Every cipher and MAC context is keyed once in j_srtp_new; a packet only sets its IV, so
 * the AES key schedule and the HMAC pads are never recomputed per packet, and this module
 * allocates nothing per packet (srtp_test.c counts OpenSSL's allocations).
 */
/* Before any OpenSSL header: the low-level SHA-1 API is deprecated in OpenSSL 3 but is
 * the one way to keep HMAC's keyed state in memory we own (see hmac_sha1). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "srtp/srtp.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "core/bytes.h"
#include "core/err.h"
#include "srtp/srtp_internal.h"

#define RTP_HEADER_LEN 12
#define RTP_VERSION 2
#define RTCP_HEADER_LEN 8 /* V/P/RC, PT, length, sender SSRC: always in the clear */
#define SRTCP_INDEX_LEN 4 /* E flag || 31-bit SRTCP index */
#define EXTRA_AUTH_LEN 4  /* bytes authenticated after the packet: ROC or E|index */
#define SRTCP_E_FLAG 0x80000000u
#define SRTCP_INDEX_LIMIT 0x80000000u /* 2^31 indices per key (RFC 3711 §9.2) */
#define SRTP_INDEX_LIMIT (1ull << 48) /* 2^48 indices per key */
#define HMAC_SHA1_LEN 20
#define SHA1_BLOCK_LEN 64
#define CM_TAG_LEN 10 /* HMAC-SHA1 truncated to 80 bits */
#define GCM_TAG_LEN 16
#define CM_SALT_LEN 14
#define GCM_SALT_LEN 12
#define MAX_IV_LEN 16
#define WINDOW_WORDS (J_SRTP_REPLAY_WINDOW / 64)

_Static_assert(J_SRTP_REPLAY_WINDOW % 64 == 0, "the replay window is whole 64-bit words");
_Static_assert(GCM_TAG_LEN + SRTCP_INDEX_LEN <= J_SRTP_MAX_TRAILER, "SRTCP trailer fits");

typedef enum { KIND_RTP = 0, KIND_RTCP = 1, KIND_COUNT } packet_kind;

/* Algorithms fetched once per process: an implicit fetch in every EVP_CipherInit would
 * cost a provider lookup per session. */
static struct {
    EVP_CIPHER *aes128_ctr, *aes128_gcm, *aes256_gcm;
} g_alg;
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static int g_init_result = J_ECRYPTO;

/* One packet kind's keyed contexts. */
typedef struct {
    EVP_CIPHER_CTX *cipher; /* AES-CTR, or AES-GCM set to seal (outbound) or open */
    SHA_CTX hmac_inner, hmac_outer; /* AES-CM only: SHA-1 states after the keyed pads */
    uint8_t salt[J_SRTP_MAX_SESSION_SALT_LEN];
} transform;

/* Where one packet kind of one SSRC stands. RTP indices are 48-bit (ROC || SEQ), SRTCP
 * indices 31-bit and explicit. */
typedef struct {
    uint64_t highest; /* highest index authenticated (inbound) or protected (outbound) */
    bool started;     /* false until this SSRC's first packet of this kind */
} index_state;

/* Inbound: bit (index mod J_SRTP_REPLAY_WINDOW) is set once index is accepted, for the
 * indices in (highest - J_SRTP_REPLAY_WINDOW, highest]. */
typedef struct {
    uint64_t bits[WINDOW_WORDS];
} replay_window;

/* Inbound: where a removed SSRC stood, so that it resumes there if it comes back. */
typedef struct {
    uint32_t ssrc;
    index_state state[KIND_COUNT];
    uint64_t retired_at; /* j_srtp.retirements when it retired: the smallest goes first */
} retired_stream;

/* A packet's stream: a live slot, or a new stream that may resume a retired SSRC. */
typedef struct {
    int slot;    /* -1: no stream yet */
    int retired; /* slot < 0: the SSRC's entry in the retired table, or -1 */
} stream_ref;

struct j_srtp {
    j_srtp_profile profile;
    j_srtp_direction dir;
    bool aead;
    size_t tag_len;
    transform xf[KIND_COUNT];
    /* The SSRCs are kept apart from the state so the lookup scans one short array. Each
     * array holds stream_cap streams (j_srtp_new, j_srtp_reserve); slots are set as streams
     * start (stream_start), and j_srtp_remove_stream moves the last stream into the slot it
     * frees. */
    size_t stream_count, stream_cap;
    uint32_t *ssrc;
    index_state (*state)[KIND_COUNT];
    replay_window *windows; /* inbound only: [stream][kind] */
    /* Inbound only: the last stream_cap SSRCs removed (j_srtp_remove_stream), unordered;
     * when full, the one that retired first is evicted. */
    size_t retired_count;
    retired_stream *retired;
    uint64_t retirements;
};

/* A packet as the transform sees it. */
typedef struct {
    uint8_t *buf;
    size_t header_len;    /* authenticated, in the clear */
    size_t body_len;      /* buf[header_len..+body_len): encrypted when encrypted */
    bool encrypted;       /* false only for SRTCP received with E = 0 */
    uint8_t *tag;         /* where the tag goes (protect) or is (unprotect) */
    const uint8_t *extra; /* 4 bytes authenticated after the packet, or NULL: the ROC for
                             AES-CM RTP (not sent), the E|index word for SRTCP (sent) */
    uint32_t ssrc;
    uint64_t index;
} packet_view;

static void global_init_once(void)
{
    g_alg.aes128_ctr = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
    g_alg.aes128_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    g_alg.aes256_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    bool ok = g_alg.aes128_ctr && g_alg.aes128_gcm && g_alg.aes256_gcm;
    if (!ok) ERR_clear_error();
    g_init_result = ok ? J_OK : J_ECRYPTO;
}

int j_srtp_global_init(void)
{
    pthread_once(&g_init_once, global_init_once);
    return g_init_result;
}

static size_t tag_len(j_srtp_profile p)
{
    switch (p) {
    case J_SRTP_PROFILE_AES128_CM_SHA1_80: return CM_TAG_LEN;
    case J_SRTP_PROFILE_AEAD_AES_128_GCM:
    case J_SRTP_PROFILE_AEAD_AES_256_GCM: return GCM_TAG_LEN;
    }
    return 0;
}

size_t j_srtp_rtp_overhead(j_srtp_profile p) { return tag_len(p); }

size_t j_srtp_rtcp_overhead(j_srtp_profile p)
{
    size_t t = tag_len(p);
    return t ? t + SRTCP_INDEX_LEN : 0;
}

/* ---- sessions -------------------------------------------------------------------------- */

static const EVP_CIPHER *packet_cipher(j_srtp_profile p)
{
    switch (p) {
    case J_SRTP_PROFILE_AES128_CM_SHA1_80: return g_alg.aes128_ctr;
    case J_SRTP_PROFILE_AEAD_AES_128_GCM: return g_alg.aes128_gcm;
    case J_SRTP_PROFILE_AEAD_AES_256_GCM: return g_alg.aes256_gcm;
    }
    return NULL;
}

static int transform_init(transform *t, j_srtp_profile p, const j_srtp_session_keys *k,
                          j_srtp_direction dir)
{
    bool aead = p != J_SRTP_PROFILE_AES128_CM_SHA1_80;
    /* CTR runs the same both ways; a GCM context is fixed to seal or to open. */
    int encrypt = !aead || dir == J_SRTP_OUTBOUND;
    t->cipher = EVP_CIPHER_CTX_new();
    if (!t->cipher || EVP_CipherInit_ex2(t->cipher, packet_cipher(p), k->enc, NULL, encrypt,
                                         NULL) != 1)
        return J_ECRYPTO;
    memcpy(t->salt, k->salt, sizeof t->salt);
    if (aead) return J_OK;
    /* RFC 2104 with a key shorter than the block: the key, zero-padded, XOR ipad / opad. */
    _Static_assert(J_SRTP_AUTH_KEY_LEN <= SHA1_BLOCK_LEN, "the key is its own HMAC key block");
    uint8_t inner_pad[SHA1_BLOCK_LEN], outer_pad[SHA1_BLOCK_LEN];
    memset(inner_pad, 0x36, sizeof inner_pad);
    memset(outer_pad, 0x5c, sizeof outer_pad);
    for (size_t i = 0; i < J_SRTP_AUTH_KEY_LEN; i++) {
        inner_pad[i] ^= k->auth[i];
        outer_pad[i] ^= k->auth[i];
    }
    int ok = SHA1_Init(&t->hmac_inner) &&
             SHA1_Update(&t->hmac_inner, inner_pad, sizeof inner_pad) &&
             SHA1_Init(&t->hmac_outer) &&
             SHA1_Update(&t->hmac_outer, outer_pad, sizeof outer_pad);
    OPENSSL_cleanse(inner_pad, sizeof inner_pad);
    OPENSSL_cleanse(outer_pad, sizeof outer_pad);
    return ok ? J_OK : J_ECRYPTO;
}

int j_srtp_reserve(j_srtp *s, size_t max_streams)
{
    if (!s || max_streams == 0 || max_streams > J_SRTP_MAX_STREAMS) return J_EINVAL;
    if (max_streams <= s->stream_cap) return J_OK;
    /* Each array grows on its own; one that grew while another failed is merely larger. */
    uint32_t *ssrc = realloc(s->ssrc, max_streams * sizeof *s->ssrc);
    if (!ssrc) return J_ENOMEM;
    s->ssrc = ssrc;
    index_state(*state)[KIND_COUNT] = realloc(s->state, max_streams * sizeof *s->state);
    if (!state) return J_ENOMEM;
    s->state = state;
    if (s->dir == J_SRTP_INBOUND) {
        replay_window *w = realloc(s->windows, max_streams * KIND_COUNT * sizeof *w);
        if (!w) return J_ENOMEM;
        s->windows = w;
        retired_stream *r = realloc(s->retired, max_streams * sizeof *r);
        if (!r) return J_ENOMEM;
        s->retired = r;
    }
    s->stream_cap = max_streams;
    return J_OK;
}

j_srtp *j_srtp_new_with_keys(j_srtp_profile p, const j_srtp_keys *keys, j_srtp_direction dir,
                             size_t max_streams)
{
    if (!keys || tag_len(p) == 0) return NULL;
    if (dir != J_SRTP_INBOUND && dir != J_SRTP_OUTBOUND) return NULL;
    if (max_streams == 0 || max_streams > J_SRTP_MAX_STREAMS) return NULL;
    if (j_srtp_global_init() != J_OK) return NULL;
    j_srtp *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->profile = p;
    s->dir = dir;
    s->aead = p != J_SRTP_PROFILE_AES128_CM_SHA1_80;
    s->tag_len = tag_len(p);
    bool ok = j_srtp_reserve(s, max_streams) == J_OK &&
              transform_init(&s->xf[KIND_RTP], p, &keys->rtp, dir) == J_OK &&
              transform_init(&s->xf[KIND_RTCP], p, &keys->rtcp, dir) == J_OK;
    if (!ok) {
        ERR_clear_error();
        j_srtp_free(s);
        return NULL;
    }
    return s;
}

j_srtp *j_srtp_new(j_srtp_profile p, const uint8_t *key_salt, size_t len, j_srtp_direction dir,
                   size_t max_streams)
{
    j_srtp_keys keys;
    if (j_srtp_derive_keys(p, key_salt, len, &keys) != J_OK) return NULL;
    j_srtp *s = j_srtp_new_with_keys(p, &keys, dir, max_streams);
    OPENSSL_cleanse(&keys, sizeof keys);
    return s;
}

void j_srtp_free(j_srtp *s)
{
    if (!s) return;
    for (int k = 0; k < KIND_COUNT; k++) {
        EVP_CIPHER_CTX_free(s->xf[k].cipher); /* wipes the key schedule */
    }
    free(s->ssrc);
    free(s->state);
    free(s->windows);
    free(s->retired);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* ---- streams, rollover and replay ------------------------------------------------------ */

static const index_state k_not_started;

static int retired_lookup(const j_srtp *s, uint32_t ssrc)
{
    for (size_t i = 0; i < s->retired_count; i++)
        if (s->retired[i].ssrc == ssrc) return (int)i;
    return -1;
}

/* The stream of ssrc in *ref. J_ELIMIT when it has none and the table is full: refused
 * before any crypto. Inline: it runs for every packet, and GCC no longer inlines it by
 * itself since it looks up retired SSRCs too. */
static inline int stream_lookup(const j_srtp *s, uint32_t ssrc, stream_ref *ref)
{
    for (size_t i = 0; i < s->stream_count; i++) {
        if (s->ssrc[i] == ssrc) {
            *ref = (stream_ref){.slot = (int)i, .retired = -1};
            return J_OK;
        }
    }
    if (s->stream_count == s->stream_cap) return J_ELIMIT;
    *ref = (stream_ref){.slot = -1, .retired = retired_lookup(s, ssrc)};
    return J_OK;
}

static const index_state *stream_state(const j_srtp *s, stream_ref ref, packet_kind kind)
{
    if (ref.slot >= 0) return &s->state[ref.slot][kind];
    return ref.retired >= 0 ? &s->retired[ref.retired].state[kind] : &k_not_started;
}

static replay_window *stream_window(const j_srtp *s, int slot, packet_kind kind)
{
    return &s->windows[(size_t)slot * KIND_COUNT + kind];
}

static bool window_has(const replay_window *w, uint64_t index)
{
    uint64_t bit = index % J_SRTP_REPLAY_WINDOW;
    return (w->bits[bit / 64] >> (bit % 64)) & 1u;
}

static void window_put(replay_window *w, uint64_t index, bool seen)
{
    uint64_t bit = index % J_SRTP_REPLAY_WINDOW;
    uint64_t mask = 1ull << (bit % 64);
    w->bits[bit / 64] = seen ? w->bits[bit / 64] | mask : w->bits[bit / 64] & ~mask;
}

/* RFC 3711 §3.3.1 and Appendix A: the index of seq nearest to the highest index seen (for
 * a returning SSRC, the highest before it retired), with a new stream's first packet at
 * ROC 0. Negative when that would fall before ROC 0. */
static int64_t rtp_index_estimate(const index_state *st, uint16_t seq)
{
    if (!st->started) return seq;
    int64_t roc = (int64_t)(st->highest >> 16);
    uint16_t s_l = (uint16_t)st->highest;
    if (s_l < 0x8000) {
        if (seq - s_l > 0x8000) roc--;
    } else if (seq < s_l - 0x8000) {
        roc++;
    }
    return roc * 65536 + seq;
}

/* J_OK when an inbound index is new: ahead of the highest, or inside the window unseen. */
static int replay_check(const j_srtp *s, stream_ref ref, packet_kind kind, uint64_t index)
{
    const index_state *st = stream_state(s, ref, kind);
    if (!st->started || index > st->highest) return J_OK;
    /* A returning SSRC's window was not kept: all up to where it retired counts as seen. */
    if (ref.slot < 0) return J_EREPLAY;
    if (st->highest - index >= J_SRTP_REPLAY_WINDOW) return J_EREPLAY;
    return window_has(stream_window(s, ref.slot, kind), index) ? J_EREPLAY : J_OK;
}

/* A stream for ssrc in the next free slot: from index 0, or, taken out of the retired
 * table, from where the SSRC retired with its window full (see replay_check). */
static int stream_start(j_srtp *s, uint32_t ssrc, int retired)
{
    int slot = (int)s->stream_count++;
    s->ssrc[slot] = ssrc;
    if (retired < 0) {
        memset(s->state[slot], 0, sizeof s->state[slot]);
    } else {
        memcpy(s->state[slot], s->retired[retired].state, sizeof s->state[slot]);
        s->retired[retired] = s->retired[--s->retired_count];
    }
    for (int k = 0; s->windows && k < KIND_COUNT; k++)
        memset(stream_window(s, slot, (packet_kind)k), s->state[slot][k].started ? 0xFF : 0,
               sizeof *s->windows);
    return slot;
}

/* Inbound: remember where ssrc stood as it is removed; a full table forgets the SSRC that
 * retired first. */
static void stream_retire(j_srtp *s, uint32_t ssrc, const index_state state[KIND_COUNT])
{
    size_t at = s->retired_count;
    if (at < s->stream_cap) {
        s->retired_count++;
    } else {
        at = 0;
        for (size_t i = 1; i < s->retired_count; i++)
            if (s->retired[i].retired_at < s->retired[at].retired_at) at = i;
    }
    retired_stream *r = &s->retired[at];
    r->ssrc = ssrc;
    memcpy(r->state, state, sizeof r->state);
    r->retired_at = s->retirements++;
}

/* Record a packet that passed: create its stream if new, advance the highest index and,
 * inbound, mark it in the window. */
static void stream_commit(j_srtp *s, stream_ref ref, uint32_t ssrc, packet_kind kind,
                          uint64_t index)
{
    int slot = ref.slot >= 0 ? ref.slot : stream_start(s, ssrc, ref.retired);
    index_state *st = &s->state[slot][kind];
    if (s->windows) {
        replay_window *w = stream_window(s, slot, kind);
        if (st->started && index > st->highest) {
            /* The slots of the indices now leaving the window are reused by the new ones. */
            if (index - st->highest >= J_SRTP_REPLAY_WINDOW)
                memset(w, 0, sizeof *w);
            else
                for (uint64_t i = st->highest + 1; i < index; i++) window_put(w, i, false);
        }
        window_put(w, index, true);
    }
    if (!st->started || index > st->highest) {
        st->highest = index;
        st->started = true;
    }
}

int j_srtp_remove_stream(j_srtp *s, uint32_t ssrc)
{
    if (!s) return J_EINVAL;
    stream_ref ref;
    if (stream_lookup(s, ssrc, &ref) != J_OK || ref.slot < 0) return J_ENOTFOUND;
    int slot = ref.slot;
    /* Outbound has nothing to remember: the owner never protects this SSRC again. */
    if (s->dir == J_SRTP_INBOUND) stream_retire(s, ssrc, s->state[slot]);
    size_t last = --s->stream_count;
    if ((size_t)slot != last) {
        s->ssrc[slot] = s->ssrc[last];
        memcpy(s->state[slot], s->state[last], sizeof s->state[slot]);
        if (s->windows)
            memcpy(stream_window(s, slot, KIND_RTP), stream_window(s, (int)last, KIND_RTP),
                   KIND_COUNT * sizeof *s->windows);
    }
    return J_OK;
}

/* ---- the transforms -------------------------------------------------------------------- */

/* RFC 3711 §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), 16 bytes.
 * RFC 7714 §8.1 / §9.1: IV = (00 00 || SSRC || ROC || SEQ) XOR k_s, and for SRTCP
 * (00 00 || SSRC || 00 00 || 0 || index) XOR k_s, 12 bytes. Both are the salt XOR the SSRC
 * followed by the 48-bit index; AES-CM leaves two zero bytes for the block counter. */
static void packet_iv(const j_srtp *s, const transform *t, const packet_view *p,
                      uint8_t iv[MAX_IV_LEN])
{
    size_t ssrc_at = s->aead ? 2 : 4;
    memset(iv, 0, MAX_IV_LEN);
    memcpy(iv, t->salt, s->aead ? GCM_SALT_LEN : CM_SALT_LEN);
    for (int i = 0; i < 4; i++) iv[ssrc_at + i] ^= (uint8_t)(p->ssrc >> (24 - 8 * i));
    for (int i = 0; i < 6; i++) iv[ssrc_at + 4 + i] ^= (uint8_t)(p->index >> (40 - 8 * i));
}

static int ctr_crypt(EVP_CIPHER_CTX *c, const uint8_t *iv, uint8_t *data, size_t len)
{
    int n = 0;
    if (EVP_CipherInit_ex2(c, NULL, NULL, iv, -1, NULL) != 1) return J_ECRYPTO;
    if (len && EVP_CipherUpdate(c, data, &n, data, (int)len) != 1) return J_ECRYPTO;
    return J_OK;
}

/* RFC 3711 §4.2: HMAC-SHA1 (RFC 2104) over the authenticated portion, then the 4 extra
 * bytes, resuming the SHA-1 states keyed in transform_init (a struct copy each). Not
 * EVP_MAC: OpenSSL 3.0 restores HMAC's keyed state with EVP_MD_CTX_copy_ex, a free and a
 * malloc twice per packet, and re-initializing an EVP_MD_CTX reallocates it as well. */
static int hmac_sha1(const transform *t, const packet_view *p, uint8_t out[HMAC_SHA1_LEN])
{
    SHA_CTX h = t->hmac_inner;
    uint8_t inner[HMAC_SHA1_LEN];
    int ok = SHA1_Update(&h, p->buf, p->header_len + p->body_len) &&
             SHA1_Update(&h, p->extra, EXTRA_AUTH_LEN) && SHA1_Final(inner, &h);
    h = t->hmac_outer;
    ok = ok && SHA1_Update(&h, inner, sizeof inner) && SHA1_Final(out, &h);
    OPENSSL_cleanse(&h, sizeof h);
    return ok ? J_OK : J_ECRYPTO;
}

/* AES-CM: encrypt, then authenticate the ciphertext. */
static int cm_seal(const transform *t, const uint8_t *iv, const packet_view *p)
{
    uint8_t mac[HMAC_SHA1_LEN];
    int rc = ctr_crypt(t->cipher, iv, p->buf + p->header_len, p->body_len);
    if (rc == J_OK) rc = hmac_sha1(t, p, mac);
    if (rc == J_OK) memcpy(p->tag, mac, CM_TAG_LEN);
    return rc;
}

/* AES-CM: check the tag in constant time before decrypting anything. */
static int cm_open(const transform *t, const uint8_t *iv, const packet_view *p)
{
    uint8_t mac[HMAC_SHA1_LEN];
    int rc = hmac_sha1(t, p, mac);
    if (rc != J_OK) return rc;
    if (CRYPTO_memcmp(mac, p->tag, CM_TAG_LEN) != 0) return J_EAUTH;
    return p->encrypted ? ctr_crypt(t->cipher, iv, p->buf + p->header_len, p->body_len) : J_OK;
}

/* AES-GCM (RFC 7714 §7-9): the clear part, then the extra bytes, as associated data; an
 * unencrypted SRTCP packet is associated data as a whole. The context seals or opens as set
 * up in transform_init; opening fails in EVP_CipherFinal_ex on a tag mismatch. */
static int gcm_run(const transform *t, const uint8_t *iv, const packet_view *p, bool seal)
{
    EVP_CIPHER_CTX *c = t->cipher;
    size_t aad_len = p->encrypted ? p->header_len : p->header_len + p->body_len;
    size_t text_len = p->encrypted ? p->body_len : 0;
    uint8_t *text = p->buf + p->header_len;
    uint8_t none[GCM_TAG_LEN]; /* GCM's final step outputs no bytes */
    int n = 0;
    if (EVP_CipherInit_ex2(c, NULL, NULL, iv, -1, NULL) != 1 ||
        EVP_CipherUpdate(c, NULL, &n, p->buf, (int)aad_len) != 1 ||
        (p->extra && EVP_CipherUpdate(c, NULL, &n, p->extra, EXTRA_AUTH_LEN) != 1) ||
        (text_len && EVP_CipherUpdate(c, text, &n, text, (int)text_len) != 1))
        return J_ECRYPTO;
    if (!seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_LEN, p->tag) != 1)
        return J_ECRYPTO;
    if (EVP_CipherFinal_ex(c, none, &n) != 1) return seal ? J_ECRYPTO : J_EAUTH;
    if (seal && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, p->tag) != 1)
        return J_ECRYPTO;
    return J_OK;
}

static int transform_packet(const j_srtp *s, packet_kind kind, const packet_view *p)
{
    const transform *t = &s->xf[kind];
    uint8_t iv[MAX_IV_LEN];
    packet_iv(s, t, p, iv);
    bool seal = s->dir == J_SRTP_OUTBOUND;
    int rc = s->aead ? gcm_run(t, iv, p, seal) : seal ? cm_seal(t, iv, p) : cm_open(t, iv, p);
    if (rc == J_ECRYPTO) ERR_clear_error(); /* keep OpenSSL's queue clean for DTLS */
    return rc;
}

/* ---- packets --------------------------------------------------------------------------- */

/*  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |                             SSRC                              |
 * |                  CSRC list (CC x 32 bits)                     |
 * |  defined by profile           |     extension length (words)  |  (X = 1)
 * |                  extension (length x 32 bits)                 |
 * |                  payload ... padding (encrypted)              |
 *
 * rtp_header_len - the clear header's length (RFC 3550 §5.1, §5.3.1), J_ESHORT or
 * J_EMALFORMED (wrong version, CSRCs or extension running past len). */
static int rtp_header_len(const uint8_t *buf, size_t len)
{
    if (len < RTP_HEADER_LEN) return J_ESHORT;
    if (buf[0] >> 6 != RTP_VERSION) return J_EMALFORMED;
    size_t n = RTP_HEADER_LEN + 4u * (buf[0] & 0x0Fu);
    if (buf[0] & 0x10) {
        if (n + 4 > len) return J_EMALFORMED;
        n += 4 + 4u * rd_be16(buf + n + 2);
    }
    return n <= len ? (int)n : J_EMALFORMED;
}

static int check_protect(const j_srtp *s, const uint8_t *buf, size_t len, size_t cap,
                         size_t min_len, size_t overhead)
{
    if (!s || !buf) return J_EINVAL;
    if (s->dir != J_SRTP_OUTBOUND) return J_ESTATE;
    if (len < min_len) return J_ESHORT;
    if (len > (size_t)INT_MAX - J_SRTP_MAX_TRAILER) return J_ELIMIT;
    return cap < len + overhead ? J_ESHORTBUF : J_OK;
}

static int check_unprotect(const j_srtp *s, const uint8_t *buf, size_t len, size_t min_len)
{
    if (!s || !buf) return J_EINVAL;
    if (s->dir != J_SRTP_INBOUND) return J_ESTATE;
    if (len < min_len) return J_ESHORT;
    return len > INT_MAX ? J_ELIMIT : J_OK;
}

/* The 48-bit index of an RTP packet of stream ref: J_EREPLAY before ROC 0,
 * J_ELIMIT past the key's 2^48 packets. */
static int rtp_index(const j_srtp *s, stream_ref ref, uint16_t seq, uint64_t *index)
{
    int64_t i = rtp_index_estimate(stream_state(s, ref, KIND_RTP), seq);
    if (i < 0) return J_EREPLAY;
    if ((uint64_t)i >= SRTP_INDEX_LIMIT) return J_ELIMIT;
    *index = (uint64_t)i;
    return J_OK;
}

/* rtp_packet_view - the parts of an RTP packet of rtp_len bytes (the tag follows them) that
 * the transform needs: header length, SSRC, its stream and the packet index (RFC 3711
 * §3.3.1), and for AES-CM the rollover counter authenticated after it (in roc). */
static int rtp_packet_view(j_srtp *s, uint8_t *buf, size_t rtp_len, uint8_t roc[EXTRA_AUTH_LEN],
                           packet_view *p, stream_ref *ref)
{
    int header_len = rtp_header_len(buf, rtp_len);
    if (header_len < 0) return header_len;
    uint32_t ssrc = rd_be32(buf + 8);
    uint64_t index;
    int rc;
    if ((rc = stream_lookup(s, ssrc, ref)) != J_OK) return rc;
    if ((rc = rtp_index(s, *ref, rd_be16(buf + 2), &index)) != J_OK) return rc;
    wr_be32(roc, (uint32_t)(index >> 16));
    *p = (packet_view){.buf = buf, .header_len = (size_t)header_len,
                       .body_len = rtp_len - (size_t)header_len, .encrypted = true,
                       .tag = buf + rtp_len, .extra = s->aead ? NULL : roc, .ssrc = ssrc,
                       .index = index};
    return J_OK;
}

int j_srtp_protect_rtp(j_srtp *s, uint8_t *buf, size_t len, size_t cap)
{
    int rc = check_protect(s, buf, len, cap, RTP_HEADER_LEN, s ? s->tag_len : 0);
    if (rc != J_OK) return rc;
    uint8_t roc[EXTRA_AUTH_LEN];
    packet_view p;
    stream_ref ref;
    if ((rc = rtp_packet_view(s, buf, len, roc, &p, &ref)) != J_OK) return rc;
    if ((rc = transform_packet(s, KIND_RTP, &p)) != J_OK) return rc;
    stream_commit(s, ref, p.ssrc, KIND_RTP, p.index);
    return (int)(len + s->tag_len);
}

int j_srtp_unprotect_rtp(j_srtp *s, uint8_t *buf, size_t len)
{
    int rc = check_unprotect(s, buf, len, RTP_HEADER_LEN + (s ? s->tag_len : 0));
    if (rc != J_OK) return rc;
    size_t rtp_len = len - s->tag_len;
    uint8_t roc[EXTRA_AUTH_LEN];
    packet_view p;
    stream_ref ref;
    if ((rc = rtp_packet_view(s, buf, rtp_len, roc, &p, &ref)) != J_OK) return rc;
    if ((rc = replay_check(s, ref, KIND_RTP, p.index)) != J_OK) return rc;
    if ((rc = transform_packet(s, KIND_RTP, &p)) != J_OK) return rc;
    stream_commit(s, ref, p.ssrc, KIND_RTP, p.index);
    return (int)rtp_len;
}

/* SRTCP trailers (RFC 3711 §3.4, RFC 7714 §9.1), after the packet:
 *   AES-CM:  | E | SRTCP index (31) | authentication tag (10) |
 *   AES-GCM: | tag (16) | E | SRTCP index (31) |
 * srtcp_trailer_at - where the E|index word and the tag sit for an RTCP packet of len. */
static void srtcp_trailer_at(const j_srtp *s, uint8_t *buf, size_t len, uint8_t **index_word,
                             uint8_t **tag)
{
    *tag = s->aead ? buf + len : buf + len + SRTCP_INDEX_LEN;
    *index_word = s->aead ? buf + len + GCM_TAG_LEN : buf + len;
}

int j_srtp_protect_rtcp(j_srtp *s, uint8_t *buf, size_t len, size_t cap)
{
    int rc = check_protect(s, buf, len, cap, RTCP_HEADER_LEN, s ? s->tag_len + SRTCP_INDEX_LEN : 0);
    if (rc != J_OK) return rc;
    uint32_t ssrc = rd_be32(buf + 4);
    stream_ref ref;
    if ((rc = stream_lookup(s, ssrc, &ref)) != J_OK) return rc;
    /* The first index is 0 (RFC 3711 §3.4); protecting is what advances it. */
    const index_state *st = stream_state(s, ref, KIND_RTCP);
    uint64_t index = st->started ? st->highest + 1 : 0;
    if (index >= SRTCP_INDEX_LIMIT) return J_ELIMIT;
    uint8_t *index_word, *tag;
    srtcp_trailer_at(s, buf, len, &index_word, &tag);
    wr_be32(index_word, SRTCP_E_FLAG | (uint32_t)index);
    packet_view p = {.buf = buf, .header_len = RTCP_HEADER_LEN,
                     .body_len = len - RTCP_HEADER_LEN, .encrypted = true, .tag = tag,
                     .extra = index_word, .ssrc = ssrc, .index = index};
    if ((rc = transform_packet(s, KIND_RTCP, &p)) != J_OK) return rc;
    stream_commit(s, ref, ssrc, KIND_RTCP, index);
    return (int)(len + s->tag_len + SRTCP_INDEX_LEN);
}

int j_srtp_unprotect_rtcp(j_srtp *s, uint8_t *buf, size_t len)
{
    size_t trailer = s ? s->tag_len + SRTCP_INDEX_LEN : 0;
    int rc = check_unprotect(s, buf, len, RTCP_HEADER_LEN + trailer);
    if (rc != J_OK) return rc;
    size_t rtcp_len = len - trailer;
    uint8_t *index_word, *tag;
    srtcp_trailer_at(s, buf, rtcp_len, &index_word, &tag);
    uint32_t word = rd_be32(index_word);
    uint64_t index = word & ~SRTCP_E_FLAG;
    uint32_t ssrc = rd_be32(buf + 4);
    stream_ref ref;
    if ((rc = stream_lookup(s, ssrc, &ref)) != J_OK) return rc;
    if ((rc = replay_check(s, ref, KIND_RTCP, index)) != J_OK) return rc;
    packet_view p = {.buf = buf, .header_len = RTCP_HEADER_LEN,
                     .body_len = rtcp_len - RTCP_HEADER_LEN,
                     .encrypted = (word & SRTCP_E_FLAG) != 0, .tag = tag, .extra = index_word,
                     .ssrc = ssrc, .index = index};
    if ((rc = transform_packet(s, KIND_RTCP, &p)) != J_OK) return rc;
    stream_commit(s, ref, ssrc, KIND_RTCP, index);
    return (int)rtcp_len;
}
