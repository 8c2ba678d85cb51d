/* media.c - the pre-encoded media junction-load sends: IVF (VP8) and Ogg Opus readers, the
 * Opus packet duration, and the RFC 7741 VP8 packetizer. */
#include <string.h>

#include "codec/codec.h"
#include "core/err.h"
#include "load/load.h"

/* Both containers are little-endian. */
static uint16_t rd_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}
static uint64_t rd_le64(const uint8_t *p) { return rd_le32(p) | ((uint64_t)rd_le32(p + 4) << 32); }

/* IVF file header (32 bytes), then per frame a 12-byte header and the frame:
 *
 *   0   "DKIF"           4   version (0)     6   header length (32)
 *   8   fourcc "VP80"   12   width          14   height
 *  16   timebase denominator (rate)         20   timebase numerator (scale)
 *  24   frame count                         28   unused
 *
 *   frame: 0 size (u32)  4 presentation timestamp (u64, in timebase units)
 */
#define IVF_HEADER_LEN 32
#define IVF_FRAME_HEADER_LEN 12

int ivf_reader_init(ivf_reader *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    if (len < IVF_HEADER_LEN) return J_ESHORT;
    if (memcmp(buf, "DKIF", 4) != 0 || rd_le16(buf + 4) != 0) return J_EMALFORMED;
    size_t header_len = rd_le16(buf + 6);
    if (header_len < IVF_HEADER_LEN || header_len > len) return J_EMALFORMED;
    memcpy(r->fourcc, buf + 8, 4);
    r->width = rd_le16(buf + 12);
    r->height = rd_le16(buf + 14);
    r->timebase_den = rd_le32(buf + 16);
    r->timebase_num = rd_le32(buf + 20);
    if (r->timebase_den == 0 || r->timebase_num == 0) return J_EMALFORMED;
    r->buf = buf;
    r->len = len;
    r->off = header_len;
    return J_OK;
}

int ivf_reader_next(ivf_reader *r, const uint8_t **frame, size_t *frame_len, uint64_t *pts)
{
    if (r->off == r->len) return 0;
    if (r->len - r->off < IVF_FRAME_HEADER_LEN) return J_ESHORT;
    const uint8_t *h = r->buf + r->off;
    uint32_t size = rd_le32(h);
    if (size > r->len - r->off - IVF_FRAME_HEADER_LEN) return J_ESHORT;
    if (size == 0) return J_EMALFORMED;
    *pts = rd_le64(h + 4);
    *frame = h + IVF_FRAME_HEADER_LEN;
    *frame_len = size;
    r->off += IVF_FRAME_HEADER_LEN + size;
    return 1;
}

/* Ogg page (RFC 3533 §6):
 *
 *   0  "OggS"   4 version (0)   5 header type (0x01 continued, 0x02 first, 0x04 last)
 *   6  granule position (u64)   14 serial (u32)   18 sequence (u32)   22 CRC (u32)
 *  26  segment count n          27 lacing values (n bytes), then the segments
 *
 * A packet is a run of lacing values ending in one below 255; a page's last value of 255
 * carries the packet on into the next page (whose header type then has 0x01).
 */
#define OGG_PAGE_HEADER_LEN 27

/* Opens the page at r->off: validates it and points the segment cursor at it. */
static int ogg_open_page(ogg_reader *r)
{
    if (r->len - r->off < OGG_PAGE_HEADER_LEN) return J_ESHORT;
    const uint8_t *p = r->buf + r->off;
    if (memcmp(p, "OggS", 4) != 0 || p[4] != 0) return J_EMALFORMED;
    size_t nseg = p[26];
    if (r->len - r->off - OGG_PAGE_HEADER_LEN < nseg) return J_ESHORT;
    size_t body = 0;
    for (size_t i = 0; i < nseg; i++) body += p[OGG_PAGE_HEADER_LEN + i];
    if (r->len - r->off - OGG_PAGE_HEADER_LEN - nseg < body) return J_ESHORT;
    r->page = p;
    r->seg_count = nseg;
    r->seg_index = 0;
    r->seg_data = r->off + OGG_PAGE_HEADER_LEN + nseg;
    r->off = r->seg_data + body;
    r->page_continued = (p[5] & 0x01) != 0;
    r->granule = rd_le64(p + 6);
    return J_OK;
}

int ogg_reader_init(ogg_reader *r, const uint8_t *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->len = len;
    int rc = ogg_open_page(r);
    if (rc == J_OK && r->page_continued) return J_EMALFORMED; /* nothing to continue */
    return rc;
}

int ogg_reader_next(ogg_reader *r, uint8_t *out, size_t cap, size_t *out_len, uint64_t *granule)
{
    size_t n = 0;
    bool in_packet = false;
    for (;;) {
        if (r->seg_index == r->seg_count) {
            if (r->off == r->len) {
                if (in_packet) return J_ESHORT; /* the last packet never ended */
                return 0;
            }
            int rc = ogg_open_page(r);
            if (rc != J_OK) return rc;
            /* A continued page must continue a packet, and only a continued page may. */
            if (r->page_continued != in_packet) return J_EMALFORMED;
            continue;
        }
        size_t seg = r->page[OGG_PAGE_HEADER_LEN + r->seg_index];
        if (seg > cap - n) return J_ESHORTBUF;
        memcpy(out + n, r->buf + r->seg_data, seg);
        n += seg;
        r->seg_data += seg;
        r->seg_index++;
        in_packet = true;
        if (seg < 255) break;
    }
    *out_len = n;
    *granule = r->granule;
    return 1;
}

/* RFC 6716 §3.1: the TOC byte's config (5 bits) gives the frame duration, its code (2 bits)
 * the frame count (code 3: the next byte's low 6 bits). */
int opus_packet_samples(const uint8_t *pkt, size_t len)
{
    if (len < 1) return J_ESHORT;
    unsigned config = pkt[0] >> 3;
    /* Frame sizes at 48 kHz: SILK 10/20/40/60 ms, hybrid 10/20 ms, CELT 2.5/5/10/20 ms. */
    static const uint16_t silk[4] = {480, 960, 1920, 2880};
    static const uint16_t celt[4] = {120, 240, 480, 960};
    unsigned frame;
    if (config < 12)
        frame = silk[config & 3];
    else if (config < 16)
        frame = (config & 1) ? 960 : 480;
    else
        frame = celt[config & 3];
    unsigned count;
    switch (pkt[0] & 3) {
    case 0: count = 1; break;
    case 1:
    case 2: count = 2; break;
    default:
        if (len < 2) return J_ESHORT;
        count = pkt[1] & 0x3f;
        if (count == 0) return J_EMALFORMED;
    }
    /* §3.4 [R5]: at most 120 ms per packet. */
    if (frame * count > 5760) return J_EMALFORMED;
    return (int)(frame * count);
}

void vp8_packetizer_init(vp8_packetizer *p, const uint8_t *frame, size_t len,
                         uint16_t picture_id, size_t max_payload)
{
    p->frame = frame;
    p->len = len;
    p->off = 0;
    p->picture_id = picture_id & 0x7fff;
    p->max_payload = max_payload;
}

int vp8_packetizer_next(vp8_packetizer *p, uint8_t *out, size_t cap, bool *last)
{
    if (p->off == p->len) return 0;
    vp8_descriptor d = {.start_of_partition = p->off == 0, .has_picture_id = true,
                        .picture_id_15bit = true, .picture_id = p->picture_id};
    size_t room = p->max_payload < cap ? p->max_payload : cap;
    int n = vp8_descriptor_write(&d, out, room);
    if (n < 0) return n;
    if ((size_t)n >= room) return J_ESHORTBUF;
    /* Equal-sized packets rather than full ones and a runt: fewer bytes per packet at the
     * same count, like browsers' packetizers. */
    size_t space = room - (size_t)n;
    size_t left = p->len - p->off;
    size_t packets = (left + space - 1) / space;
    size_t chunk = (left + packets - 1) / packets;
    memcpy(out + n, p->frame + p->off, chunk);
    p->off += chunk;
    *last = p->off == p->len;
    return n + (int)chunk;
}
