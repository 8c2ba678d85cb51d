/* srtp_bench.c - ns per packet to protect and to unprotect a 1200-byte RTP packet, for every
 * profile, with our transform (j_srtp, OpenSSL EVP) and with libsrtp2 in the same run.
 *
 *   build/bench/srtp_bench [rounds]        (see docs/BENCHMARKS.md)
 *
 * Each round times a batch of packets (copied into place before the clock starts); the
 * table shows the median round, which shrugs off the noise of a shared machine. A last table
 * shows why a session keeps its EVP_CIPHER_CTX: re-keying per packet versus only setting
 * the IV.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <srtp2/srtp.h>

#include "core/bytes.h"
#include "srtp/srtp.h"

#define PAYLOAD_LEN 1188 /* + 12-byte header = 1200 */
#define PACKET_LEN 1200
#define SLOT_LEN (PACKET_LEN + J_SRTP_MAX_TRAILER)
#define BATCH 256
#define DEFAULT_ROUNDS 200
#define SSRC 0x5EED5EEDu

typedef enum { OP_PROTECT, OP_UNPROTECT } op;

/* One implementation behind a common face. */
typedef struct {
    const char *name;
    void *(*open)(j_srtp_profile p, const uint8_t *key, j_srtp_direction dir);
    int (*protect)(void *s, uint8_t *buf, size_t len, size_t cap);
    int (*unprotect)(void *s, uint8_t *buf, size_t len);
    void (*close)(void *s);
} impl;

static void *ours_open(j_srtp_profile p, const uint8_t *key, j_srtp_direction dir)
{
    return j_srtp_new(p, key, j_srtp_profile_key_salt_len(p), dir, J_SRTP_MAX_STREAMS);
}

static int ours_protect(void *s, uint8_t *buf, size_t len, size_t cap)
{
    return j_srtp_protect_rtp(s, buf, len, cap);
}

static int ours_unprotect(void *s, uint8_t *buf, size_t len)
{
    return j_srtp_unprotect_rtp(s, buf, len);
}

static void ours_close(void *s) { j_srtp_free(s); }

static void *lib_open(j_srtp_profile p, const uint8_t *key, j_srtp_direction dir)
{
    srtp_policy_t pol;
    memset(&pol, 0, sizeof pol);
    switch (p) {
    case J_SRTP_PROFILE_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
        break;
    case J_SRTP_PROFILE_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
        break;
    case J_SRTP_PROFILE_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&pol.rtp);
        break;
    }
    pol.rtcp = pol.rtp;
    pol.ssrc.type = dir == J_SRTP_OUTBOUND ? ssrc_any_outbound : ssrc_any_inbound;
    uint8_t copy[J_SRTP_MAX_KEY_SALT_LEN];
    memcpy(copy, key, j_srtp_profile_key_salt_len(p));
    pol.key = copy;
    pol.window_size = J_SRTP_REPLAY_WINDOW;
    pol.allow_repeat_tx = dir == J_SRTP_OUTBOUND;
    srtp_t s = NULL;
    return srtp_create(&s, &pol) == srtp_err_status_ok ? s : NULL;
}

static int lib_protect(void *s, uint8_t *buf, size_t len, size_t cap)
{
    (void)cap;
    int n = (int)len;
    return srtp_protect(s, buf, &n) == srtp_err_status_ok ? n : -1;
}

static int lib_unprotect(void *s, uint8_t *buf, size_t len)
{
    int n = (int)len;
    return srtp_unprotect(s, buf, &n) == srtp_err_status_ok ? n : -1;
}

static void lib_close(void *s) { srtp_dealloc(s); }

static const impl k_ours = {"junction", ours_open, ours_protect, ours_unprotect, ours_close};
static const impl k_libsrtp = {"libsrtp2", lib_open, lib_protect, lib_unprotect, lib_close};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void die(const char *what)
{
    fprintf(stderr, "srtp_bench: %s failed\n", what);
    exit(1);
}

static void make_packet(uint8_t *buf, uint16_t seq)
{
    buf[0] = 0x80;
    buf[1] = 96;
    wr_be16(buf + 2, seq);
    wr_be32(buf + 4, (uint32_t)seq * 3000u);
    wr_be32(buf + 8, SSRC);
    for (size_t i = 0; i < PAYLOAD_LEN; i++) buf[12 + i] = (uint8_t)(i * 31 + seq);
}

/* Median ns per packet of op over rounds of BATCH packets. Protect: one sender, sequence
 * numbers running on. Unprotect: each round a fresh receiver (its stream created by one
 * untimed packet) reads the batch a sender protected. */
static double measure(const impl *im, j_srtp_profile p, op what, int rounds)
{
    uint8_t key[J_SRTP_MAX_KEY_SALT_LEN];
    for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(i * 5 + 1);
    static uint8_t sealed[BATCH][SLOT_LEN], work[BATCH][SLOT_LEN];
    int sealed_len[BATCH];
    double *per_round = calloc((size_t)rounds, sizeof *per_round);
    void *tx = im->open(p, key, J_SRTP_OUTBOUND);
    if (!per_round || !tx) die("setup");
    uint16_t seq = 1;
    for (int r = 0; r < rounds; r++) {
        void *rx = NULL;
        if (what == OP_UNPROTECT) {
            for (int i = 0; i < BATCH; i++) {
                make_packet(sealed[i], seq++);
                sealed_len[i] = im->protect(tx, sealed[i], PACKET_LEN, SLOT_LEN);
                if (sealed_len[i] <= 0) die("protect");
            }
            rx = im->open(p, key, J_SRTP_INBOUND);
            if (!rx || im->unprotect(rx, sealed[0], (size_t)sealed_len[0]) != PACKET_LEN)
                die("unprotect");
        }
        for (int i = 0; i < BATCH; i++) {
            if (what == OP_PROTECT)
                make_packet(work[i], seq++);
            else
                memcpy(work[i], sealed[i], (size_t)sealed_len[i]);
        }
        int first = what == OP_UNPROTECT ? 1 : 0; /* packet 0 created the stream */
        uint64_t start = now_ns();
        for (int i = first; i < BATCH; i++) {
            int n = what == OP_PROTECT
                        ? im->protect(tx, work[i], PACKET_LEN, SLOT_LEN)
                        : im->unprotect(rx, work[i], (size_t)sealed_len[i]);
            if (n <= 0) die(what == OP_PROTECT ? "protect" : "unprotect");
        }
        per_round[r] = (double)(now_ns() - start) / (BATCH - first);
        if (rx) im->close(rx);
    }
    im->close(tx);
    double m = median(per_round, (size_t)rounds);
    free(per_round);
    return m;
}

/* ns per packet to encrypt 1200 bytes with AES-128-GCM when the context is keyed once and
 * each packet only sets its IV (what j_srtp does), versus keying it for every packet. */
static double measure_evp_gcm(int rekey, int rounds)
{
    EVP_CIPHER *gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t key[16] = {1}, iv[12] = {2}, buf[PACKET_LEN] = {3}, tag[16];
    if (!gcm || !c || EVP_EncryptInit_ex2(c, gcm, key, NULL, NULL) != 1) die("EVP setup");
    double *per_round = calloc((size_t)rounds, sizeof *per_round);
    if (!per_round) die("calloc");
    for (int r = 0; r < rounds; r++) {
        uint64_t start = now_ns();
        for (int i = 0; i < BATCH; i++) {
            int n;
            iv[11] = (uint8_t)i;
            if (EVP_EncryptInit_ex2(c, NULL, rekey ? key : NULL, iv, NULL) != 1 ||
                EVP_EncryptUpdate(c, NULL, &n, buf, 12) != 1 ||
                EVP_EncryptUpdate(c, buf + 12, &n, buf + 12, PAYLOAD_LEN) != 1 ||
                EVP_EncryptFinal_ex(c, tag, &n) != 1 ||
                EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1)
                die("EVP");
        }
        per_round[r] = (double)(now_ns() - start) / BATCH;
    }
    EVP_CIPHER_CTX_free(c);
    EVP_CIPHER_free(gcm);
    double m = median(per_round, (size_t)rounds);
    free(per_round);
    return m;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : DEFAULT_ROUNDS;
    if (rounds < 1) {
        fprintf(stderr, "usage: %s [rounds]\n", argv[0]);
        return 2;
    }
    if (srtp_init() != srtp_err_status_ok || j_srtp_global_init() != 0) die("init");
    static const struct {
        j_srtp_profile p;
        const char *name;
    } profiles[] = {{J_SRTP_PROFILE_AES128_CM_SHA1_80, "AES128_CM_SHA1_80"},
                    {J_SRTP_PROFILE_AEAD_AES_128_GCM, "AEAD_AES_128_GCM"},
                    {J_SRTP_PROFILE_AEAD_AES_256_GCM, "AEAD_AES_256_GCM"}};
    printf("SRTP, 1200-byte RTP packet, median of %d rounds x %d packets, ns/packet\n\n", rounds,
           BATCH);
    printf("| profile | operation | %s | %s | libsrtp2 / junction |\n", k_ours.name,
           k_libsrtp.name);
    printf("|---|---|---:|---:|---:|\n");
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        for (op what = OP_PROTECT; what <= OP_UNPROTECT; what++) {
            double ours = measure(&k_ours, profiles[i].p, what, rounds);
            double lib = measure(&k_libsrtp, profiles[i].p, what, rounds);
            printf("| %s | %s | %.0f | %.0f | %.2fx |\n", profiles[i].name,
                   what == OP_PROTECT ? "protect" : "unprotect", ours, lib, lib / ours);
        }
    }
    double reuse = measure_evp_gcm(0, rounds), rekey = measure_evp_gcm(1, rounds);
    printf("\nEVP AES-128-GCM, 1200 bytes: IV only %.0f ns, re-keyed per packet %.0f ns "
           "(%.2fx)\n",
           reuse, rekey, rekey / reuse);
    srtp_shutdown();
    return 0;
}
