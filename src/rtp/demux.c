/* demux.c - RFC 7983 first-byte demultiplexing of one UDP socket shared by
 * STUN, DTLS, SRTP and SRTCP.
 */
#include "rtp/rtp.h"

/* RFC 7983 §7 (updating RFC 5764 §5.1.2), by the value B of the first byte:
 *
 *                  +----------------+
 *                  |        [0..3] -+--> STUN
 *                  |      [16..19] -+--> ZRTP         (unknown here)
 *     packet -->   |      [20..63] -+--> DTLS
 *                  |      [64..79] -+--> TURN Channel (unknown here)
 *                  |    [128..191] -+--> RTP/RTCP
 *                  +----------------+
 *
 * RTP and RTCP are then split by the second byte (RFC 5761 §4): RTCP packet
 * types 192..223 put 64..95 in its low seven bits, the same range that RTP
 * payload types must avoid when the two share a port.
 */
j_packet_kind j_demux(const uint8_t *buf, size_t len)
{
    if (len == 0) return J_PACKET_UNKNOWN;
    uint8_t b = buf[0];
    if (b <= 3) return J_PACKET_STUN;
    if (b >= 20 && b <= 63) return J_PACKET_DTLS;
    if (b >= 128 && b <= 191) {
        if (len < 2) return J_PACKET_UNKNOWN;
        uint8_t pt = buf[1] & 0x7f;
        return (pt >= 64 && pt <= 95) ? J_PACKET_RTCP : J_PACKET_RTP;
    }
    return J_PACKET_UNKNOWN;
}

const char *j_packet_kind_name(j_packet_kind kind)
{
    switch (kind) {
    case J_PACKET_STUN: return "stun";
    case J_PACKET_DTLS: return "dtls";
    case J_PACKET_RTP: return "rtp";
    case J_PACKET_RTCP: return "rtcp";
    case J_PACKET_UNKNOWN: break;
    }
    return "unknown";
}
