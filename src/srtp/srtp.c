/* srtp.c - j_srtp on libsrtp2. */
#include "srtp/srtp.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#include "core/err.h"

#define RTP_HEADER_LEN 12
#define RTCP_HEADER_LEN 8
#define SRTCP_INDEX_LEN 4
#define CM_SHA1_80_TAG_LEN 10
#define GCM_TAG_LEN 16

struct j_srtp {
    srtp_t ctx;
    j_srtp_profile profile;
    j_srtp_direction dir;
};

static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static int g_init_result = J_ECRYPTO;

static void global_init_once(void)
{
    g_init_result = srtp_init() == srtp_err_status_ok ? J_OK : J_ECRYPTO;
}

int j_srtp_global_init(void)
{
    pthread_once(&g_init_once, global_init_once);
    return g_init_result;
}

static size_t tag_len(j_srtp_profile p)
{
    switch (p) {
    case J_SRTP_PROFILE_AES128_CM_SHA1_80: return CM_SHA1_80_TAG_LEN;
    case J_SRTP_PROFILE_AEAD_AES_128_GCM: return GCM_TAG_LEN;
    }
    return 0;
}

size_t j_srtp_rtp_overhead(j_srtp_profile p) { return tag_len(p); }

size_t j_srtp_rtcp_overhead(j_srtp_profile p)
{
    size_t t = tag_len(p);
    return t ? t + SRTCP_INDEX_LEN : 0;
}

j_srtp *j_srtp_new(j_srtp_profile p, const uint8_t *key_salt, size_t len, j_srtp_direction dir)
{
    size_t want = j_srtp_profile_key_salt_len(p);
    if (!key_salt || want == 0 || len != want) return NULL;
    if (dir != J_SRTP_INBOUND && dir != J_SRTP_OUTBOUND) return NULL;
    if (j_srtp_global_init() != 0) return NULL;
    j_srtp *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->profile = p;
    s->dir = dir;

    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    if (p == J_SRTP_PROFILE_AEAD_AES_128_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
    }
    pol.ssrc.type = dir == J_SRTP_INBOUND ? ssrc_any_inbound : ssrc_any_outbound;
    uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
    memcpy(key, key_salt, len);
    pol.key = key;
    pol.window_size = J_SRTP_REPLAY_WINDOW;
    /* Outbound: we may legitimately protect the same index twice (a resend). Inbound:
     * repeats are replays. */
    pol.allow_repeat_tx = dir == J_SRTP_OUTBOUND;
    pol.next = NULL;
    srtp_err_status_t st = srtp_create(&s->ctx, &pol);
    memset(key, 0, sizeof key);
    __asm__ __volatile__("" : : "r"(key) : "memory"); /* keep the wipe */
    if (st != srtp_err_status_ok) {
        free(s);
        return NULL;
    }
    return s;
}

void j_srtp_free(j_srtp *s)
{
    if (!s) return;
    srtp_dealloc(s->ctx);
    free(s);
}

static int map_err(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok: return J_OK;
    case srtp_err_status_auth_fail: return J_EAUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old: return J_EREPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err: return J_EMALFORMED;
    case srtp_err_status_key_expired: return J_ELIMIT;
    case srtp_err_status_alloc_fail: return J_ENOMEM;
    default: return J_ECRYPTO;
    }
}

typedef srtp_err_status_t (*srtp_op)(srtp_t, void *, int *);

static int protect(j_srtp *s, uint8_t *buf, size_t len, size_t cap, size_t min_len,
                   size_t overhead, srtp_op op)
{
    if (!s || !buf) return J_EINVAL;
    if (s->dir != J_SRTP_OUTBOUND) return J_ESTATE;
    if (len < min_len) return J_ESHORT;
    if (len > (size_t)INT_MAX - J_SRTP_MAX_TRAILER) return J_ELIMIT;
    if (cap < len + overhead) return J_ESHORTBUF;
    int n = (int)len;
    int rc = map_err(op(s->ctx, buf, &n));
    if (rc != 0) return rc;
    return n;
}

static int unprotect(j_srtp *s, uint8_t *buf, size_t len, size_t min_len, srtp_op op)
{
    if (!s || !buf) return J_EINVAL;
    if (s->dir != J_SRTP_INBOUND) return J_ESTATE;
    if (len < min_len) return J_ESHORT;
    if (len > (size_t)INT_MAX) return J_ELIMIT;
    int n = (int)len;
    int rc = map_err(op(s->ctx, buf, &n));
    if (rc != 0) return rc;
    return n;
}

int j_srtp_protect_rtp(j_srtp *s, uint8_t *buf, size_t len, size_t cap)
{
    return protect(s, buf, len, cap, RTP_HEADER_LEN, s ? j_srtp_rtp_overhead(s->profile) : 0,
                   srtp_protect);
}

int j_srtp_unprotect_rtp(j_srtp *s, uint8_t *buf, size_t len)
{
    return unprotect(s, buf, len,
                     RTP_HEADER_LEN + (s ? j_srtp_rtp_overhead(s->profile) : 0), srtp_unprotect);
}

int j_srtp_protect_rtcp(j_srtp *s, uint8_t *buf, size_t len, size_t cap)
{
    return protect(s, buf, len, cap, RTCP_HEADER_LEN,
                   s ? j_srtp_rtcp_overhead(s->profile) : 0, srtp_protect_rtcp);
}

int j_srtp_unprotect_rtcp(j_srtp *s, uint8_t *buf, size_t len)
{
    return unprotect(s, buf, len,
                     RTCP_HEADER_LEN + (s ? j_srtp_rtcp_overhead(s->profile) : 0),
                     srtp_unprotect_rtcp);
}
